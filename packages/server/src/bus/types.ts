import type { ErrorCode, pb } from '@parley/protocol';

/**
 * Routes frames to users' live sessions wherever they are connected. The in-process adapter
 * (MemoryBus) serves one node; the Redis adapter (cluster mode) adds presence in Redis and
 * per-node channels. Every method that routes delivers to this node's sessions at once,
 * whatever the state of the cluster, and never throws: a cluster outage only narrows
 * delivery to local devices (acked messages are durable and reach the rest at sync).
 */
export interface Bus {
  /** This node's id (config `nodeId`). */
  readonly nodeId: string;

  /** Whether other nodes may exist (a cluster bus): admin answers then report per node. */
  readonly clustered: boolean;

  /**
   * Connects the bus to this node's sessions. Resolves once the bus is ready to route, or
   * after a bounded wait if its backing service is down (it keeps retrying in the background).
   */
  start(local: LocalNode): Promise<void>;

  /**
   * Queues `frame` to every live session of each user, except the session whose id is
   * `exceptSessionId` (the sender's own, which gets an ack instead).
   */
  sendToUsers(userIds: Iterable<string>, frame: Uint8Array, exceptSessionId?: string): void;

  // Presence ----------------------------------------------------------------------------

  /**
   * A device logged in on this node, or its app went to the background or came back (the
   * device is announced again with its new state).
   */
  deviceOnline(device: DeviceRef): void;
  /** A device's session on this node ended. A later session of the same device is left alone. */
  deviceOffline(device: DeviceRef, lastOfUser: boolean): void;
  /** Whether the user has a live session anywhere. */
  isOnline(userId: string): Promise<boolean>;
  /** The user's devices across the cluster (this node's included). */
  presence(userId: string): Promise<ClusterPresence>;
  /**
   * Per user, the devices holding a live session somewhere in the cluster (this node's
   * included) with the app in the foreground: those need no push notification. When the
   * cluster cannot be asked, only this node's devices are known, and the rest get a push.
   */
  foregroundDevices(userIds: readonly string[]): Promise<Map<string, Set<string>>>;
  /** This node's sessions began or stopped following `userId`'s presence. */
  watchPresence(userId: string, watching: boolean): void;
  /** The user came online or went offline on this node: tell the nodes that follow the user. */
  presenceChanged(userId: string): void;
  /**
   * Ends the user's sessions on other nodes that match (same device, or same platform), which
   * started before `before` (ms since epoch): one device or platform replaced by a new login.
   */
  kickElsewhere(userId: string, match: KickMatch, before: number, reason: ErrorCode, message: string): void;

  // Chat rooms --------------------------------------------------------------------------

  /** This node now has `localCount` sessions in the room (0: none, stop routing it here). */
  roomMembers(roomId: string, localCount: number): void;
  /** Online counts of the rooms on the other nodes (rooms with none are absent). */
  remoteRoomCounts(roomIds: readonly string[]): Promise<Map<string, number>>;
  /** The room's next message seq, above `floor` (the highest this node has seen). */
  nextRoomSeq(roomId: string, floor: number): Promise<number>;
  /** A room message (pb.Message bytes) to the other nodes that have members in the room. */
  sendToRoom(roomId: string, message: Uint8Array, exceptSessionId: string): void;

  // Admin operations on live sessions ---------------------------------------------------

  /**
   * Ends the sessions that match `target` (KICK with `reason`) on this node and on every node
   * holding one of the user's devices, as presence tells. Waits at most `timeoutMs` for the
   * other nodes' counts; never throws: nodes that do not answer in time are listed in
   * `missing`, and a cluster that cannot be asked sets `unavailable` (this node's count stands).
   */
  kickSessions(
    target: SessionTarget,
    reason: ErrorCode,
    message: string,
    timeoutMs: number,
  ): Promise<ClusterAnswers<number>>;
  /**
   * The counts of every live node (this one included), asked over the bus with the same
   * bounded wait and the same reporting of silent nodes as `kickSessions`.
   */
  nodeStats(timeoutMs: number): Promise<ClusterAnswers<NodeStats>>;
  /** The user's live sessions on every node holding one of the user's devices (bounded wait, as above). */
  userSessions(userId: string, timeoutMs: number): Promise<ClusterAnswers<SessionInfo[]>>;

  close(): Promise<void>;
}

/** What the bus delivers into: this node's sessions and services. */
export interface LocalNode {
  deliverToUsers(userIds: Iterable<string>, frame: Uint8Array, exceptSessionId?: string): void;
  /** A room message from another node (pb.Message bytes). */
  deliverToRoom(roomId: string, message: Uint8Array, exceptSessionId: string): void;
  /** A followed user's presence changed on another node. */
  presenceChanged(userId: string): void;
  kick(userId: string, match: KickMatch, before: number, reason: ErrorCode, message: string): void;
  /** Admin kick of this node's matching sessions; returns how many were ended. */
  kickSessions(target: SessionTarget, reason: ErrorCode, message: string): number;
  /** This node's counts. */
  stats(): NodeStats;
  /** The user's logged-in sessions on this node. */
  userSessions(userId: string): SessionInfo[];
  /**
   * The bus routes again after an outage (and this node is announced and subscribed again):
   * cross-node pushes to this node's sessions may have been skipped meanwhile, so tell them
   * to sync.
   */
  busRecovered(): void;
  /**
   * Another node's bus came back after an outage: its pushes to this node's sessions may have
   * been skipped, so tell them to sync (unless a spread of hints began within the window).
   */
  peerRecovered(): void;
}

/** Which logged-in sessions an admin kick ends: all of a user's, one device's, or one session. */
export interface SessionTarget {
  userId: string;
  deviceId?: string;
  sessionId?: string;
}

/** One node's counts, for the admin API. */
export interface NodeStats {
  nodeId: string;
  /** When the node started (ms since epoch). */
  startedAt: number;
  /** Open connections, logged in or not. */
  connections: number;
  /** Open connections per transport (`tcp`, `tls`, `ws`; transports without any are absent). */
  connectionsByTransport: Record<string, number>;
  /** Logged-in sessions. */
  sessions: number;
  /** Users with at least one session on the node. */
  usersOnline: number;
  /** Live chat rooms with members on the node. */
  rooms: number;
}

/** One logged-in session, for the admin API. */
export interface SessionInfo {
  nodeId: string;
  sessionId: string;
  deviceId: string;
  platform: pb.Platform;
  transport: string;
  /** When the connection opened (ms since epoch). */
  openedAt: number;
}

/** What the nodes asked by a cluster-wide admin operation answered. */
export interface ClusterAnswers<T> {
  /** One entry per node that answered; this node's always comes first. */
  answers: { nodeId: string; value: T }[];
  /** Nodes asked that gave no answer within the timeout (hung, overloaded or just died). */
  missing: MissingNode[];
  /** The other nodes could not be asked (Redis down): `answers` holds this node's alone. */
  unavailable: boolean;
}

export interface MissingNode {
  nodeId: string;
  /** When the node started and last refreshed its entries (ms since epoch; 0 = unknown). */
  startedAt: number;
  lastSeen: number;
}

export interface DeviceRef {
  userId: string;
  deviceId: string;
  platform: pb.Platform;
  sessionId: string;
  /** The app reported it is in the background (SESSION_UPDATE app_state); absent = foreground. */
  background?: boolean;
}

export type KickMatch = { deviceId: string } | { platform: pb.Platform };

export interface ClusterPresence {
  online: boolean;
  platforms: pb.Platform[];
  /** When the user's last session anywhere ended (0 = unknown or online). */
  lastSeen: number;
}
