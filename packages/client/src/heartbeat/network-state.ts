/**
 * What the smart heartbeat has learned about one network, and how it is persisted.
 * Times are epoch milliseconds from the caller's clock; intervals are milliseconds.
 */
export interface NetworkHeartbeatState {
  /** The learned interval: the one in use once the link has passed its short test heartbeats. */
  currentMs: number;
  /** The largest interval a heartbeat has survived in the current computation; 0 when none. */
  lastGoodMs: number;
  /** True once the interval is settled (after a NAT-like failure, or at the maximum). */
  stable: boolean;
  /** Consecutive NAT-like failures at the current interval. */
  failures: number;
  /** Counted successes at the current interval since it last changed. */
  successesAtCurrent: number;
  /** When `currentMs` or `stable` last changed (0: never). Drives the periodic re-probe. */
  modifiedAt: number;
  /** When this network was last selected or changed. The least recently used network is evicted first. */
  usedAt: number;
}

/** The bounds that persisted values are clamped to, so changed options never yield an out-of-range interval. */
export interface StateBounds {
  minMs: number;
  maxMs: number;
  marginMs: number;
  maxFailures: number;
}

/** The version of the persisted JSON document; a document with another version is ignored. */
export const HEARTBEAT_STATE_VERSION = 1;

/** A fresh state for a network never seen before: compute from the minimum. */
export function initialNetworkState(minMs: number, now: number): NetworkHeartbeatState {
  return {
    currentMs: minMs,
    lastGoodMs: 0,
    stable: false,
    failures: 0,
    successesAtCurrent: 0,
    modifiedAt: 0,
    usedAt: now,
  };
}

/** Serializes every network's state as the persisted JSON document. */
export function serializeNetworkStates(states: ReadonlyMap<string, NetworkHeartbeatState>): string {
  return JSON.stringify({ version: HEARTBEAT_STATE_VERSION, networks: Object.fromEntries(states) });
}

/**
 * Parses a persisted JSON document. Anything unreadable is dropped rather than thrown: a
 * corrupt or foreign document yields an empty map, a malformed entry is skipped, and values
 * outside the bounds are clamped the way Mars does (below min → min; above max → max − margin).
 */
export function parseNetworkStates(text: string, bounds: StateBounds): Map<string, NetworkHeartbeatState> {
  const states = new Map<string, NetworkHeartbeatState>();
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return states;
  }
  if (!isRecord(document) || document.version !== HEARTBEAT_STATE_VERSION || !isRecord(document.networks)) {
    return states;
  }
  for (const [networkId, value] of Object.entries(document.networks)) {
    const state = parseEntry(value, bounds);
    if (state) states.set(networkId, state);
  }
  return states;
}

function parseEntry(value: unknown, bounds: StateBounds): NetworkHeartbeatState | undefined {
  if (!isRecord(value)) return undefined;
  const { currentMs, lastGoodMs, stable, failures, successesAtCurrent, modifiedAt, usedAt } = value;
  if (
    !isMs(currentMs) ||
    !isMs(lastGoodMs) ||
    typeof stable !== 'boolean' ||
    !isCount(failures) ||
    !isCount(successesAtCurrent) ||
    !isMs(modifiedAt) ||
    !isMs(usedAt)
  ) {
    return undefined;
  }
  const state: NetworkHeartbeatState = {
    currentMs,
    lastGoodMs: Math.min(lastGoodMs, bounds.maxMs),
    stable,
    failures: Math.min(failures, bounds.maxFailures - 1),
    successesAtCurrent,
    modifiedAt,
    usedAt,
  };
  if (currentMs < bounds.minMs) {
    state.currentMs = bounds.minMs;
    state.stable = false;
    state.successesAtCurrent = 0;
  } else if (currentMs > bounds.maxMs) {
    state.currentMs = Math.max(bounds.minMs, bounds.maxMs - bounds.marginMs);
    state.successesAtCurrent = 0;
  }
  return state;
}

/**
 * Removes the least recently used networks until at most `limit` remain, never the one named
 * by `keep` (the current network). Returns the ids removed.
 */
export function evictLeastRecentlyUsed(
  states: Map<string, NetworkHeartbeatState>,
  limit: number,
  keep?: string,
): string[] {
  const evicted: string[] = [];
  if (states.size <= limit) return evicted;
  const candidates = [...states].filter(([id]) => id !== keep).sort(([, a], [, b]) => a.usedAt - b.usedAt);
  for (const [id] of candidates) {
    if (states.size <= limit) break;
    states.delete(id);
    evicted.push(id);
  }
  return evicted;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isMs(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
