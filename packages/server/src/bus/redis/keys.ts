import { pb } from '@parley/protocol';

/**
 * Redis names of one cluster, all under one prefix (config `cluster.keyPrefix`). The hashes
 * hold one field per node (or per node and device); each field's value ends with
 * `|<expiresAtMs>`, because Redis 7.0 expires whole keys, not fields: a reader ignores (and
 * prunes) fields past their time, so a dead node's entries lapse even while live nodes keep
 * refreshing the key itself.
 */
export class ClusterKeys {
  constructor(readonly prefix: string) {}

  /**
   * HASH `<nodeId>|<deviceId>` → `<platform>|<expiresAt>`, or `<platform>,bg|<expiresAt>` while
   * the app is in the background: where the user's devices are, and whether they need pushes.
   */
  user(userId: string): string {
    return `${this.prefix}:u:${userId}`;
  }

  /** STRING: when the user's last session on some node ended (ms since epoch). */
  lastSeen(userId: string): string {
    return `${this.prefix}:seen:${userId}`;
  }

  /** HASH `<nodeId>` → `|<expiresAt>`: nodes with sessions following the user's presence. */
  watchers(userId: string): string {
    return `${this.prefix}:w:${userId}`;
  }

  /** HASH `<nodeId>` → `<count>|<expiresAt>`: nodes with members in the room, and how many. */
  room(roomId: string): string {
    return `${this.prefix}:r:${roomId}`;
  }

  /** STRING counter: the room's last message seq, shared by the nodes. */
  roomSeq(roomId: string): string {
    return `${this.prefix}:rs:${roomId}`;
  }

  /** ZSET node id → expiresAt: the nodes alive, as far as their refreshes tell. */
  nodes(): string {
    return `${this.prefix}:nodes`;
  }

  /** HASH `<nodeId>` → `<startedAt>,<refreshedAt>|<expiresAt>`: when each node started and last refreshed. */
  nodeInfo(): string {
    return `${this.prefix}:ni`;
  }

  /** SET: users with devices on the node, so a node that dies can be cleaned up after. */
  nodeUsers(nodeId: string): string {
    return `${this.prefix}:nu:${nodeId}`;
  }

  /** STRING: which node cleans up after a dead one (taken with SET NX). */
  reaping(nodeId: string): string {
    return `${this.prefix}:reap:${nodeId}`;
  }

  /** Pub/sub channel of one node. */
  channel(nodeId: string): string {
    return `${this.prefix}:n:${nodeId}`;
  }
}

/** How long a user's last-seen time is kept. */
export const LAST_SEEN_TTL_S = 30 * 24 * 3600;

/** A field value with its expiry. */
export function stamp(data: string | number, expiresAt: number): string {
  return `${String(data)}|${String(expiresAt)}`;
}

export interface LiveField {
  field: string;
  data: string;
}

/** Splits a hash into fields still alive at `now` and stale ones (to prune). */
export function liveFields(hash: Record<string, string>, now: number): { live: LiveField[]; stale: string[] } {
  const live: LiveField[] = [];
  const stale: string[] = [];
  for (const [field, value] of Object.entries(hash)) {
    const bar = value.lastIndexOf('|');
    const expiresAt = bar === -1 ? NaN : Number(value.slice(bar + 1));
    if (expiresAt > now) live.push({ field, data: value.slice(0, bar) });
    else stale.push(field);
  }
  return { live, stale };
}

/** `<nodeId>|<deviceId>` (node ids never hold `|`; device ids may). */
export function deviceField(nodeId: string, deviceId: string): string {
  return `${nodeId}|${deviceId}`;
}

export function parseDeviceField(field: string): { nodeId: string; deviceId: string } {
  const bar = field.indexOf('|');
  return bar === -1 ? { nodeId: field, deviceId: '' } : { nodeId: field.slice(0, bar), deviceId: field.slice(bar + 1) };
}

/** A device field's data: its platform, and `,bg` while its app is in the background. */
export function deviceData(platform: number, background: boolean): string {
  return background ? `${String(platform)},bg` : String(platform);
}

export function parseDeviceData(data: string): { platform: number; background: boolean } {
  const comma = data.indexOf(',');
  if (comma === -1) return { platform: Number(data), background: false };
  return { platform: Number(data.slice(0, comma)), background: data.slice(comma + 1) === 'bg' };
}

/** A `nodeInfo` field's value, expired or not: when the node started and last refreshed (0 = unknown). */
export function parseNodeInfo(value: string | undefined): { startedAt: number; lastSeen: number } {
  const [startedAt = '', refreshedAt = ''] = (value ?? '').split('|')[0]?.split(',') ?? [];
  return { startedAt: Number(startedAt) || 0, lastSeen: Number(refreshedAt) || 0 };
}

/** Whether a number read from Redis or a peer is a platform of the wire enum. */
export function isPlatform(n: unknown): n is pb.Platform {
  return (Object.values(pb.Platform) as unknown[]).includes(n);
}
