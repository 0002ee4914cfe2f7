import type { ChainableCommander } from 'ioredis';
import type { DeviceRef } from '../types.js';
import { type ClusterKeys, deviceData, deviceField, stamp } from './keys.js';

/**
 * What this node has told Redis about itself: its devices, the users it follows and its
 * room member counts. Kept in memory as the source of truth, so it can be written again on
 * every refresh (TTL) and in full when Redis comes back empty after a restart.
 */
/** A dead node's user set is kept this long for a live node to clean up after it. */
const NODE_USERS_TTL_MS = 24 * 3600 * 1000;

export class Announcements {
  /** userId → deviceId → the session that holds the device here. */
  readonly #devices = new Map<string, Map<string, DeviceRef>>();
  readonly #watching = new Set<string>();
  readonly #rooms = new Map<string, number>();

  constructor(
    private readonly keys: ClusterKeys,
    private readonly nodeId: string,
    private readonly ttlMs: number,
    private readonly startedAt: number,
  ) {}

  hasUser(userId: string): boolean {
    return this.#devices.has(userId);
  }

  platformsOf(userId: string): DeviceRef['platform'][] {
    return [...(this.#devices.get(userId)?.values() ?? [])].map((d) => d.platform);
  }

  /** The user's devices on this node whose app is in the foreground. */
  foregroundDevicesOf(userId: string): string[] {
    return [...(this.#devices.get(userId)?.values() ?? [])].filter((d) => d.background !== true).map((d) => d.deviceId);
  }

  /** Adds the device, or replaces what was announced for it (a new session, a new app state). */
  addDevice(device: DeviceRef): void {
    let devices = this.#devices.get(device.userId);
    if (!devices) this.#devices.set(device.userId, (devices = new Map<string, DeviceRef>()));
    devices.set(device.deviceId, device);
  }

  /** Forgets the device if `device` is still the session holding it; returns whether it did. */
  removeDevice(device: DeviceRef): boolean {
    const devices = this.#devices.get(device.userId);
    if (devices?.get(device.deviceId)?.sessionId !== device.sessionId) return false;
    devices.delete(device.deviceId);
    if (devices.size === 0) this.#devices.delete(device.userId);
    return true;
  }

  setWatching(userId: string, watching: boolean): void {
    if (watching) this.#watching.add(userId);
    else this.#watching.delete(userId);
  }

  setRoom(roomId: string, count: number): void {
    if (count > 0) this.#rooms.set(roomId, count);
    else this.#rooms.delete(roomId);
  }

  // Writers: each adds its commands to a pipeline. -------------------------------------------

  writeDevice(p: ChainableCommander, device: DeviceRef, now: number): void {
    const key = this.keys.user(device.userId);
    const data = deviceData(device.platform, device.background === true);
    p.hset(key, deviceField(this.nodeId, device.deviceId), stamp(data, now + this.ttlMs));
    p.pexpire(key, this.ttlMs);
    p.sadd(this.keys.nodeUsers(this.nodeId), device.userId);
  }

  /** This node is alive; its user set outlives it long enough to be cleaned up after. */
  writeNode(p: ChainableCommander, now: number): void {
    p.zadd(this.keys.nodes(), now + this.ttlMs, this.nodeId);
    p.hset(this.keys.nodeInfo(), this.nodeId, stamp(`${String(this.startedAt)},${String(now)}`, now + this.ttlMs));
    p.pexpire(this.keys.nodeInfo(), NODE_USERS_TTL_MS);
    p.pexpire(this.keys.nodeUsers(this.nodeId), NODE_USERS_TTL_MS);
  }

  writeWatch(p: ChainableCommander, userId: string, now: number): void {
    const key = this.keys.watchers(userId);
    p.hset(key, this.nodeId, stamp('', now + this.ttlMs));
    p.pexpire(key, this.ttlMs);
  }

  writeRoom(p: ChainableCommander, roomId: string, count: number, now: number): void {
    const key = this.keys.room(roomId);
    p.hset(key, this.nodeId, stamp(count, now + this.ttlMs));
    p.pexpire(key, this.ttlMs);
  }

  /** One writer per announcement, for a full refresh (the caller sizes the pipelines). */
  *writers(): Generator<(p: ChainableCommander, now: number) => void> {
    for (const devices of this.#devices.values()) {
      for (const device of devices.values()) {
        yield (p, now) => {
          this.writeDevice(p, device, now);
        };
      }
    }
    for (const userId of this.#watching) {
      yield (p, now) => {
        this.writeWatch(p, userId, now);
      };
    }
    for (const [roomId, count] of this.#rooms) {
      yield (p, now) => {
        this.writeRoom(p, roomId, count, now);
      };
    }
    yield (p, now) => {
      this.writeNode(p, now);
    };
  }
}
