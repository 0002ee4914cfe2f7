import { type ErrorCode, pb } from '@parley/protocol';
import type { SessionRegistry } from '../session/registry.js';
import type {
  Bus,
  ClusterAnswers,
  ClusterPresence,
  LocalNode,
  NodeStats,
  SessionInfo,
  SessionTarget,
} from './types.js';

/** The single-node bus: every session lives in this process's registry. */
export class MemoryBus implements Bus {
  readonly clustered = false;
  #local: LocalNode | undefined;

  constructor(
    private readonly registry: SessionRegistry,
    readonly nodeId = 'local',
  ) {}

  start(local: LocalNode): Promise<void> {
    this.#local = local;
    return Promise.resolve();
  }

  sendToUsers(userIds: Iterable<string>, frame: Uint8Array, exceptSessionId?: string): void {
    this.#local?.deliverToUsers(userIds, frame, exceptSessionId);
  }

  deviceOnline(): void {
    // The registry is the presence of a single node.
  }

  deviceOffline(): void {
    // As above.
  }

  isOnline(userId: string): Promise<boolean> {
    return Promise.resolve(this.registry.isOnline(userId));
  }

  presence(userId: string): Promise<ClusterPresence> {
    const sessions = this.registry.sessionsOf(userId);
    return Promise.resolve({
      online: sessions.length > 0,
      platforms: [...new Set(sessions.map((s) => s.platform))],
      lastSeen: 0,
    });
  }

  foregroundDevices(userIds: readonly string[]): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    for (const userId of userIds) {
      const devices = this.registry
        .sessionsOf(userId)
        .filter((s) => s.appState !== pb.AppState.BACKGROUND)
        .map((s) => s.deviceId);
      if (devices.length > 0) out.set(userId, new Set(devices));
    }
    return Promise.resolve(out);
  }

  watchPresence(): void {
    // Every watcher is local.
  }

  presenceChanged(): void {
    // Local watchers are notified by the presence service itself.
  }

  kickElsewhere(): void {
    // There is no elsewhere.
  }

  roomMembers(): void {
    // Rooms live in this process only.
  }

  remoteRoomCounts(): Promise<Map<string, number>> {
    return Promise.resolve(new Map<string, number>());
  }

  nextRoomSeq(_roomId: string, floor: number): Promise<number> {
    return Promise.resolve(floor + 1);
  }

  sendToRoom(): void {
    // No other node has members.
  }

  kickSessions(target: SessionTarget, reason: ErrorCode, message: string): Promise<ClusterAnswers<number>> {
    return this.#alone(this.#node().kickSessions(target, reason, message));
  }

  nodeStats(): Promise<ClusterAnswers<NodeStats>> {
    return this.#alone(this.#node().stats());
  }

  userSessions(userId: string): Promise<ClusterAnswers<SessionInfo[]>> {
    return this.#alone(this.#node().userSessions(userId));
  }

  #node(): LocalNode {
    if (!this.#local) throw new Error('the bus is not started');
    return this.#local;
  }

  /** This node's answer is the whole cluster's. */
  #alone<T>(value: T): Promise<ClusterAnswers<T>> {
    return Promise.resolve({ answers: [{ nodeId: this.nodeId, value }], missing: [], unavailable: false });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
