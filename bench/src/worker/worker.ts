// One load-generating process. The coordinator sends it users to connect (spread over
// loopback source addresses and server processes), then asks it to send, count and time
// messages. Every received message's latency goes into an HDR histogram, measured from the
// time stamped in the message by its sender (the intended send time at a fixed rate, so a
// stalled server cannot hide its backlog: coordinated omission is accounted for).
import * as hdr from 'hdr-histogram-js';
import { nowUs, sleep } from '../clock.js';
import { newHistogram } from '../histogram.js';
import { type Request, serveParent } from '../ipc.js';
import { makePayload, readPayload } from '../payload.js';
import type { BenchClient, Connect, Endpoint, Incoming, SystemName } from './driver.js';

/**
 * Each system's driver, loaded when a worker first opens connections to it: a worker serves
 * one system, and loading only its client library (the Parley driver pulls in the server's
 * token code) keeps a worker's start-up short.
 */
const connectors: Record<SystemName, () => Promise<Connect>> = {
  parley: async () => (await import('./parley-driver.js')).connectParley,
  baseline: async () => (await import('./parley-driver.js')).connectParley,
  bare: async () => (await import('./parley-driver.js')).connectParley,
  socketio: async () => (await import('./socketio-driver.js')).connectSocketIo,
  mosquitto: async () => (await import('./mqtt-driver.js')).connectMqtt,
  ejabberd: async () => (await import('./xmpp-driver.js')).connectXmpp,
};

interface Slot {
  user: string;
  server: number;
  client: BenchClient | undefined;
  memory: Record<string, unknown>;
}

interface SenderState {
  /** `${user}~${peer or room}`: the stamp's sender field, so deliveries find their stream. */
  stream: string;
  slot: Slot;
  target: string;
  n: number;
  sent: number;
  delivered: number;
}

export interface OpenResult {
  ok: number;
  failed: number;
  firstError: string | undefined;
  ms: number;
}

export interface WorkerStats {
  /** Sent and received messages stamped before the mark (see `mark`). */
  sentBeforeMark: number;
  receivedBeforeMark: number;
  connected: number;
  sent: number;
  acked: number;
  ackFailed: number;
  received: number;
  drops: number;
}

export interface RunResult extends WorkerStats {
  /** Received by the end of the timed window (the rest arrived while draining). */
  receivedInWindow: number;
  overloaded: boolean;
  histogram: string;
}

export interface Collected {
  received: number;
  histogram: string;
  firstRecvUs: number;
  lastRecvUs: number;
  /** Per message number: [n, sent µs, last delivery µs]. */
  perMessage: [number, number, number][];
}

let endpoint: Endpoint | undefined;
let size = 128;
let heartbeatMs = 600_000;
let persistent = false;
const slots: Slot[] = [];
const byUser = new Map<string, Slot>();
const senders = new Map<string, SenderState>();
let histogram = newHistogram();
let dedup: Set<string> | undefined;
const ZERO: WorkerStats = {
  sentBeforeMark: 0,
  receivedBeforeMark: 0,
  connected: 0,
  sent: 0,
  acked: 0,
  ackFailed: 0,
  received: 0,
  drops: 0,
};
let stats: WorkerStats = { ...ZERO };
/** A point in time (µs) that splits messages into a backlog and the rest (reconnect storm). */
let markUs = Infinity;
let firstRecvUs = 0;
let lastRecvUs = 0;
let perMessage = new Map<number, [number, number]>();
let saturating: { window: number } | undefined;
let heartbeat: NodeJS.Timeout | undefined;

function onMessage(slot: Slot, message: Incoming): void {
  const stamp = readPayload(message.text);
  // Not ours, or a room echoing our own message.
  if (!stamp || stamp.sender.slice(0, stamp.sender.indexOf('~')) === slot.user) return;
  const now = nowUs();
  if (dedup) {
    const key = `${slot.user}|${stamp.sender}|${String(stamp.n)}`;
    if (dedup.has(key)) return;
    dedup.add(key);
  }
  stats.received++;
  if (stamp.sentUs < markUs) stats.receivedBeforeMark++;
  histogram.recordValue(Math.max(1, now - stamp.sentUs));
  if (firstRecvUs === 0) firstRecvUs = now;
  lastRecvUs = now;
  const per = perMessage.get(stamp.n);
  if (per) per[1] = Math.max(per[1], now);
  else perMessage.set(stamp.n, [stamp.sentUs, now]);
  const sender = senders.get(stamp.sender);
  if (sender) {
    sender.delivered++;
    if (saturating) pump(sender, saturating.window);
  }
}

