import type { Command } from '@parley/protocol';
import { memberToPb, stateToPb } from '../services/mapping.js';
import type { Session } from '../session/session.js';
import type { Handler } from './dispatch.js';

const actor = (s: Session) => ({ userId: s.userId, deviceId: s.deviceId, sessionId: s.id });

export const create: Handler<typeof Command.CONV_CREATE> = async (session, req) => {
  const { state, created } = await session.ctx.conversations.create(
    actor(session),
    req.type,
    req.memberIds,
    req.name,
    req.attributes,
  );
  return { state: stateToPb(state), created };
};

export const get: Handler<typeof Command.CONV_GET> = async (session, req) => {
  const state = await session.ctx.conversations.stateFor(req.conversationId, session.userId);
  return { state: stateToPb(state), created: false };
};

export const list: Handler<typeof Command.CONV_LIST> = async (session, req) => {
  const limit = Math.min(req.limit || 50, session.ctx.config.limits.pageLimit);
  const page = await session.ctx.store.listConversations(session.userId, req.cursor, limit);
  return { conversations: page.items.map(stateToPb), nextCursor: page.nextCursor };
};

export const update: Handler<typeof Command.CONV_UPDATE> = async (session, req) => {
  const state = await session.ctx.conversations.update(
    actor(session),
    req.conversationId,
    req.name ?? undefined,
    req.attributes ?? undefined,
  );
  return { state: stateToPb(state), created: false };
};

export const membersList: Handler<typeof Command.MEMBERS_LIST> = async (session, req) => {
  const { ctx } = session;
  await ctx.conversations.requireMember(req.conversationId, session.userId);
  const limit = Math.min(req.limit || 100, ctx.config.limits.pageLimit);
  const rows = await ctx.store.listMembers(req.conversationId, req.cursor, limit + 1);
  const page = rows.slice(0, limit);
  return { members: page.map(memberToPb), nextCursor: rows.length > limit ? (page.at(-1)?.userId ?? '') : '' };
};

export const membersAdd: Handler<typeof Command.MEMBERS_ADD> = async (session, req) => {
  const r = await session.ctx.conversations.addMembers(actor(session), req.conversationId, req.userIds);
  return { changed: r.changed, systemSeq: r.seq };
};

export const membersRemove: Handler<typeof Command.MEMBERS_REMOVE> = async (session, req) => {
  const r = await session.ctx.conversations.removeMembers(actor(session), req.conversationId, req.userIds);
  return { changed: r.changed, systemSeq: r.seq };
};

export const leave: Handler<typeof Command.CONV_LEAVE> = async (session, req) => {
  await session.ctx.conversations.leave(actor(session), req.conversationId);
  return {};
};

export const role: Handler<typeof Command.MEMBER_ROLE> = async (session, req) => {
  await session.ctx.conversations.setRole(actor(session), req.conversationId, req.userId, req.role);
  return {};
};

export const speakMute: Handler<typeof Command.MEMBER_SPEAK_MUTE> = async (session, req) => {
  await session.ctx.conversations.speakMute(actor(session), req.conversationId, req.userId, req.until);
  return {};
};

export const mute: Handler<typeof Command.CONV_MUTE> = async (session, req) => {
  await session.ctx.conversations.muteNotifications(actor(session), req.conversationId, req.muted, req.until);
  return {};
};
