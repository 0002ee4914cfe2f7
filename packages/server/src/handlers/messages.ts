import { Command, ErrorCode, ParleyError, pb } from '@parley/protocol';
import { newUlid } from '../ids.js';
import type { Session } from '../session/session.js';
import { validateContent } from '../services/messages.js';
import type { Handler } from './dispatch.js';

export const send: Handler<typeof Command.SEND> = async (session, req) => {
  const { ctx } = session;
  // Taken before the first await: it releases this session's next SEND (see dispatch.ts).
  const sender = {
    userId: session.userId,
    deviceId: session.deviceId,
    sessionId: session.id,
    queued: session.sendQueued,
  };
  session.sendQueued = undefined;
  const content = req.content ?? {};
  if (ctx.rooms.isRoom(req.conversationId)) {
    return ctx.rooms.send(session, req.conversationId, req.clientMessageId, content);
  }
  const started = performance.now();
  const { conversation, member } = await ctx.conversations.requireMember(req.conversationId, session.userId);
  if (req.transient) return sendTransient(session, conversation.id, conversation.type, req.clientMessageId, content);
  const result = await ctx.messages.send(sender, conversation, req.clientMessageId, content, member);
  ctx.metrics.ackLatency.observe((performance.now() - started) / 1000);
  return result;
};

/** Delivered to online devices only; nothing is stored and no seq is used. */
async function sendTransient(
  session: Session,
  conversationId: string,
  conversationType: pb.ConversationType,
  clientMessageId: string,
  content: pb.MessageContent.$Properties,
) {
  const { ctx } = session;
  validateContent(content);
  const message = {
    conversationId,
    messageId: newUlid(),
    senderId: session.userId,
    senderDeviceId: session.deviceId,
    clientMessageId,
    serverTime: Date.now(),
    content,
    conversationType,
  };
  const frame = ctx.codec.push(Command.MESSAGE, { message });
  ctx.bus.sendToUsers(await ctx.store.listMemberIds(conversationId), frame, session.id);
  return { messageId: message.messageId, seq: 0, serverTime: message.serverTime, duplicate: false };
}

export const recall: Handler<typeof Command.RECALL> = async (session, req) => {
  const { ctx } = session;
  const { conversation, member } = await ctx.conversations.requireMember(req.conversationId, session.userId);
  const target = await ctx.store.getMessage(conversation.id, req.seq);
  if (!target) throw new ParleyError(ErrorCode.NOT_FOUND, 'no message with that seq');
  if (target.type === pb.MessageType.SYSTEM || target.type === pb.MessageType.RECALL) {
    throw new ParleyError(ErrorCode.UNSUPPORTED, 'system and recall messages cannot be recalled');
  }
  const isAdmin = conversation.type === pb.ConversationType.GROUP && member.role >= pb.MemberRole.ADMIN;
  if (target.senderId !== session.userId && !isAdmin) {
    throw new ParleyError(ErrorCode.PERMISSION_DENIED, 'only the sender or a group admin recalls a message');
  }
  if (target.recalled) throw new ParleyError(ErrorCode.ALREADY_EXISTS, 'already recalled');
  if (target.senderId === session.userId && Date.now() - target.serverTime > ctx.config.limits.recallWindowMs) {
    throw new ParleyError(ErrorCode.RECALL_WINDOW_PASSED, 'the message is too old to recall');
  }
  const result = await ctx.messages.sendAsServer(
    { userId: session.userId, deviceId: session.deviceId, sessionId: session.id },
    conversation,
    { type: pb.MessageType.RECALL, recallTargetSeq: target.seq },
  );
  return { recallSeq: result.seq };
};

export const cursor: Handler<typeof Command.CURSOR> = async (session, req) => {
  const { ctx } = session;
  const kind =
    req.kind === pb.CursorKind.READ ? 'read' : req.kind === pb.CursorKind.DELIVERED ? 'delivered' : undefined;
  if (!kind) throw new ParleyError(ErrorCode.INVALID_ARGUMENT, 'kind must be DELIVERED or READ');
  const { conversation } = await ctx.conversations.requireMember(req.conversationId, session.userId);
  const result = await ctx.store.updateCursor(conversation.id, session.userId, kind, req.seq);
  if (result.moved) {
    const frame = ctx.codec.push(Command.CURSOR, {
      conversationId: conversation.id,
      userId: session.userId,
      kind: req.kind,
      seq: result.seq,
      conversationVersion: result.version,
    });
    // Receipts reach every member in small conversations; in large ones only the user's
    // own other devices (so read state follows the user), not thousands of members.
    const everyone = conversation.memberCount <= ctx.config.limits.receiptFanoutMaxMembers;
    const recipients = everyone ? await ctx.store.listMemberIds(conversation.id) : [session.userId];
    ctx.bus.sendToUsers(recipients, frame, session.id);
  }
  return { seq: result.seq, unread: result.unread };
};

export const typing: Handler<typeof Command.TYPING> = async (session, req) => {
  const { ctx } = session;
  const { conversation } = await ctx.conversations.requireMember(req.conversationId, session.userId);
  if (conversation.memberCount <= ctx.config.limits.receiptFanoutMaxMembers) {
    const frame = ctx.codec.push(Command.TYPING, {
      conversationId: conversation.id,
      userId: session.userId,
      typing: req.typing,
    });
    const others = (await ctx.store.listMemberIds(conversation.id)).filter((id) => id !== session.userId);
    ctx.bus.sendToUsers(others, frame);
  }
  return {};
};