function sendOne(sender: SenderState, sentUs: number): void {
  const client = sender.slot.client;
  if (!client) return;
  sender.sent++;
  stats.sent++;
  if (sentUs < markUs) stats.sentBeforeMark++;
  client.send(sender.target, makePayload({ sentUs, sender: sender.stream, n: ++sender.n }, size), (ok) => {
    if (ok) stats.acked++;
    else stats.ackFailed++;
  });
}

/** Saturation: keep `window` messages of this sender in flight (sent, not yet delivered). */
function pump(sender: SenderState, window: number): void {
  while (saturating && sender.sent - sender.delivered < window) sendOne(sender, nowUs());
}

async function open(request: Request): Promise<OpenResult> {
  endpoint = request.endpoint as Endpoint;
  size = request.size as number;
  heartbeatMs = request.heartbeatMs as number;
  persistent = request.persistent as boolean;
  const users = request.users as string[];
  const servers = request.servers as number[];
  const fresh = users.map((user, i) => {
    const slot: Slot = { user, server: servers[i] ?? 0, client: undefined, memory: {} };
    byUser.set(user, slot);
    return slot;
  });
  slots.push(...fresh);
  return connectSlots(fresh, request.sources as string[], request.concurrency as number);
}

async function connectSlots(targets: Slot[], sources: string[], concurrency: number): Promise<OpenResult> {
  const ep = endpoint;
  if (!ep) throw new Error('open first');
  const connect = await connectors[ep.system]();
  const result: OpenResult = { ok: 0, failed: 0, firstError: undefined, ms: 0 };
  const started = performance.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < targets.length) {
      const i = next++;
      const slot = targets[i]!;
      try {
        slot.client = await withRetry(() =>
          connect(
            ep,
            {
              user: slot.user,
              localAddress: sources[i % sources.length]!,
              server: slot.server,
              persistent,
              heartbeatMs,
              memory: slot.memory,
            },
            {
              onMessage: (m) => {
                onMessage(slot, m);
              },
              onDrop: () => {
                stats.drops++;
                stats.connected--;
                slot.client = undefined;
              },
            },
          ),
        );
        stats.connected++;
        result.ok++;
      } catch (err) {
        result.failed++;
        result.firstError ??= describe(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, targets.length) }, lane));
  result.ms = performance.now() - started;
  return result;
}

/** A connect that failed (a timeout under a login burst) is tried twice more. */
async function withRetry<T>(attempt: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (i >= 3) throw err;
      await sleep(200 * i);
    }
  }
}

/** An error's message, or its name and XMPP condition when it has no message. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const condition = (err as { condition?: unknown }).condition;
  return err.message || [err.name, typeof condition === 'string' ? condition : ''].filter(Boolean).join(' ');
}

function clientOf(user: string): BenchClient {
  const client = byUser.get(user)?.client;
  if (!client) throw new Error(`${user} is not connected here`);
  return client;
}

async function inLanes<T>(items: T[], concurrency: number, each: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) await each(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
}

function resetRecording(withDedup: boolean): null {
  histogram = newHistogram();
  stats = { ...ZERO, connected: stats.connected, drops: stats.drops };
  markUs = Infinity;
  for (const s of senders.values()) {
    s.sent = 0;
    s.delivered = 0;
  }
  firstRecvUs = lastRecvUs = 0;
  perMessage = new Map();
  dedup = withDedup ? new Set() : undefined;
  return null;
}

/**
 * 1:1 load from every local sender stream: a fixed total rate (CO-corrected: each message is
 * stamped with its place in the schedule, streams taken in turn) or saturation, where each
 * stream keeps `window` messages in flight. `reset: false` keeps counts from before (the
 * reconnect storm counts unique deliveries across the whole run); `drain: false` returns at
 * the end of the window without waiting for the recipients (they may live in other workers).
 */
async function run(request: Request): Promise<RunResult> {
  const mode = request.mode as 'rate' | 'saturate';
  const durationMs = request.durationMs as number;
  const maxInflight = request.maxInflight as number;
  if (request.reset !== false) resetRecording(false);
  let overloaded = false;
  const list = [...senders.values()];
  const started = nowUs();
  let timer: NodeJS.Timeout | undefined;
  if (mode === 'saturate') {
    saturating = { window: request.window as number };
    for (const s of list) pump(s, saturating.window);
  } else if (list.length > 0) {
    const intervalUs = 1e6 / (request.rate as number);
    let due = 0;
    let turn = 0;
    timer = setInterval(() => {
      const now = nowUs();
      while (!overloaded && started + due * intervalUs <= now) {
        const s = list[turn++ % list.length]!;
        if (stats.sent - stats.received > maxInflight && request.drain !== false) overloaded = true;
        else sendOne(s, started + due * intervalUs);
        due++;
      }
    }, 1);
  }
  await sleep(durationMs);
  clearInterval(timer);
  saturating = undefined;
  const receivedInWindow = stats.received;
  // Drain: what was sent in the window still counts for latency.
  const deadline = Date.now() + 15_000;
  while (request.drain !== false && stats.received < stats.sent && Date.now() < deadline) await sleep(20);
  return {
    ...stats,
    receivedInWindow,
    overloaded,
    histogram: hdr.encodeIntoCompressedBase64(histogram),
  };
}

