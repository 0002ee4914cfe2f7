import { createHash } from 'node:crypto';
import { Command, ErrorCode, ParleyError, pb } from '@parley/protocol';
import { ulid } from 'ulid';
import { validId } from '../auth/tokens.js';
import type { ServerContext } from '../context.js';
import type { ConversationRecord, ConversationState, MemberRecord } from '../store/types.js';
import { stateToPb } from './mapping.js';
import type { Sender } from './messages.js';

const { MEMBER, ADMIN, OWNER } = pb.MemberRole;
const MAX_NAME = 200;
const MAX_ATTRIBUTES = 16 * 1024;
/** The sender of changes made by the app's server through the admin API. */
const APP_SERVER: Sender = { userId: '', deviceId: '' };

/** The id of the 1:1 conversation of two users: the same whichever of them asks. */
export function directConversationId(a: string, b: string): string {
  const [x, y] = a < b ? [a, b] : [b, a];
  return `d_${createHash('sha256').update(`${x}\u0000${y}`).digest('base64url').slice(0, 27)}`;
}

/**
 * Conversations and their members, with the role rules:
 * - owner: everything, including roles and handing over ownership;
 * - admin: add and remove members, mute members, rename; not other admins or the owner;
 * - member: send, read, leave.
 * Every membership change is recorded as a SYSTEM message in the conversation, so every
 * device learns it in order, and the users concerned get a CONVERSATION push.
 */
export class ConversationService {
  constructor(private readonly ctx: ServerContext) {}

