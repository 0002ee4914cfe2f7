import { Command, ErrorCode, ParleyError, pb } from '@parley/protocol';
import { newUlid } from '../ids.js';
import { validId } from '../auth/tokens.js';
import type { ServerContext } from '../context.js';
import type { ConversationRecord, MemberRecord, StoredMessage } from '../store/types.js';
import { messageToPb } from './mapping.js';

export interface Sender {
  userId: string;
  deviceId: string;
  /** The sending session, which gets the ack and not the push. */
  sessionId?: string;
  /**
   * Called once the message's append is queued for group commit (not when it fails before):
   * the session's next SEND may start then, and its append lands after this one.
   */
  queued?: (() => void) | undefined;
}

export interface SendResult {
  messageId: string;
  seq: number;
  serverTime: number;
  duplicate: boolean;
}

const MAX_MENTIONS = 100;
const MAX_ATTACHMENTS = 20;
const MAX_CLIENT_ID = 64;

/**
 * The durable message path: validate, ask the app's hook, append through group commit,
 * then push the stored message to every member's live sessions. The ack a caller returns is
 * built from the store's answer, so it goes out only after the write is durable.
 */
export class MessageService {
  constructor(private readonly ctx: ServerContext) {}

  /**
   * A member's message: checks membership, speak-mute, content and size. `member` is the
   * sender's membership when the caller has just read it (the SEND handler's requireMember),
   * which saves a second store read per message; otherwise it is read here.
   */
  async send(
    sender: Sender,
    conversation: ConversationRecord,
    clientMessageId: string,
    content: pb.MessageContent.$Properties,
    member?: MemberRecord,
  ): Promise<SendResult> {
    if (!clientMessageId || clientMessageId.length > MAX_CLIENT_ID) {
      throw invalid(`client_message_id must be 1 to ${String(MAX_CLIENT_ID)} characters`);
    }
    validateContent(content);
    member ??= await this.ctx.store.getMember(conversation.id, sender.userId);
    if (!member || member.removed) throw new ParleyError(ErrorCode.NOT_MEMBER, 'not a member of this conversation');
    if (member.speakMutedUntil > Date.now() && member.role === pb.MemberRole.MEMBER) {
      throw new ParleyError(ErrorCode.SPEAK_MUTED, 'an admin muted you in this conversation');
    }
    let finalContent = content;
    if (this.ctx.webhooks.beforeSendEnabled) {
      const decision = await this.ctx.webhooks.beforeSend({
        conversationId: conversation.id,
        conversationType: conversation.type,
        senderId: sender.userId,
        senderDeviceId: sender.deviceId,
        clientMessageId,
        content,
      });
      if (decision.action === 'reject') throw new ParleyError(ErrorCode.HOOK_REJECTED, decision.reason);
      if (decision.content) {
        validateContent(decision.content);
        finalContent = decision.content;
      }
    }
    return this.#append(sender, conversation, clientMessageId, finalContent);
  }

  /** A server-made message (SYSTEM, RECALL): no membership or hook checks. */
  async sendAsServer(
    sender: Sender,
    conversation: ConversationRecord,
    content: pb.MessageContent.$Properties,
    extraRecipients: readonly string[] = [],
  ): Promise<SendResult> {
    return this.#append(sender, conversation, `srv-${newUlid()}`, content, extraRecipients);
  }

