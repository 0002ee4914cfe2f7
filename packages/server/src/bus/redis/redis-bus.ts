import { type ErrorCode, pb } from '@parley/protocol';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics.js';
import type {
  Bus,
  ClusterAnswers,
  ClusterPresence,
  DeviceRef,
  KickMatch,
  LocalNode,
  NodeStats,
  SessionInfo,
  SessionTarget,
} from '../types.js';
import { Announcements } from './announcements.js';
import { ClusterAdmin } from './cluster-admin.js';
import { type Envelope, decodeEnvelope, encodeEnvelope } from './envelope.js';
import {
  ClusterKeys,
  LAST_SEEN_TTL_S,
  deviceField,
  isPlatform,
  liveFields,
  parseDeviceData,
  parseDeviceField,
} from './keys.js';
import { Reaper } from './reaper.js';
import { RedisLink } from './redis-link.js';

export interface RedisBusOptions {
  /** redis://[user:pass@]host:port[/db] or rediss://... */
  url: string;
  nodeId: string;
  keyPrefix: string;
  /** Lifetime of this node's entries without a refresh; refreshed every third of it. */
  presenceTtlMs: number;
  logger: Logger;
  metrics: Metrics;
  /** Longest wait at start for Redis before serving without it. Default 5 s. */
  startTimeoutMs?: number;
}

/** A room's shared seq counter outlives quiet spells of this length. */
const ROOM_SEQ_TTL_MS = 24 * 3600 * 1000;
/** Commands per pipeline when re-announcing everything. */
const REFRESH_CHUNK = 500;

// The room's next seq, never at or below the floor the caller has already seen (after a Redis
// restart the counter starts again from nothing; clients drop room seqs they have passed).
const ROOM_SEQ_SCRIPT = `
local v = redis.call('INCR', KEYS[1])
local floor = tonumber(ARGV[1])
if v <= floor then
  v = floor + 1
  redis.call('SET', KEYS[1], v)
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return v`;

/**
 * The cluster bus over Redis: presence as per-user hashes of `node|device` fields with
 * expiry, one pub/sub channel per node, rooms as per-room hashes of node counts. See
 * "Cluster routing" in docs/architecture.md for keys, TTLs and failure behaviour.
 *
 * Local sessions are always served directly, before and whatever Redis does. A fan-out looks
 * up the recipients' nodes in one pipeline and publishes one envelope per other node, naming
 * that node's recipients; the node expands it to their sessions.
 */
export class RedisBus implements Bus {
  readonly nodeId: string;
  readonly clustered = true;
  readonly #keys: ClusterKeys;
  readonly #channel: string;
  readonly #ttl: number;
  readonly #link: RedisLink;
  readonly #announced: Announcements;
  readonly #reaper: Reaper;
  readonly #admin: ClusterAdmin;
  readonly #metrics: Metrics;
  readonly #logger: Logger;
  #local: LocalNode | undefined;
  #refreshTimer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;
  #refreshAgain = false;