  async create(
    creator: Sender,
    type: pb.ConversationType,
    memberIds: readonly string[],
    name: string,
    attributes: string,
  ): Promise<{ state: ConversationState; created: boolean }> {
    checkText(name, attributes);
    const others = unique(memberIds).filter((id) => id !== creator.userId);
    for (const id of others) if (!validId(id)) throw invalid('member ids must be 1 to 128 characters');
    const now = Date.now();
    if (type === pb.ConversationType.DIRECT) {
      const [peer] = others;
      if (peer === undefined || others.length !== 1)
        throw invalid('a DIRECT conversation has exactly one other member');
      const { created } = await this.ctx.store.createConversation({
        id: directConversationId(creator.userId, peer),
        type,
        name: '',
        attributes: '',
        ownerId: '',
        members: [
          { userId: creator.userId, role: MEMBER },
          { userId: peer, role: MEMBER },
        ],
        now,
      });
      return { state: await this.stateFor(directConversationId(creator.userId, peer), creator.userId), created };
    }
    if (type !== pb.ConversationType.GROUP) throw invalid('create DIRECT or GROUP conversations; rooms are joined');
    if (others.length + 1 > this.ctx.config.limits.memberCap) {
      throw new ParleyError(
        ErrorCode.MEMBER_LIMIT,
        `a group holds at most ${String(this.ctx.config.limits.memberCap)} members`,
      );
    }
    const { conversation } = await this.ctx.store.createConversation({
      id: `g_${ulid()}`,
      type,
      name,
      attributes,
      ownerId: creator.userId,
      members: [{ userId: creator.userId, role: OWNER }, ...others.map((userId) => ({ userId, role: MEMBER }))],
      now,
    });
    await this.#system(creator, conversation, {
      type: pb.SystemEventType.CONVERSATION_CREATED,
      actor: creator.userId,
      users: others,
    });
    return { state: await this.stateFor(conversation.id, creator.userId), created: true };
  }

  /** The caller's state in a conversation it belongs (or belonged) to. */
  async stateFor(conversationId: string, userId: string): Promise<ConversationState> {
    const state = await this.ctx.store.getConversationState(conversationId, userId);
    if (!state) throw new ParleyError(ErrorCode.NOT_FOUND, 'no such conversation');
    return state;
  }

  /** The conversation, if the user is an active member; NOT_FOUND / NOT_MEMBER otherwise. */
  async requireMember(
    conversationId: string,
    userId: string,
  ): Promise<{ conversation: ConversationRecord; member: MemberRecord }> {
    const conversation = await this.ctx.store.getConversation(conversationId);
    if (!conversation) throw new ParleyError(ErrorCode.NOT_FOUND, 'no such conversation');
    const member = await this.ctx.store.getMember(conversationId, userId);
    if (!member || member.removed) throw new ParleyError(ErrorCode.NOT_MEMBER, 'not a member of this conversation');
    return { conversation, member };
  }

  async update(
    actor: Sender,
    conversationId: string,
    name: string | undefined,
    attributes: string | undefined,
  ): Promise<ConversationState> {
    const { conversation } = await this.#requireGroupRole(conversationId, actor.userId, ADMIN);
    checkText(name ?? '', attributes ?? '');
    await this.ctx.store.updateConversation(
      conversationId,
      { ...(name !== undefined ? { name } : {}), ...(attributes !== undefined ? { attributes } : {}) },
      Date.now(),
    );
    await this.#system(actor, conversation, { type: pb.SystemEventType.CONVERSATION_UPDATED, actor: actor.userId });
    return this.stateFor(conversationId, actor.userId);
  }

  async addMembers(
    actor: Sender,
    conversationId: string,
    userIds: readonly string[],
  ): Promise<{ changed: string[]; seq: number }> {
    const { conversation } = await this.#requireGroupRole(conversationId, actor.userId, ADMIN);
    return this.#add(actor, conversation, userIds);
  }

  /** Adds members for the app's server (admin API): no role check; groups only. */
  async addMembersAsServer(
    conversationId: string,
    userIds: readonly string[],
  ): Promise<{ changed: string[]; seq: number }> {
    return this.#add(APP_SERVER, await this.#requireGroup(conversationId), userIds);
  }

  /**
   * Removes members for the app's server (admin API): anyone, the owner included (ownership
   * then passes as when the owner leaves); groups only.
   */
  async removeMembersAsServer(
    conversationId: string,
    userIds: readonly string[],
  ): Promise<{ changed: string[]; seq: number }> {
    const conversation = await this.#requireGroup(conversationId);
    const ids = unique(userIds);
    if (ids.length === 0) throw invalid('name at least one user');
    if (conversation.ownerId && ids.includes(conversation.ownerId))
      await this.#handOver(conversation, conversation.ownerId, ids);
    const removed = await this.ctx.store.removeMembers(conversationId, ids, Date.now());
    if (removed.length === 0) return { changed: [], seq: 0 };
    const { seq } = await this.#system(
      APP_SERVER,
      conversation,
      { type: pb.SystemEventType.MEMBERS_REMOVED, actor: '', users: removed },
      removed,
    );
    await this.#pushState(conversationId, removed);
    return { changed: removed, seq };
  }

  async #add(
    actor: Sender,
    conversation: ConversationRecord,
    userIds: readonly string[],
  ): Promise<{ changed: string[]; seq: number }> {
    const conversationId = conversation.id;
    const ids = unique(userIds);
    if (ids.length === 0) throw invalid('name at least one user');
    for (const id of ids) if (!validId(id)) throw invalid('member ids must be 1 to 128 characters');
    const added = await this.ctx.store.addMembers(
      conversationId,
      ids.map((userId) => ({ userId, role: MEMBER })),
      this.ctx.config.limits.memberCap,
      Date.now(),
    );
    if (added.length === 0) return { changed: [], seq: 0 };
    const { seq } = await this.#system(actor, conversation, {
      type: pb.SystemEventType.MEMBERS_ADDED,
      actor: actor.userId,
      users: added,
    });
    return { changed: added, seq };
  }

  async removeMembers(
    actor: Sender,
    conversationId: string,
    userIds: readonly string[],
  ): Promise<{ changed: string[]; seq: number }> {
    const { conversation, member } = await this.#requireGroupRole(conversationId, actor.userId, ADMIN);
    const ids = unique(userIds).filter((id) => id !== actor.userId);
    if (ids.length === 0) throw invalid('name at least one other user (use leave to leave)');
    for (const id of ids) {
      const target = await this.ctx.store.getMember(conversationId, id);
      if (target && !target.removed && target.role >= member.role) {
        throw new ParleyError(
          ErrorCode.PERMISSION_DENIED,
          'only the owner removes admins, and nobody removes the owner',
        );
      }
    }
    const removed = await this.ctx.store.removeMembers(conversationId, ids, Date.now());
    if (removed.length === 0) return { changed: [], seq: 0 };
    const { seq } = await this.#system(
      actor,
      conversation,
      { type: pb.SystemEventType.MEMBERS_REMOVED, actor: actor.userId, users: removed },
      removed,
    );
    await this.#pushState(conversationId, removed);
    return { changed: removed, seq };
  }

  async leave(actor: Sender, conversationId: string): Promise<void> {
    const { conversation, member } = await this.requireMember(conversationId, actor.userId);
    if (conversation.type !== pb.ConversationType.GROUP)
      throw new ParleyError(ErrorCode.UNSUPPORTED, 'only groups can be left');
    if (member.role === OWNER) await this.#handOver(conversation, actor.userId);
    await this.ctx.store.removeMembers(conversationId, [actor.userId], Date.now());
    await this.#system(
      actor,
      conversation,
      { type: pb.SystemEventType.MEMBER_LEFT, actor: actor.userId, users: [actor.userId] },
      [actor.userId],
    );
    await this.#pushState(conversationId, [actor.userId]);
  }

  async setRole(actor: Sender, conversationId: string, userId: string, role: pb.MemberRole): Promise<void> {
    const { conversation } = await this.#requireGroupRole(conversationId, actor.userId, OWNER);
    if (role !== MEMBER && role !== ADMIN && role !== OWNER) throw invalid('role must be MEMBER, ADMIN or OWNER');
    if (userId === actor.userId) throw invalid('the owner hands over ownership by making another member OWNER');
    const target = await this.ctx.store.getMember(conversationId, userId);
    if (!target || target.removed) throw new ParleyError(ErrorCode.NOT_FOUND, 'no such member');
    if (role === OWNER) {
      await this.ctx.store.updateMember(conversationId, actor.userId, { role: ADMIN });
      await this.ctx.store.updateConversation(conversationId, { ownerId: userId }, Date.now());
    }
    await this.ctx.store.updateMember(conversationId, userId, { role });
    await this.#system(actor, conversation, {
      type: pb.SystemEventType.ROLE_CHANGED,
      actor: actor.userId,
      users: [userId],
      role,
    });
    await this.#pushState(conversationId, role === OWNER ? [userId, actor.userId] : [userId]);
  }

  async speakMute(actor: Sender, conversationId: string, userId: string, until: number): Promise<void> {
    const { conversation, member } = await this.#requireGroupRole(conversationId, actor.userId, ADMIN);
    const target = await this.ctx.store.getMember(conversationId, userId);
    if (!target || target.removed) throw new ParleyError(ErrorCode.NOT_FOUND, 'no such member');
    if (target.role >= member.role) throw new ParleyError(ErrorCode.PERMISSION_DENIED, 'admins mute members only');
    await this.ctx.store.updateMember(conversationId, userId, { speakMutedUntil: Math.max(0, until) });
    await this.#system(actor, conversation, {
      type: pb.SystemEventType.MEMBER_SPEAK_MUTED,
      actor: actor.userId,
      users: [userId],
    });
  }

  async muteNotifications(actor: Sender, conversationId: string, muted: boolean, until: number): Promise<void> {
    await this.requireMember(conversationId, actor.userId);
    await this.ctx.store.updateMember(conversationId, actor.userId, {
      notificationsMuted: muted,
      mutedUntil: muted ? Math.max(0, until) : 0,
    });
    await this.#pushState(conversationId, [actor.userId]);
  }

  /** A NOTICE from the app's server (admin API), as a SYSTEM message. */
  async notice(conversationId: string, text: string): Promise<{ seq: number; messageId: string }> {
    const conversation = await this.ctx.store.getConversation(conversationId);
    if (!conversation) throw new ParleyError(ErrorCode.NOT_FOUND, 'no such conversation');
    if (!text || text.length > 4000) throw invalid('notice text must be 1 to 4000 characters');
    const r = await this.#system(APP_SERVER, conversation, { type: pb.SystemEventType.NOTICE, text });
    return { seq: r.seq, messageId: r.messageId };
  }

  async #requireGroup(conversationId: string): Promise<ConversationRecord> {
    const conversation = await this.ctx.store.getConversation(conversationId);
    if (!conversation) throw new ParleyError(ErrorCode.NOT_FOUND, 'no such conversation');
    if (conversation.type !== pb.ConversationType.GROUP) {
      throw new ParleyError(ErrorCode.UNSUPPORTED, 'members and roles apply to groups only');
    }
    return conversation;
  }

  async #requireGroupRole(conversationId: string, userId: string, least: pb.MemberRole) {
    const found = await this.requireMember(conversationId, userId);
    if (found.conversation.type !== pb.ConversationType.GROUP) {
      throw new ParleyError(ErrorCode.UNSUPPORTED, 'members and roles apply to groups only');
    }
    if (found.member.role < least) throw new ParleyError(ErrorCode.PERMISSION_DENIED, 'your role does not allow this');
    return found;
  }

  /** The owner is leaving: the longest-standing admin, else member, becomes owner. */
  async #handOver(conversation: ConversationRecord, ownerId: string, leaving: readonly string[] = []): Promise<void> {
    let best: MemberRecord | undefined;
    let after = '';
    for (;;) {
      const page = await this.ctx.store.listMembers(conversation.id, after, 500);
      for (const m of page) {
        if (m.userId === ownerId || leaving.includes(m.userId)) continue;
        if (!best || m.role > best.role || (m.role === best.role && m.joinedAt < best.joinedAt)) best = m;
      }
      const last = page.at(-1);
      if (page.length < 500 || !last) break;
      after = last.userId;
    }
    if (!best) return;
    await this.ctx.store.updateMember(conversation.id, best.userId, { role: OWNER });
    await this.ctx.store.updateConversation(conversation.id, { ownerId: best.userId }, Date.now());
  }

  #system(
    actor: Sender,
    conversation: ConversationRecord,
    event: pb.SystemEvent.$Properties,
    extraRecipients: readonly string[] = [],
  ) {
    return this.ctx.messages.sendAsServer(
      actor,
      conversation,
      { type: pb.MessageType.SYSTEM, system: event },
      extraRecipients,
    );
  }

  async #pushState(conversationId: string, userIds: readonly string[]): Promise<void> {
    for (const userId of userIds) {
      const state = await this.ctx.store.getConversationState(conversationId, userId);
      if (state)
        this.ctx.bus.sendToUsers([userId], this.ctx.codec.push(Command.CONVERSATION, { state: stateToPb(state) }));
    }
  }
}

function unique(ids: readonly string[]): string[] {
  return [...new Set(ids)];
}

function checkText(name: string, attributes: string): void {
  if (name.length > MAX_NAME) throw invalid(`name is longer than ${String(MAX_NAME)} characters`);
  if (attributes.length > MAX_ATTRIBUTES) throw invalid('attributes are too large');
  if (attributes) {
    try {
      JSON.parse(attributes);
    } catch {
      throw invalid('attributes must be JSON text');
    }
  }
}

function invalid(message: string): ParleyError {
  return new ParleyError(ErrorCode.INVALID_ARGUMENT, message);
}
