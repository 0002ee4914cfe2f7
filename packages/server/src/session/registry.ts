import type { Session } from './session.js';

/**
 * The logged-in sessions on this node, by user and by device. The bus consults it to reach
 * a user's devices; login consults it to replace a device's older session.
 */
export class SessionRegistry {
  readonly #byUser = new Map<string, Session[]>();
  readonly #byDevice = new Map<string, Session>();

  get userCount(): number {
    return this.#byUser.size;
  }

  get sessionCount(): number {
    return this.#byDevice.size;
  }

  /** Adds a session; returns the session that held the same device before, if any. */
  add(session: Session): Session | undefined {
    const key = deviceKey(session.userId, session.deviceId);
    const previous = this.#byDevice.get(key);
    if (previous) this.remove(previous);
    this.#byDevice.set(key, session);
    const list = this.#byUser.get(session.userId);
    if (list) list.push(session);
    else this.#byUser.set(session.userId, [session]);
    return previous;
  }

  /** Removes a session; returns true when it was the user's last one on this node. */
  remove(session: Session): boolean {
    const key = deviceKey(session.userId, session.deviceId);
    if (this.#byDevice.get(key) === session) this.#byDevice.delete(key);
    const list = this.#byUser.get(session.userId);
    if (!list) return false;
    const i = list.indexOf(session);
    if (i === -1) return false;
    list.splice(i, 1);
    if (list.length > 0) return false;
    this.#byUser.delete(session.userId);
    return true;
  }

  sessionsOf(userId: string): readonly Session[] {
    return this.#byUser.get(userId) ?? [];
  }

  isOnline(userId: string): boolean {
    return this.#byUser.has(userId);
  }

  all(): IterableIterator<Session> {
    return this.#byDevice.values();
  }
}

function deviceKey(userId: string, deviceId: string): string {
  return `${userId}\u0000${deviceId}`;
}
