import type { AppVisibility, HeartbeatFailure, HeartbeatPolicy } from '../connection/heartbeat-policy.js';
import type { KeyValueStore } from '../storage/key-value.js';
import {
  type NetworkHeartbeatState,
  evictLeastRecentlyUsed,
  initialNetworkState,
  parseNetworkStates,
  serializeNetworkStates,
} from './network-state.js';

/** A change of the learned interval, reported through {@link SmartHeartbeatOptions.onTransition}. */
export interface HeartbeatTransition {
  /**
   * - `step-up`: enough successes at the current interval, try one step longer.
   * - `max-reached`: the maximum survived; settle at maximum − margin.
   * - `settled`: NAT-like failures while computing; settle at the last good interval − margin.
   * - `reset`: NAT-like failures at a settled interval; compute again from the minimum.
   * - `reprobe`: a settled interval is old; try margin longer and compute from there.
   */
  type: 'step-up' | 'max-reached' | 'settled' | 'reset' | 'reprobe';
  networkId: string;
  fromMs: number;
  toMs: number;
  /** The caller's `now` when it happened. */
  at: number;
}

/**
 * Options of {@link SmartHeartbeat}. Defaults are the constants of Tencent Mars
 * (`mars/stn/config.h`), the open-source WeChat long link.
 */
export interface SmartHeartbeatOptions {
  /** The safe interval: used in the foreground, on every new link until it is tested, and as the start. Default 210 000 (3.5 min). */
  minMs?: number;
  /** The longest interval ever tried. Default 600 000 (10 min). */
  maxMs?: number;
  /** How much the interval grows after {@link successesToStep} successes. Default 60 000. */
  stepMs?: number;
  /** The distance kept below a value that failed or was the maximum, and the re-probe step. Default 20 000. */
  marginMs?: number;
  /** Successes needed at an interval before trying the next step. Default 5 (Mars `BaseSuccCount`). */
  successesToStep?: number;
  /**
   * Heartbeats at the minimum that must succeed on each new link before the learned
   * interval is used (and before any result counts). Default 3 (Mars `NetStableTestCount`).
   */
  stableTestCount?: number;
  /** Consecutive NAT-like failures that settle (or, once settled, reset) the interval. Default 2. */
  maxFailures?: number;
  /**
   * Age of a settled interval after which it is probed `marginMs` higher, checked on each
   * counted success and when the app switches to that network. Default 7 days (Mars: weekly).
   * `Infinity` disables re-probing.
   */
  reprobeAfterMs?: number;
  /** Use the minimum while the app is in the foreground (and {@link backgroundActiveMs} after). Default true. */
  foregroundUsesMin?: boolean;
  /** How long after going to the background the app still counts as active. Default 600 000 (Mars `ActiveLogic`). */
  backgroundActiveMs?: number;
  /** How long to wait for any frame after a PING before declaring the link dead. Default 10 000. */
  pingTimeoutMs?: number;
  /** The most networks remembered; the least recently used is evicted. Default 20 (as Mars). */
  maxNetworks?: number;
  /** The initial network id. Default `"default"`, for apps that never report a network. */
  networkId?: string;
  /**
   * The initial app state. Default `background`: a Node process has no screen. Browsers
   * and mobile shells should report the real state with {@link SmartHeartbeat.onAppState}.
   */
  appState?: AppVisibility;
  /** Where learned intervals persist, as one JSON value. Without a store nothing persists. */
  store?: KeyValueStore;
  /** The key under which the JSON is stored. Default `"parley.heartbeat"`. */
  storageKey?: string;
  /** Save after every change of the learned state. Default true when a store is given. */
  autoSave?: boolean;
  /** Called on every change of the learned interval (for logs and metrics). */
  onTransition?: (transition: HeartbeatTransition) => void;
  /** Called when loading or an automatic save fails. The policy keeps working in memory. */
  onError?: (error: unknown) => void;
}