/** Fan-out: one sender sends `count` messages to a group or room, `intervalMs` apart (0: at once). */
async function burst(request: Request): Promise<{ sent: number; acked: number }> {
  const sender: SenderState = {
    stream: `${request.sender as string}~${request.target as string}`,
    slot: byUser.get(request.sender as string)!,
    target: request.target as string,
    n: 0,
    sent: 0,
    delivered: 0,
  };
  const count = request.count as number;
  const intervalMs = request.intervalMs as number;
  const acked0 = stats.acked + stats.ackFailed;
  for (let i = 0; i < count; i++) {
    sendOne(sender, nowUs());
    if (intervalMs > 0) await sleep(intervalMs);
  }
  const deadline = Date.now() + 120_000;
  while (stats.acked + stats.ackFailed - acked0 < count && Date.now() < deadline) await sleep(10);
  return { sent: count, acked: stats.acked - acked0 };
}

function startHeartbeat(everyMs: number): null {
  clearInterval(heartbeat);
  heartbeat = undefined;
  if (everyMs <= 0) return null;
  // One tick per 100 ms pings the slice of clients due in it: each client every `everyMs`.
  const tickMs = 100;
  const perTick = Math.max(1, Math.ceil((slots.length * tickMs) / everyMs));
  let cursor = 0;
  heartbeat = setInterval(() => {
    for (let k = 0; k < perTick && slots.length > 0; k++) {
      slots[cursor % slots.length]?.client?.ping();
      cursor++;
    }
  }, tickMs);
  return null;
}

function destroyAll(): number {
  let n = 0;
  for (const slot of slots) {
    if (slot.client) {
      slot.client.destroy();
      slot.client = undefined;
      n++;
    }
  }
  stats.connected = 0;
  return n;
}

serveParent({}, async (request) => {
  switch (request.type) {
    case 'open':
      return open(request);
    case 'directs': {
      const pairs = request.pairs as [string, string][];
      // A sender whose connection failed (counted at open) has no stream.
      await inLanes(
        pairs.filter(([from]) => byUser.get(from)?.client),
        32,
        async ([from, to]) => {
          const target = await clientOf(from).direct(to);
          const stream = `${from}~${to}`;
          senders.set(stream, { stream, slot: byUser.get(from)!, target, n: 0, sent: 0, delivered: 0 });
        },
      );
      return null;
    }
    case 'expect':
      for (const [user, peer] of request.pairs as [string, string][]) byUser.get(user)?.client?.expectFrom(peer);
      return null;
    case 'join': {
      // Users whose connection failed (counted at open) stay out.
      const users = ((request.users as string[] | undefined) ?? slots.map((s) => s.user)).filter(
        (user) => byUser.get(user)?.client,
      );
      let target = '';
      await inLanes(users, 64, async (user) => {
        target = await clientOf(user).joinRoom(request.room as string);
      });
      return target;
    }
    case 'group': {
      const client = clientOf(request.owner as string);
      if (!client.createGroup) throw new Error('this system has no stored groups');
      return client.createGroup(request.members as string[]);
    }
    case 'record':
      return resetRecording(request.dedup === true);
    case 'run':
      return run(request);
    case 'burst':
      return burst(request);
    case 'stats':
      return stats;
    case 'mark':
      markUs = request.us as number;
      return null;
    case 'collect':
      return {
        received: stats.received,
        histogram: hdr.encodeIntoCompressedBase64(histogram),
        firstRecvUs,
        lastRecvUs,
        perMessage: [...perMessage].map(([n, [sent, last]]) => [n, sent, last]),
      } satisfies Collected;
    case 'heartbeat':
      return startHeartbeat(request.everyMs as number);
    case 'drop':
      return destroyAll();
    case 'reconnect': {
      const result = await connectSlots(slots, request.sources as string[], request.concurrency as number);
      await inLanes(slots, 64, async (slot) => {
        await slot.client?.catchUp();
      });
      return result;
    }
    case 'close':
      startHeartbeat(0);
      destroyAll();
      // MQTT persistent sessions outlive the connection on the broker: a clean connect ends them.
      if (persistent && endpoint?.system === 'mosquitto') {
        persistent = false;
        await connectSlots(slots, request.sources as string[], 64);
        destroyAll();
      }
      return null;
    default:
      throw new Error(`unknown request ${request.type}`);
  }
});