  async #append(
    sender: Sender,
    conversation: ConversationRecord,
    clientMessageId: string,
    content: pb.MessageContent.$Properties,
    extraRecipients: readonly string[] = [],
  ): Promise<SendResult> {
    const bytes = pb.MessageContent.encode(content).finish();
    if (bytes.length > this.ctx.config.limits.maxMessageBytes) {
      throw new ParleyError(
        ErrorCode.MESSAGE_TOO_LARGE,
        `message of ${String(bytes.length)} bytes exceeds the limit of ${String(this.ctx.config.limits.maxMessageBytes)}`,
      );
    }
    const appended = this.ctx.commits.append({
      conversationId: conversation.id,
      messageId: newUlid(),
      senderId: sender.userId,
      senderDeviceId: sender.deviceId,
      clientMessageId,
      serverTime: Date.now(),
      type: content.type ?? pb.MessageType.MESSAGE_TYPE_UNSPECIFIED,
      content: bytes,
      mentions: content.mentions ?? [],
      ...(content.type === pb.MessageType.RECALL ? { recallTargetSeq: content.recallTargetSeq ?? 0 } : {}),
    });
    sender.queued?.();
    const result = await appended;
    if (!result.ok) throw new ParleyError(result.code, result.message);
    this.ctx.metrics.messagesAcked.inc({ duplicate: String(result.duplicate) });
    if (!result.duplicate) {
      await this.#fanOut(
        result.message,
        conversation.type,
        result.conversationVersion,
        sender.sessionId,
        extraRecipients,
      );
      // Devices without a live foreground link get a notification from the push queue; the
      // ack waits until it is queued durably, so an acked message never loses its push.
      await this.ctx.push.messageStored(result.message, conversation.type, content.mentions ?? []);
    } else {
      await this.ctx.push.messageResent(result.message, conversation.type, content.mentions ?? []);
    }
    const m = result.message;
    return { messageId: m.messageId, seq: m.seq, serverTime: m.serverTime, duplicate: result.duplicate };
  }

  async #fanOut(
    message: StoredMessage,
    type: pb.ConversationType,
    conversationVersion: number,
    exceptSessionId: string | undefined,
    extraRecipients: readonly string[],
  ): Promise<void> {
    const wire = messageToPb(message, type);
    const frame = this.ctx.codec.push(Command.MESSAGE, { message: wire, conversationVersion });
    const members = await this.ctx.store.listMemberIds(message.conversationId);
    const recipients = extraRecipients.length > 0 ? new Set([...members, ...extraRecipients]) : members;
    this.ctx.bus.sendToUsers(recipients, frame, exceptSessionId);
    this.ctx.webhooks.afterSend(wire);
  }
}

/** Checks a client's content: allowed type, required parts, counts and formats. */
export function validateContent(content: pb.MessageContent.$Properties): void {
  const type = content.type ?? pb.MessageType.MESSAGE_TYPE_UNSPECIFIED;
  switch (type) {
    case pb.MessageType.TEXT:
      if (!content.text) throw invalid('a TEXT message needs text');
      break;
    case pb.MessageType.CUSTOM:
      try {
        JSON.parse(content.custom ?? '');
      } catch {
        throw invalid('a CUSTOM message needs `custom` to be JSON text');
      }
      break;
    case pb.MessageType.ATTACHMENT: {
      const attachments = content.attachments ?? [];
      if (attachments.length === 0 || attachments.length > MAX_ATTACHMENTS) {
        throw invalid(`an ATTACHMENT message needs 1 to ${String(MAX_ATTACHMENTS)} attachments`);
      }
      for (const a of attachments) {
        if (!isHttpUrl(a.url ?? '')) throw invalid('attachment url must be an http(s) URL');
        if (a.thumbnailUrl && !isHttpUrl(a.thumbnailUrl)) throw invalid('thumbnail url must be an http(s) URL');
      }
      break;
    }
    default:
      throw invalid('message type must be TEXT, CUSTOM or ATTACHMENT');
  }
  const mentions = content.mentions ?? [];
  if (mentions.length > MAX_MENTIONS) throw invalid(`at most ${String(MAX_MENTIONS)} mentions`);
  for (const m of mentions) if (m !== '@all' && !validId(m)) throw invalid('mentions must be user ids or "@all"');
  if (content.system || content.recallTargetSeq) throw invalid('system and recall fields are set by the server');
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

function invalid(message: string): ParleyError {
  return new ParleyError(ErrorCode.INVALID_ARGUMENT, message);
}
