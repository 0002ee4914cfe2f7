import { pb } from '@parley/protocol';
import type { ServerContext } from '../context.js';
import { type Session, SessionState } from '../session/session.js';
import { SyncHints } from './sync-hints.js';
import type { LocalNode, NodeStats, SessionInfo } from './types.js';

/** Delivery into this node's sessions and services, for the bus to call. */
export function localNode(
  ctx: ServerContext,
  /** Every open connection's session, logged in or not (the sweeper's). */
  open: { sessions(): Iterable<Session> },
  startedAt = Date.now(),
): LocalNode {
  const info = (s: Session): SessionInfo => ({
    nodeId: ctx.bus.nodeId,
    sessionId: s.id,
    deviceId: s.deviceId,
    platform: s.platform,
    transport: s.connection.transport,
    openedAt: s.openedAt,
  });
  const syncHints = new SyncHints(ctx);
  return {
    deliverToUsers(userIds, frame, exceptSessionId) {
      for (const userId of userIds) {
        for (const session of ctx.registry.sessionsOf(userId)) {
          if (session.id !== exceptSessionId) session.sendFrame(frame);
        }
      }
    },
    deliverToRoom(roomId, message, exceptSessionId) {
      ctx.rooms.deliverFromCluster(roomId, message, exceptSessionId);
    },
    presenceChanged(userId) {
      ctx.presence.changedElsewhere(userId);
    },
    kick(userId, match, before, reason, message) {
      for (const session of [...ctx.registry.sessionsOf(userId)]) {
        if (session.openedAt > before) continue;
        const hit =
          'deviceId' in match
            ? session.deviceId === match.deviceId
            : session.platform === match.platform && session.platform !== pb.Platform.WEB;
        // Closing ends the session the usual way (registry, presence, rooms).
        if (hit) session.kick(reason, message);
      }
    },
    kickSessions(target, reason, message) {
      const hits = ctx.registry
        .sessionsOf(target.userId)
        .filter(
          (s) =>
            (target.deviceId === undefined || s.deviceId === target.deviceId) &&
            (target.sessionId === undefined || s.id === target.sessionId),
        );
      for (const s of hits) s.kick(reason, message);
      if (hits.length > 0) {
        ctx.logger.info({ user: target.userId, device: target.deviceId, kicked: hits.length }, 'admin kick');
      }
      return hits.length;
    },
    stats(): NodeStats {
      let connections = 0;
      const connectionsByTransport: Record<string, number> = {};
      for (const s of open.sessions()) {
        // The sweeper forgets closed sessions at its next tick.
        if (s.state === SessionState.Closed) continue;
        connections++;
        const t = s.connection.transport;
        connectionsByTransport[t] = (connectionsByTransport[t] ?? 0) + 1;
      }
      return {
        nodeId: ctx.bus.nodeId,
        startedAt,
        connections,
        connectionsByTransport,
        sessions: ctx.registry.sessionCount,
        usersOnline: ctx.registry.userCount,
        rooms: ctx.rooms.roomCount,
      };
    },
    userSessions(userId) {
      return ctx.registry.sessionsOf(userId).map(info);
    },
    busRecovered() {
      syncHints.busRecovered();
    },
    peerRecovered() {
      syncHints.peerRecovered();
    },
  };
}
