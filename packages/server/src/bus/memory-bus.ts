import type { SessionRegistry } from '../session/registry.js';
import type { Bus } from './types.js';

/** The single-node bus: every session lives in this process's registry. */
export class MemoryBus implements Bus {
  constructor(private readonly registry: SessionRegistry) {}

  sendToUsers(userIds: Iterable<string>, frame: Uint8Array, exceptSessionId?: string): void {
    for (const userId of userIds) {
      for (const session of this.registry.sessionsOf(userId)) {
        if (session.id !== exceptSessionId) session.sendFrame(frame);
      }
    }
  }

  isOnline(userId: string): Promise<boolean> {
    return Promise.resolve(this.registry.isOnline(userId));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
