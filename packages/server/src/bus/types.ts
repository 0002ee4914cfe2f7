/**
 * Routes frames to users' live sessions wherever they are connected. The in-process adapter
 * serves one node; the Redis adapter (cluster mode) adds presence and per-node channels.
 */
export interface Bus {
  /**
   * Queues `frame` to every live session of each user, except the session whose id is
   * `exceptSessionId` (the sender's own, which gets an ack instead).
   */
  sendToUsers(userIds: Iterable<string>, frame: Uint8Array, exceptSessionId?: string): void;
  /** Whether the user has a live session anywhere. */
  isOnline(userId: string): Promise<boolean>;
  close(): Promise<void>;
}
