import { Command, ErrorCode, ParleyError, pb } from '@parley/protocol';
import type { DeviceRef } from '../bus/types.js';
import type { ServerContext } from '../context.js';
import type { Session } from '../session/session.js';

const MAX_USERS_PER_CALL = 500;

/**
 * Online/offline status of users, visible to users who share a conversation with them.
 * Sessions subscribe to users; the first login and the last logout of a user notify them.
 */
/** Users whose last-seen time this node keeps in memory (the Redis bus keeps its own). */
const LAST_SEEN_CAP = 100_000;

export class PresenceService {
  readonly #subscribers = new Map<string, Set<Session>>();
  /** Last logout per user, newest last; capped so a node that saw millions of users stays bounded. */
  readonly #lastSeen = new Map<string, number>();

  constructor(private readonly ctx: ServerContext) {}

  sessionStarted(session: Session, first: boolean): void {
    this.ctx.bus.deviceOnline(deviceOf(session));
    if (first) {
      this.#notify(session.userId);
      this.ctx.bus.presenceChanged(session.userId);
    }
  }

  /** The session's app went to the background or came back: the cluster's push decisions follow it. */
  appStateChanged(session: Session): void {
    this.ctx.bus.deviceOnline(deviceOf(session));
  }

  /** A followed user's presence changed on another node: tell this node's followers. */
  changedElsewhere(userId: string): void {
    this.#notify(userId);
  }

  #rememberLastSeen(userId: string, at: number): void {
    // Re-inserting moves the user to the newest end, so eviction drops the longest-gone first.
    this.#lastSeen.delete(userId);
    this.#lastSeen.set(userId, at);
    if (this.#lastSeen.size > LAST_SEEN_CAP) {
      const oldest = this.#lastSeen.keys().next();
      if (!oldest.done) this.#lastSeen.delete(oldest.value);
    }
  }

  sessionEnded(session: Session, last: boolean): void {
    if (session.presenceSubscriptions) {
      for (const userId of session.presenceSubscriptions) this.#unsubscribe(session, userId);
      session.presenceSubscriptions = undefined;
    }
    this.ctx.bus.deviceOffline(deviceOf(session), last);
    if (last) {
      this.#rememberLastSeen(session.userId, Date.now());
      this.#notify(session.userId);
      this.ctx.bus.presenceChanged(session.userId);
    }
  }

  async query(viewer: string, userIds: readonly string[]): Promise<pb.PresenceStatus.$Properties[]> {
    const ids = await this.#visible(viewer, userIds);
    return Promise.all(ids.map((id) => this.status(id)));
  }

  async subscribe(
    session: Session,
    userIds: readonly string[],
    unsubscribe: boolean,
  ): Promise<pb.PresenceStatus.$Properties[]> {
    if (unsubscribe) {
      for (const id of userIds) {
        session.presenceSubscriptions?.delete(id);
        this.#unsubscribe(session, id);
      }
      return [];
    }
    const ids = await this.#visible(session.userId, userIds);
    const subs = (session.presenceSubscriptions ??= new Set());
    for (const id of ids) {
      subs.add(id);
      let set = this.#subscribers.get(id);
      if (!set) {
        this.#subscribers.set(id, (set = new Set()));
        this.ctx.bus.watchPresence(id, true);
      }
      set.add(session);
    }
    return Promise.all(ids.map((id) => this.status(id)));
  }

  async status(userId: string): Promise<pb.PresenceStatus.$Properties> {
    const sessions = this.ctx.registry.sessionsOf(userId);
    // The bus answers for the whole cluster (this node's sessions included).
    const cluster = await this.ctx.bus.presence(userId);
    const online = sessions.length > 0 || cluster.online;
    return {
      userId,
      online,
      lastSeen: online ? Date.now() : Math.max(this.#lastSeen.get(userId) ?? 0, cluster.lastSeen),
      platforms: [...new Set([...sessions.map((s) => s.platform), ...cluster.platforms])],
    };
  }

  async #visible(viewer: string, userIds: readonly string[]): Promise<string[]> {
    if (userIds.length > MAX_USERS_PER_CALL) {
      throw new ParleyError(ErrorCode.INVALID_ARGUMENT, `at most ${String(MAX_USERS_PER_CALL)} users per call`);
    }
    const out: string[] = [];
    for (const id of new Set(userIds)) {
      if (id === viewer || (await this.ctx.store.shareConversation(viewer, id))) out.push(id);
      else throw new ParleyError(ErrorCode.PERMISSION_DENIED, `you share no conversation with ${id}`);
    }
    return out;
  }

  #unsubscribe(session: Session, userId: string): void {
    const set = this.#subscribers.get(userId);
    if (!set) return;
    set.delete(session);
    if (set.size === 0) {
      this.#subscribers.delete(userId);
      this.ctx.bus.watchPresence(userId, false);
    }
  }

  #notify(userId: string): void {
    const set = this.#subscribers.get(userId);
    if (!set || set.size === 0) return;
    void this.status(userId).then((user) => {
      const frame = this.ctx.codec.push(Command.PRESENCE, { user });
      for (const s of set) s.sendFrame(frame);
    });
  }
}

function deviceOf(session: Session): DeviceRef {
  return {
    userId: session.userId,
    deviceId: session.deviceId,
    platform: session.platform,
    sessionId: session.id,
    background: session.appState === pb.AppState.BACKGROUND,
  };
}
