import { pb } from '@parley/protocol';
import type { ServerContext } from '../context.js';
import type { LocalNode } from './types.js';

/** Delivery into this node's sessions and services, for the bus to call. */
export function localNode(ctx: ServerContext): LocalNode {
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
  };
}
