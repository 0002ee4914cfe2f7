import type { Command } from '@parley/protocol';
import { messageToPb, stateToPb } from '../services/mapping.js';
import type { Session } from '../session/session.js';
import type { Handler } from './dispatch.js';

function pageLimit(session: Session, asked: number): number {
  const max = session.ctx.config.limits.pageLimit;
  return asked > 0 ? Math.min(asked, max) : Math.min(100, max);
}

export const syncConversations: Handler<typeof Command.SYNC_CONVERSATIONS> = async (session, req) => {
  const page = await session.ctx.store.syncConversations(
    session.userId,
    req.sinceVersion,
    pageLimit(session, req.limit),
  );
  return { conversations: page.items.map(stateToPb), version: page.version, hasMore: page.hasMore };
};

export const syncMessages: Handler<typeof Command.SYNC_MESSAGES> = async (session, req) => {
  const { ctx } = session;
  const { conversation } = await ctx.conversations.requireMember(req.conversationId, session.userId);
  const limit = pageLimit(session, req.limit);
  const rows = await ctx.store.getMessages(conversation.id, Math.max(1, req.fromSeq), req.toSeq, limit + 1);
  return {
    messages: rows.slice(0, limit).map((m) => messageToPb(m, conversation.type)),
    hasMore: rows.length > limit,
    lastSeq: conversation.lastSeq,
  };
};

export const history: Handler<typeof Command.HISTORY> = async (session, req) => {
  const { ctx } = session;
  const { conversation } = await ctx.conversations.requireMember(req.conversationId, session.userId);
  const limit = pageLimit(session, req.limit);
  const rows = await ctx.store.getHistory(conversation.id, req.beforeSeq, limit + 1);
  return { messages: rows.slice(0, limit).map((m) => messageToPb(m, conversation.type)), hasMore: rows.length > limit };
};