  constructor(private readonly options: RedisBusOptions) {
    this.nodeId = options.nodeId;
    this.#keys = new ClusterKeys(options.keyPrefix);
    this.#channel = this.#keys.channel(options.nodeId);
    this.#ttl = options.presenceTtlMs;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#announced = new Announcements(this.#keys, this.nodeId, this.#ttl, Date.now());
    this.#link = new RedisLink({
      url: options.url,
      nodeId: options.nodeId,
      logger: options.logger,
      metrics: options.metrics,
      onReady: (afterOutage) => {
        // First connect, or Redis is back (maybe restarted empty): write everything again.
        this.#refresh();
        if (afterOutage) void this.#recovered();
      },
      onMessage: (_channel, message) => {
        this.#receive(message);
      },
    });
    this.#reaper = new Reaper(this.#link, this.#keys, this.nodeId, this.#ttl, (userIds) => {
      // Users of a dead node: tell followers here and on the other nodes.
      for (const userId of userIds) {
        this.#local?.presenceChanged(userId);
        this.presenceChanged(userId);
      }
    });
    this.#admin = new ClusterAdmin({
      link: this.#link,
      keys: this.#keys,
      nodeId: this.nodeId,
      metrics: this.#metrics,
      logger: this.#logger,
      local: () => this.#local,
    });
  }

  async start(local: LocalNode): Promise<void> {
    this.#local = local;
    this.#link.sub.subscribe(this.#channel).catch((err: unknown) => {
      this.#link.failed(err);
    });
    this.#refreshTimer = setInterval(
      () => {
        this.#refresh();
      },
      Math.max(Math.floor(this.#ttl / 3), 100),
    );
    this.#refreshTimer.unref();
    await this.#link.connect(this.options.startTimeoutMs ?? 5_000);
    await this.#subscribed();
    this.#logger.info(
      { node: this.nodeId, prefix: this.options.keyPrefix, redis: this.#link.up },
      'cluster routing over Redis',
    );
  }

  sendToUsers(userIds: Iterable<string>, frame: Uint8Array, exceptSessionId?: string): void {
    const ids = [...new Set(userIds)];
    this.#local?.deliverToUsers(ids, frame, exceptSessionId);
    if (ids.length === 0 || !this.#routable()) return;
    const p = this.#link.cmd.pipeline();
    for (const id of ids) p.hgetall(this.#keys.user(id));
    const now = Date.now();
    p.exec()
      .then((replies) => {
        const byNode = new Map<string, string[]>();
        ids.forEach((userId, i) => {
          for (const nodeId of this.#nodesOfUser(userId, replies?.[i], now)) {
            const list = byNode.get(nodeId);
            if (list) list.push(userId);
            else byNode.set(nodeId, [userId]);
          }
        });
        for (const [nodeId, users] of byNode) {
          this.#publish(nodeId, { kind: 'users', from: this.nodeId, userIds: users, payload: frame });
        }
      })
      .catch((err: unknown) => {
        this.#link.failed(err);
      });
  }

  // Presence ----------------------------------------------------------------------------

  deviceOnline(device: DeviceRef): void {
    this.#announced.addDevice(device);
    if (!this.#link.up) return;
    const p = this.#link.cmd.pipeline();
    this.#announced.writeDevice(p, device, Date.now());
    this.#exec(p);
  }

  deviceOffline(device: DeviceRef, lastOfUser: boolean): void {
    const removed = this.#announced.removeDevice(device);
    if (!this.#link.up) return;
    const p = this.#link.cmd.pipeline();
    if (removed) p.hdel(this.#keys.user(device.userId), deviceField(this.nodeId, device.deviceId));
    if (removed && !this.#announced.hasUser(device.userId)) {
      p.srem(this.#keys.nodeUsers(this.nodeId), device.userId);
    }
    if (lastOfUser) p.set(this.#keys.lastSeen(device.userId), String(Date.now()), 'EX', LAST_SEEN_TTL_S);
    if (p.length > 0) this.#exec(p);
  }

  async isOnline(userId: string): Promise<boolean> {
    if (this.#announced.hasUser(userId)) return true;
    return (await this.presence(userId)).online;
  }

  async presence(userId: string): Promise<ClusterPresence> {
    const platforms = new Set(this.#announced.platformsOf(userId));
    let lastSeen = 0;
    if (this.#link.up) {
      try {
        const key = this.#keys.user(userId);
        const [hash, seen] = await Promise.all([
          this.#link.cmd.hgetall(key),
          this.#link.cmd.get(this.#keys.lastSeen(userId)),
        ]);
        for (const { field, data } of this.#live(key, hash, Date.now())) {
          if (parseDeviceField(field).nodeId !== this.nodeId) platforms.add(toPlatform(parseDeviceData(data).platform));
        }
        lastSeen = Number(seen ?? 0) || 0;
      } catch (err) {
        this.#link.failed(err);
      }
    }
    const online = platforms.size > 0 || this.#announced.hasUser(userId);
    return { online, platforms: [...platforms], lastSeen: online ? 0 : lastSeen };
  }

  async foregroundDevices(userIds: readonly string[]): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    const add = (userId: string, deviceId: string) => {
      const set = out.get(userId);
      if (set) set.add(deviceId);
      else out.set(userId, new Set([deviceId]));
    };
    const ids = [...new Set(userIds)];
    for (const userId of ids) for (const deviceId of this.#announced.foregroundDevicesOf(userId)) add(userId, deviceId);
    if (ids.length === 0 || !this.#link.up) return out;
    try {
      const p = this.#link.cmd.pipeline();
      for (const id of ids) p.hgetall(this.#keys.user(id));
      const replies = (await p.exec()) ?? [];
      const now = Date.now();
      ids.forEach((userId, i) => {
        for (const { field, data } of this.#live(this.#keys.user(userId), hashOf(replies[i]), now)) {
          const { nodeId, deviceId } = parseDeviceField(field);
          if (nodeId !== this.nodeId && !parseDeviceData(data).background) add(userId, deviceId);
        }
      });
    } catch (err) {
      // Without Redis only this node's devices are known: the others get a push.
      this.#link.failed(err);
    }
    return out;
  }

  watchPresence(userId: string, watching: boolean): void {
    this.#announced.setWatching(userId, watching);
    if (!this.#link.up) return;
    const p = this.#link.cmd.pipeline();
    if (watching) this.#announced.writeWatch(p, userId, Date.now());
    else p.hdel(this.#keys.watchers(userId), this.nodeId);
    this.#exec(p);
  }

  presenceChanged(userId: string): void {
    this.#toNodesIn(this.#keys.watchers(userId), () => ({ kind: 'presence', from: this.nodeId, userId }));
  }

  kickElsewhere(userId: string, match: KickMatch, before: number, reason: ErrorCode, message: string): void {
    if (!this.#routable()) return;
    const key = this.#keys.user(userId);
    this.#link.cmd
      .hgetall(key)
      .then((hash) => {
        const nodes = new Set<string>();
        for (const { field, data } of this.#live(key, hash, Date.now())) {
          const { nodeId, deviceId } = parseDeviceField(field);
          const hit =
            'deviceId' in match
              ? deviceId === match.deviceId
              : toPlatform(parseDeviceData(data).platform) === match.platform;
          if (hit && nodeId !== this.nodeId) nodes.add(nodeId);
        }
        for (const nodeId of nodes) {
          this.#publish(nodeId, { kind: 'kick', from: this.nodeId, userId, match, before, reason, message });
        }
      })
      .catch((err: unknown) => {
        this.#link.failed(err);
      });
  }

  // Chat rooms --------------------------------------------------------------------------

  roomMembers(roomId: string, localCount: number): void {
    this.#announced.setRoom(roomId, localCount);
    if (!this.#link.up) return;
    const p = this.#link.cmd.pipeline();
    if (localCount > 0) this.#announced.writeRoom(p, roomId, localCount, Date.now());
    else p.hdel(this.#keys.room(roomId), this.nodeId);
    this.#exec(p);
  }

  async remoteRoomCounts(roomIds: readonly string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    if (roomIds.length === 0 || !this.#link.up) return counts;
    try {
      const p = this.#link.cmd.pipeline();
      for (const id of roomIds) p.hgetall(this.#keys.room(id));
      const replies = (await p.exec()) ?? [];
      const now = Date.now();
      roomIds.forEach((roomId, i) => {
        const key = this.#keys.room(roomId);
        let sum = 0;
        for (const { field, data } of this.#live(key, hashOf(replies[i]), now)) {
          if (field !== this.nodeId) sum += Number(data) || 0;
        }
        if (sum > 0) counts.set(roomId, sum);
      });
    } catch (err) {
      this.#link.failed(err);
    }
    return counts;
  }

  async nextRoomSeq(roomId: string, floor: number): Promise<number> {
    if (this.#link.up) {
      try {
        const seq = await this.#link.cmd.eval(ROOM_SEQ_SCRIPT, 1, this.#keys.roomSeq(roomId), floor, ROOM_SEQ_TTL_MS);
        if (typeof seq === 'number') return seq;
      } catch (err) {
        this.#link.failed(err);
      }
    }
    // Without Redis the room is local for now: number on from what this node has seen.
    return floor + 1;
  }

  sendToRoom(roomId: string, message: Uint8Array, exceptSessionId: string): void {
    this.#toNodesIn(this.#keys.room(roomId), () => ({
      kind: 'room',
      from: this.nodeId,
      roomId,
      exceptSessionId,
      payload: message,
    }));
  }

  // Admin operations on live sessions (see ClusterAdmin) -----------------------------------

  kickSessions(
    target: SessionTarget,
    reason: ErrorCode,
    message: string,
    timeoutMs: number,
  ): Promise<ClusterAnswers<number>> {
    return this.#admin.kick(target, reason, message, timeoutMs);
  }

  nodeStats(timeoutMs: number): Promise<ClusterAnswers<NodeStats>> {
    return this.#admin.stats(timeoutMs);
  }

  userSessions(userId: string, timeoutMs: number): Promise<ClusterAnswers<SessionInfo[]>> {
    return this.#admin.sessions(userId, timeoutMs);
  }

  async close(): Promise<void> {
    clearInterval(this.#refreshTimer);
    this.#admin.close();
    if (this.#link.up) {
      // A graceful stop: this node leaves nothing for a live node to clean up.
      await this.#link.cmd
        .pipeline()
        .zrem(this.#keys.nodes(), this.nodeId)
        .hdel(this.#keys.nodeInfo(), this.nodeId)
        .del(this.#keys.nodeUsers(this.nodeId))
        .exec()
        .catch((err: unknown) => {
          this.#link.failed(err);
        });
    }
    await this.#link.close();
  }

  // Internals ---------------------------------------------------------------------------

  /** Whether a cross-node routing can be attempted now; counts the ones skipped in an outage. */
  #routable(): boolean {
    if (this.#link.up) return true;
    this.#metrics.busSkipped.inc();
    return false;
  }

  /** Publishes to every other node named by a live field of the hash at `key`. */
  #toNodesIn(key: string, envelope: () => Envelope): void {
    if (!this.#routable()) return;
    this.#link.cmd
      .hgetall(key)
      .then((hash) => {
        const nodes = this.#live(key, hash, Date.now())
          .map((f) => f.field)
          .filter((n) => n !== this.nodeId);
        if (nodes.length === 0) return;
        const e = envelope();
        for (const nodeId of nodes) this.#publish(nodeId, e);
      })
      .catch((err: unknown) => {
        this.#link.failed(err);
      });
  }

  /** The other nodes holding a device of the user, from an HGETALL reply of a pipeline. */
  #nodesOfUser(userId: string, reply: [Error | null, unknown] | undefined, now: number): Set<string> {
    const nodes = new Set<string>();
    for (const { field } of this.#live(this.#keys.user(userId), hashOf(reply), now)) {
      const { nodeId } = parseDeviceField(field);
      if (nodeId !== this.nodeId) nodes.add(nodeId);
    }
    return nodes;
  }

  /** Live fields of a hash; prunes the stale ones (a dead node's) on the way. */
  #live(key: string, hash: Record<string, string>, now: number) {
    const { live, stale } = liveFields(hash, now);
    if (stale.length > 0) {
      this.#link.cmd.hdel(key, ...stale).catch((err: unknown) => {
        this.#link.failed(err);
      });
    }
    return live;
  }

  #publish(nodeId: string, envelope: Envelope): void {
    this.#metrics.busPublishes.inc({ kind: envelope.kind });
    this.#link.cmd.publish(this.#keys.channel(nodeId), encodeEnvelope(envelope)).catch((err: unknown) => {
      this.#link.failed(err);
    });
  }

  #exec(p: ReturnType<RedisLink['cmd']['pipeline']>): void {
    p.exec().catch((err: unknown) => {
      this.#link.failed(err);
    });
  }

  #receive(bytes: Buffer): void {
    const local = this.#local;
    if (!local) return;
    let e: Envelope;
    try {
      e = decodeEnvelope(bytes);
    } catch (err) {
      this.#metrics.errors.inc({ code: 'BUS_ENVELOPE' });
      this.#logger.warn({ err }, 'dropped a malformed bus envelope');
      return;
    }
    if (e.from === this.nodeId) return;
    this.#metrics.busReceived.inc({ kind: e.kind });
    switch (e.kind) {
      case 'users':
        local.deliverToUsers(e.userIds, e.payload);
        break;
      case 'room':
        local.deliverToRoom(e.roomId, e.payload, e.exceptSessionId);
        break;
      case 'presence':
        local.presenceChanged(e.userId);
        break;
      case 'kick':
        local.kick(e.userId, e.match, e.before, e.reason, e.message);
        break;
      case 'ask':
        this.#admin.onAsk(e);
        break;
      case 'answer':
        this.#admin.onAnswer(e);
        break;
      case 'resync':
        local.peerRecovered();
        break;
    }
  }

  /** Writes every announcement again with fresh expiry times, in bounded pipelines. */
  #refresh(): void {
    if (!this.#link.up) return;
    if (this.#refreshing) {
      this.#refreshAgain = true;
      return;
    }
    const run = (async () => {
      try {
        do {
          let p = this.#link.cmd.pipeline();
          const now = Date.now();
          for (const write of this.#announced.writers()) {
            write(p, now);
            if (p.length >= REFRESH_CHUNK) {
              await p.exec();
              p = this.#link.cmd.pipeline();
            }
          }
          if (p.length > 0) await p.exec();
        } while (this.#takeRefreshAgain() && this.#link.up);
        await this.#reaper.sweep(Date.now());
      } catch (err) {
        this.#link.failed(err);
      }
    })();
    this.#refreshing = run;
    void run.finally(() => {
      if (this.#refreshing === run) this.#refreshing = undefined;
    });
  }

  /**
   * Redis is back after an outage (or reachable at last after a start without it). Once this
   * node is announced and subscribed again, so that pushes from other nodes reach it, its
   * sessions are told to sync: pushes from other nodes were skipped during the outage.
   */
  async #recovered(): Promise<void> {
    await this.#refreshing;
    await this.#subscribed();
    if (!this.#link.up) return;
    this.#local?.busRecovered();
    // Pushes from this node to the others' sessions were skipped too: ask them to hint theirs.
    try {
      const now = Date.now();
      const nodes = await this.#link.cmd.zrangebyscore(this.#keys.nodes(), `(${String(now)}`, '+inf');
      for (const nodeId of nodes)
        if (nodeId !== this.nodeId) this.#publish(nodeId, { kind: 'resync', from: this.nodeId });
    } catch (err) {
      this.#link.failed(err);
    }
  }

  /** Whether a refresh was asked for while one ran; clears the request. */
  #takeRefreshAgain(): boolean {
    const again = this.#refreshAgain;
    this.#refreshAgain = false;
    return again;
  }

  /** Resolves once the node's channel subscription is in place (or the link gave up waiting). */
  async #subscribed(): Promise<void> {
    if (!this.#link.up) return;
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 5_000);
    while (Date.now() < deadline) {
      try {
        const [, count] = (await this.#link.cmd.call('PUBSUB', 'NUMSUB', this.#channel)) as [string, number];
        if (count > 0) return;
      } catch (err) {
        this.#link.failed(err);
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

function hashOf(reply: [Error | null, unknown] | undefined): Record<string, string> {
  if (!reply || reply[0]) return {};
  return (reply[1] ?? {}) as Record<string, string>;
}

function toPlatform(n: number): pb.Platform {
  return isPlatform(n) ? n : pb.Platform.PLATFORM_UNSPECIFIED;
}