/** The numeric and boolean options after defaults are applied. */
export interface SmartHeartbeatConfig {
  readonly minMs: number;
  readonly maxMs: number;
  readonly stepMs: number;
  readonly marginMs: number;
  readonly successesToStep: number;
  readonly stableTestCount: number;
  readonly maxFailures: number;
  readonly reprobeAfterMs: number;
  readonly foregroundUsesMin: boolean;
  readonly backgroundActiveMs: number;
  readonly pingTimeoutMs: number;
  readonly maxNetworks: number;
  readonly storageKey: string;
}

/** The defaults of {@link SmartHeartbeatOptions}. */
export const DEFAULT_HEARTBEAT_CONFIG: SmartHeartbeatConfig = Object.freeze({
  minMs: 210_000,
  maxMs: 600_000,
  stepMs: 60_000,
  marginMs: 20_000,
  successesToStep: 5,
  stableTestCount: 3,
  maxFailures: 2,
  reprobeAfterMs: 7 * 24 * 60 * 60_000,
  foregroundUsesMin: true,
  backgroundActiveMs: 600_000,
  pingTimeoutMs: 10_000,
  maxNetworks: 20,
  storageKey: 'parley.heartbeat',
});

/**
 * The adaptive ("smart") heartbeat policy of WeChat's Mars, per network. Pure: no timers, no
 * sockets. The caller passes the time (`now`, epoch milliseconds: it is persisted) and
 * reports link events; the policy answers how long the link may stay idle before a PING.
 *
 * How it learns, per network:
 * 1. Each new link first sends {@link SmartHeartbeatOptions.stableTestCount} heartbeats at
 *    the minimum; until they succeed, nothing counts and the minimum is used.
 * 2. While computing, every {@link SmartHeartbeatOptions.successesToStep} successes at the
 *    current interval raise it by one step; surviving the maximum settles at max − margin.
 * 3. {@link SmartHeartbeatOptions.maxFailures} consecutive NAT-like failures at the current
 *    interval settle at the last interval that survived, minus the margin.
 * 4. Once settled, the same number of failures means the network changed behaviour: start
 *    again from the minimum. A settled value older than `reprobeAfterMs` is probed
 *    `marginMs` higher and computation resumes from there.
 *
 * A result counts only when the heartbeat tested the learned interval: pass the measured
 * idle time before the PING as `idleMs` (idle in both directions: inbound traffic keeps a NAT
 * mapping alive too). Failures at the minimum are ignored, as in Mars: there is nothing lower.
 * A driver that times idleness from its previous PING rather than from that PING's answer
 * overstates the NAT's idle by one round trip; the margin must exceed that round trip.
 */
export class SmartHeartbeat implements HeartbeatPolicy {
  readonly config: SmartHeartbeatConfig;
  readonly #states = new Map<string, NetworkHeartbeatState>();
  readonly #store: KeyValueStore | undefined;
  readonly #autoSave: boolean;
  readonly #onTransition: ((transition: HeartbeatTransition) => void) | undefined;
  readonly #onError: ((error: unknown) => void) | undefined;
  #networkId: string;
  #appState: AppVisibility;
  #backgroundSince = -Infinity;
  #linkSuccesses = 0;
  #dirty = false;
  #saving: Promise<void> = Promise.resolve();
  #queuedSave: Promise<void> | undefined;

  constructor(options: SmartHeartbeatOptions = {}) {
    this.config = resolveConfig(options);
    this.#store = options.store;
    this.#autoSave = options.autoSave ?? options.store !== undefined;
    this.#onTransition = options.onTransition;
    this.#onError = options.onError;
    this.#networkId = options.networkId ?? 'default';
    this.#appState = options.appState ?? 'background';
  }

  /** How long to wait for any frame after a PING before declaring the link dead. */
  get pingTimeoutMs(): number {
    return this.config.pingTimeoutMs;
  }

  /** The current network id. */
  get networkId(): string {
    return this.#networkId;
  }

  /** The current app state. */
  get appState(): AppVisibility {
    return this.#appState;
  }

