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
