import type { Command } from '@parley/protocol';
import type { Handler } from './dispatch.js';

export const roomJoin: Handler<typeof Command.ROOM_JOIN> = async (session, req) => {
  return session.ctx.rooms.join(session, req.roomId, req.joinToken, req.recentLimit);
};

export const roomLeave: Handler<typeof Command.ROOM_LEAVE> = (session, req) => {
  session.ctx.rooms.leave(session, req.roomId);
  return {};
};

export const presenceQuery: Handler<typeof Command.PRESENCE_QUERY> = async (session, req) => {
  return { users: await session.ctx.presence.query(session.userId, req.userIds) };
};

export const presenceSubscribe: Handler<typeof Command.PRESENCE_SUBSCRIBE> = async (session, req) => {
  return { users: await session.ctx.presence.subscribe(session, req.userIds, req.unsubscribe) };
};