  /** Heartbeats that succeeded on the current link. */
  get linkSuccesses(): number {
    return this.#linkSuccesses;
  }

  /** A copy of the current network's learned state (a fresh one if nothing is known yet). */
  get state(): NetworkHeartbeatState {
    const state = this.#states.get(this.#networkId);
    return state ? { ...state } : initialNetworkState(this.config.minMs, 0);
  }

  /** A copy of a network's learned state, or `undefined` if it is not remembered. */
  stateOf(networkId: string): NetworkHeartbeatState | undefined {
    const state = this.#states.get(networkId);
    return state && { ...state };
  }

  /** The remembered network ids. */
  networkIds(): string[] {
    return [...this.#states.keys()];
  }

  /** True while the app counts as active: in the foreground, or recently sent to the background. */
  isActive(now: number): boolean {
    return (
      this.config.foregroundUsesMin &&
      (this.#appState === 'foreground' || now - this.#backgroundSince < this.config.backgroundActiveMs)
    );
  }

  /**
   * How long the link may stay idle before the next PING: the minimum while the app is
   * active or until the link has passed its test heartbeats, else the learned interval.
   */
  intervalFor(now: number): number {
    if (this.isActive(now) || this.#linkSuccesses < this.config.stableTestCount) return this.config.minMs;
    return this.#current(now).currentMs;
  }

  /**
   * The device moved to another network (Wi-Fi SSID, carrier, ...): switch to that network's
   * learned state, or start computing for a new one. A settled value older than
   * `reprobeAfterMs` is re-probed. Reporting the current network again does nothing.
   */
  onNetworkChanged(networkId: string, now: number): void {
    if (networkId === this.#networkId) return;
    this.#networkId = networkId;
    this.#linkSuccesses = 0;
    const state = this.#current(now);
    state.usedAt = now;
    if (state.modifiedAt > now) state.modifiedAt = now; // a clock set back must not postpone re-probing forever
    this.#maybeReprobe(state, now);
    this.#dirty = true;
    this.#commit();
  }

  /** The app came to the foreground or went to the background. */
  onAppState(state: AppVisibility, now: number): void {
    if (state === this.#appState) return;
    if (state === 'background') this.#backgroundSince = now;
    this.#appState = state;
  }

  /** A new link is up (logged in): its test heartbeats start again. */
  onLinkUp(): void {
    this.#linkSuccesses = 0;
  }

  /**
   * A PING was answered (any frame arrived within the ping timeout). It counts towards
   * learning when `idleMs` is at least the learned interval less the ping timeout (and less
   * than half a step short of it).
   * @param idleMs how long the link had been idle, in both directions, when the PING went
   *   out (the answer to the previous PING may be left out: it belongs to that probe).
   *   Defaults to `intervalFor(now)`.
   */
  onHeartbeatSucceeded(now: number, idleMs?: number): void {
    const config = this.config;
    const tested = idleMs ?? this.intervalFor(now);
    this.#linkSuccesses++;
    if (this.#linkSuccesses < config.stableTestCount) return;
    const state = this.#current(now);
    // It must have tested the learned interval. A driver's idle measurement may fall short of
    // it by the previous PING's round trip (at most the ping timeout), never by half a step.
    if (tested < state.currentMs - Math.min(config.pingTimeoutMs, config.stepMs / 2)) return;
    if (state.failures !== 0) {
      state.failures = 0; // failures must be consecutive ("a single success counts")
      this.#dirty = true;
    }
    if (state.stable) {
      this.#maybeReprobe(state, now);
    } else {
      state.lastGoodMs = Math.min(tested, state.currentMs); // what was survived, so settling stays below the NAT
      state.successesAtCurrent++;
      this.#dirty = true;
      if (state.currentMs >= config.maxMs) {
        this.#learn(state, 'max-reached', Math.max(config.minMs, config.maxMs - config.marginMs), true, now);
      } else if (state.successesAtCurrent >= config.successesToStep) {
        this.#learn(state, 'step-up', Math.min(config.maxMs, state.currentMs + config.stepMs), false, now);
      }
    }
    this.#commit();
  }

  /**
   * A heartbeat failed. Only NAT-like failures (`timeout`, `link-dead-after-idle`) that
   * tested the learned interval count: idle within [current − margin, current + step], and
   * above the minimum. A much longer idle (a suspended device, throttled timers) proves
   * nothing about the current interval.
   * @param idleMs how long the link had been idle, in both directions, when the PING went
   *   out (or when the link was found dead). Defaults to `intervalFor(now)`.
   */
  onHeartbeatFailed(now: number, cause: HeartbeatFailure, idleMs?: number): void {
    if (cause === 'other') return;
    const config = this.config;
    const tested = idleMs ?? this.intervalFor(now);
    const state = this.#current(now);
    if (state.currentMs <= config.minMs || tested <= config.minMs) return; // nothing lower to fall back to
    if (tested < state.currentMs - config.marginMs || tested > state.currentMs + config.stepMs) return;
    state.failures++;
    this.#dirty = true;
    if (state.failures >= config.maxFailures) {
      if (state.stable) {
        state.lastGoodMs = 0; // the old evidence no longer holds
        this.#learn(state, 'reset', config.minMs, false, now);
      } else {
        const good = Math.min(state.lastGoodMs || config.minMs, state.currentMs);
        this.#learn(state, 'settled', Math.max(config.minMs, good - config.marginMs), true, now);
      }
    }
    this.#commit();
  }

  /**
   * Reads learned state from the store. Call it once before connecting. Entries learned in
   * this process since then are kept when they are newer. Never rejects: an unreadable
   * store or corrupt JSON is reported to `onError` (read errors) or ignored (bad JSON).
   * @returns the number of networks read from the store
   */
  async load(): Promise<number> {
    if (!this.#store) return 0;
    let text: string | undefined;
    try {
      text = await this.#store.get(this.config.storageKey);
    } catch (error) {
      this.#onError?.(error);
      return 0;
    }
    if (text === undefined) return 0;
    const loaded = parseNetworkStates(text, this.config);
    for (const [networkId, state] of loaded) {
      const mine = this.#states.get(networkId);
      if (!mine || mine.modifiedAt < state.modifiedAt) {
        if (mine) state.usedAt = Math.max(state.usedAt, mine.usedAt);
        this.#states.set(networkId, state);
      }
    }
    evictLeastRecentlyUsed(this.#states, this.config.maxNetworks, this.#networkId);
    return loaded.size;
  }

  /**
   * Writes every network's learned state to the store as one JSON value. Saves run one at a
   * time; calls made while one is waiting to start share it. Rejects if the store does.
   */
  save(): Promise<void> {
    const store = this.#store;
    if (!store) return Promise.resolve();
    if (this.#queuedSave) return this.#queuedSave;
    const run = (): Promise<void> => {
      this.#queuedSave = undefined;
      return store.set(this.config.storageKey, serializeNetworkStates(this.#states));
    };
    const save = this.#saving.then(run, run);
    this.#queuedSave = save;
    this.#saving = save.catch(() => undefined);
    return save;
  }

  #current(now: number): NetworkHeartbeatState {
    let state = this.#states.get(this.#networkId);
    if (!state) {
      state = initialNetworkState(this.config.minMs, now);
      this.#states.set(this.#networkId, state);
      evictLeastRecentlyUsed(this.#states, this.config.maxNetworks, this.#networkId);
      this.#dirty = true;
    }
    return state;
  }

  #maybeReprobe(state: NetworkHeartbeatState, now: number): void {
    const config = this.config;
    if (!state.stable || now - state.modifiedAt < config.reprobeAfterMs) return;
    if (state.currentMs >= config.maxMs - config.marginMs) return; // already as long as allowed
    state.lastGoodMs = state.currentMs;
    this.#learn(state, 'reprobe', Math.min(config.maxMs, state.currentMs + config.marginMs), false, now);
  }

  #learn(
    state: NetworkHeartbeatState,
    type: HeartbeatTransition['type'],
    toMs: number,
    stable: boolean,
    now: number,
  ): void {
    const fromMs = state.currentMs;
    state.currentMs = toMs;
    state.stable = stable;
    state.failures = 0;
    state.successesAtCurrent = 0;
    state.modifiedAt = now;
    state.usedAt = Math.max(state.usedAt, now);
    this.#dirty = true;
    this.#onTransition?.({ type, networkId: this.#networkId, fromMs, toMs, at: now });
  }

  #commit(): void {
    if (!this.#dirty) return;
    this.#dirty = false;
    if (this.#autoSave) this.save().catch((error: unknown) => this.#onError?.(error));
  }
}

function resolveConfig(options: SmartHeartbeatOptions): SmartHeartbeatConfig {
  const config: SmartHeartbeatConfig = {
    minMs: options.minMs ?? DEFAULT_HEARTBEAT_CONFIG.minMs,
    maxMs: options.maxMs ?? DEFAULT_HEARTBEAT_CONFIG.maxMs,
    stepMs: options.stepMs ?? DEFAULT_HEARTBEAT_CONFIG.stepMs,
    marginMs: options.marginMs ?? DEFAULT_HEARTBEAT_CONFIG.marginMs,
    successesToStep: options.successesToStep ?? DEFAULT_HEARTBEAT_CONFIG.successesToStep,
    stableTestCount: options.stableTestCount ?? DEFAULT_HEARTBEAT_CONFIG.stableTestCount,
    maxFailures: options.maxFailures ?? DEFAULT_HEARTBEAT_CONFIG.maxFailures,
    reprobeAfterMs: options.reprobeAfterMs ?? DEFAULT_HEARTBEAT_CONFIG.reprobeAfterMs,
    foregroundUsesMin: options.foregroundUsesMin ?? DEFAULT_HEARTBEAT_CONFIG.foregroundUsesMin,
    backgroundActiveMs: options.backgroundActiveMs ?? DEFAULT_HEARTBEAT_CONFIG.backgroundActiveMs,
    pingTimeoutMs: options.pingTimeoutMs ?? DEFAULT_HEARTBEAT_CONFIG.pingTimeoutMs,
    maxNetworks: options.maxNetworks ?? DEFAULT_HEARTBEAT_CONFIG.maxNetworks,
    storageKey: options.storageKey ?? DEFAULT_HEARTBEAT_CONFIG.storageKey,
  };
  const positive = (name: keyof SmartHeartbeatConfig, value: number): void => {
    if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`heartbeat ${name} must be a positive number`);
  };
  const count = (name: keyof SmartHeartbeatConfig, value: number, least: number): void => {
    if (!Number.isSafeInteger(value) || value < least) {
      throw new RangeError(`heartbeat ${name} must be an integer of at least ${least}`);
    }
  };
  positive('minMs', config.minMs);
  positive('maxMs', config.maxMs);
  positive('stepMs', config.stepMs);
  positive('pingTimeoutMs', config.pingTimeoutMs);
  if (config.maxMs < config.minMs) throw new RangeError('heartbeat maxMs must be at least minMs');
  if (!(config.marginMs >= 0) || !Number.isFinite(config.marginMs)) {
    throw new RangeError('heartbeat marginMs must be a non-negative number');
  }
  if (!(config.reprobeAfterMs >= 0)) throw new RangeError('heartbeat reprobeAfterMs must be non-negative');
  if (!(config.backgroundActiveMs >= 0)) throw new RangeError('heartbeat backgroundActiveMs must be non-negative');
  count('successesToStep', config.successesToStep, 1);
  count('stableTestCount', config.stableTestCount, 0);
  count('maxFailures', config.maxFailures, 1);
  count('maxNetworks', config.maxNetworks, 1);
  return Object.freeze(config);
}
