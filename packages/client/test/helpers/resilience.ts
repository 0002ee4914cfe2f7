// Shared parts of the resilience tests (test/resilience-*.test.ts): one server process per
// file, ParleyClients on it (directly or through a NatProxy), counted sockets and token
// requests, a seeded network flapper, and the exactly-once / in-order / acked-once checks every
// test ends with.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { ErrorCode, ParleyError, pb } from '@parley/protocol';
import {
  type ChatMessage,
  FixedHeartbeat,
  type OutboxMessage,
  ParleyClient,
  type ParleyClientOptions,
  type Transport,
} from '../../src/index.js';
import { nodeWebSocketTransport, tcpTransport, tlsTransport } from '../../src/node.js';
import { Recorder } from '../client-helpers.js';
import { CountingTransport, type Kind, sleep, waitFor } from '../connection-harness.js';
import { NatProxy } from './nat-proxy.js';
import { ServerProcess, type StoredRow, killAllServers } from './server-process.js';

/** Server limits that never throttle a test's bursts. */
export const UNLIMITED = {
  sendsPerSecond: 1_000_000,
  sendBurst: 1_000_000,
  requestsPerSecond: 1_000_000,
  requestBurst: 1_000_000,
};

/**
 * The test file's server process (no send or request limits): started before its tests; after
 * them every peer and proxy is closed, then the server, and any process a restart left behind.
 */
export function serverForFile(): { readonly server: ServerProcess } {
  let server: ServerProcess | undefined;
  before(async () => {
    server = await ServerProcess.start({ limits: UNLIMITED });
  });
  after(async () => {
    await closeAll();
    await server?.close();
    await killAllServers();
  });
  return {
    get server(): ServerProcess {
      if (!server) throw new Error('the server process has not started');
      return server;
    },
  };
}

/** The server port a transport kind dials. */
export function serverPort(server: ServerProcess, kind: Kind): number {
  return kind === 'tcp' ? server.ports.tcp : kind === 'tls' ? server.ports.tls : server.ports.http;
}

/** A transport of `kind` to 127.0.0.1:`port` (the server's port, or a proxy in front of it). */
export function transportFor(server: ServerProcess, kind: Kind, port = serverPort(server, kind)): Transport {
  if (kind === 'tcp') return tcpTransport({ host: '127.0.0.1', port });
  if (kind === 'tls') {
    return tlsTransport({ host: '127.0.0.1', port, servername: 'localhost', ca: server.certificate.cert });
  }
  return nodeWebSocketTransport({ url: `ws://127.0.0.1:${String(port)}/ws` });
}

/** A client under test with what it did: sockets, token requests, and what its app saw. */
export interface Peer {
  userId: string;
  deviceId: string;
  client: ParleyClient;
  sockets: CountingTransport;
  seen: Recorder;
  /** How many times the client asked its token provider. */
  tokenRequests: number;
}

export interface PeerOptions {
  /** Dial this port instead of the server's (a proxy). */
  port?: number;
  /** The token provider (default: a 1-day token from the server's secret). */
  token?: () => Promise<string>;
  /** Heartbeat interval and ping timeout (default 1 s each: a dead link is seen within ~2 s of idleness). */
  heartbeatMs?: number;
  /** SEND answer timeout (and request timeout). Default 2 s. */
  timeoutMs?: number;
  /** Off by default: these tests are about the long link (and a cut must cut the HTTP fallback too). */
  shortLink?: ParleyClientOptions['shortLink'];
}

let devices = 0;
const peers = new Set<Peer>();
const proxies = new Set<NatProxy>();

/**
 * A ParleyClient with test timings: fast backoff, 2 s connect, login, SEND and task timeouts
 * (a blackholed dial must not hang), 1 s heartbeats; memory storage.
 */
export function makePeer(server: ServerProcess, userId: string, kind: Kind, options: PeerOptions = {}): Peer {
  const sockets = new CountingTransport(transportFor(server, kind, options.port));
  const deviceId = `dev-${userId}-${String(++devices)}`;
  const provider = options.token ?? (() => server.token(userId));
  const heartbeatMs = options.heartbeatMs ?? 1_000;
  const timeoutMs = options.timeoutMs ?? 2_000;
  const peer = { userId, deviceId, sockets, tokenRequests: 0 } as Peer;
  peer.client = new ParleyClient({
    transport: sockets,
    token: () => {
      peer.tokenRequests++;
      return provider();
    },
    deviceId,
    platform: pb.Platform.DESKTOP,
    heartbeat: new FixedHeartbeat({ intervalMs: heartbeatMs, pingTimeoutMs: heartbeatMs }),
    connection: {
      backoff: { baseMs: 20, capMs: 250, resetAfterMs: 60_000, goawayJitterMs: 20 },
      tasks: { retryDelayMs: 30, timeoutMs },
      connectTimeoutMs: 2_000,
      loginTimeoutMs: 2_000,
      watchOnline: false,
    },
    outbox: { timeoutMs, retryBaseMs: 20, retryCapMs: 200, keepSettled: 5_000 },
    sync: { persistDelayMs: 5 },
    cache: { persistDelayMs: 5 },
    deliveryReceipts: { delayMs: 10 },
    shortLink: options.shortLink ?? false,
  });
  peer.seen = new Recorder(peer.client);
  peers.add(peer);
  return peer;
}

/** Connects and waits for the first login. */
export async function online(...list: Peer[]): Promise<void> {
  for (const p of list) await p.client.connect();
  await Promise.all(list.map((p) => p.client.ready({ timeoutMs: 30_000 })));
}

/**
 * A direct conversation between two connected peers, known to both before the test disturbs
 * anything. (One a client first hears of after an outage is delivered from its first message
 * too, up to `newConversationLimit`: test/sync.test.ts covers that.)
 */
export async function converse(a: Peer, b: Peer): Promise<string> {
  const id = (await a.client.createConversation({ type: 'direct', members: [b.userId] })).id;
  // Creating it again returns the same one, and puts it in b's list.
  const again = (await b.client.createConversation({ type: 'direct', members: [a.userId] })).id;
  if (again !== id) throw new Error(`two direct conversations: ${id} and ${again}`);
  return id;
}

/** Alice and bob of one scenario over one transport, online, with a direct conversation. */
export interface Pair {
  alice: Peer;
  bob: Peer;
  conv: string;
}

/**
 * Makes `alice-<scenario>-<kind>` and `bob-<scenario>-<kind>`, lets `beforeLogin` attach its
 * listeners (the first login included), brings both online and opens their conversation.
 */
export async function pair(
  server: ServerProcess,
  scenario: string,
  kind: Kind,
  options: { alice?: PeerOptions; bob?: PeerOptions; beforeLogin?: (alice: Peer, bob: Peer) => void } = {},
): Promise<Pair> {
  const alice = makePeer(server, `alice-${scenario}-${kind}`, kind, options.alice);
  const bob = makePeer(server, `bob-${scenario}-${kind}`, kind, options.bob);
  options.beforeLogin?.(alice, bob);
  await online(alice, bob);
  return { alice, bob, conv: await converse(alice, bob) };
}

/** A NatProxy (no idle timeout: it only cuts when told) in front of the server's `kind` port; closed by `closeAll`. */
export function natProxy(server: ServerProcess, kind: Kind): NatProxy {
  const proxy = new NatProxy({
    idleTimeoutMs: Infinity,
    target: { host: '127.0.0.1', port: serverPort(server, kind) },
  });
  proxies.add(proxy);
  return proxy;
}

/** Closes every peer made so far, then every proxy (teardown). */
export async function closeAll(): Promise<void> {
  const all = [...peers];
  peers.clear();
  await Promise.all(all.map((p) => p.client.close()));
  const open = [...proxies];
  proxies.clear();
  await Promise.all(open.map((p) => p.close()));
}

/** A seeded PRNG (mulberry32): flapping schedules are random but the same on every run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Flaps the proxy for `durationMs`: silently cut (every mapping forgotten, no FIN or RST) for
 * a random while, restored for a random while, again and again; ends restored. Returns the
 * number of cuts.
 */
export async function flap(
  proxy: NatProxy,
  options: { seed: number; durationMs: number; minMs?: number; maxMs?: number },
): Promise<number> {
  const random = seeded(options.seed);
  const min = options.minMs ?? 100;
  const max = options.maxMs ?? 700;
  const pick = (): number => min + Math.floor(random() * (max - min));
  const end = Date.now() + options.durationMs;
  let cuts = 0;
  try {
    while (Date.now() < end) {
      proxy.cut();
      cuts++;
      await sleep(pick());
      proxy.restore();
      await sleep(pick());
    }
  } finally {
    proxy.restore();
  }
  return cuts;
}

/** Sends `texts` from `peer` one every `everyMs`; resolves with the outbox records once all are queued. */
export async function stream(peer: Peer, conversationId: string, texts: readonly string[], everyMs: number) {
  const sent: OutboxMessage[] = [];
  for (const text of texts) {
    sent.push(peer.client.send(conversationId, text));
    await sleep(everyMs);
  }
  return sent;
}

/** A sender and what it sent. */
export interface Sender {
  peer: Peer;
  sent: readonly OutboxMessage[];
}

/** Waits until every sender's sends are acked once; a timeout says what is still wrong. */
export async function waitForAcks(senders: readonly Sender[], timeoutMs: number, what: string): Promise<void> {
  const problems = () => senders.map(({ peer, sent }) => ackProblem(peer, sent));
  await waitFor(() => problems().every((p) => p === undefined), timeoutMs, what).catch((err: unknown) => {
    const detail = senders.map((s, i) => `${s.peer.userId} ${String(problems()[i])}`).join(', ');
    throw new Error(`${String(err)}: ${detail}`);
  });
}

/** What a scenario sent in one conversation, and who must have seen it. */
export interface Exchange {
  conv: string;
  /** Who must see every message. */
  peers: readonly Peer[];
  /** Who sent what (their acks and the server's copy are checked). */
  senders: readonly Sender[];
  /** Each sender's texts, in the order sent. */
  bySender: ReadonlyMap<string, readonly string[]>;
}

/**
 * The checks every scenario ends with, once the network is stable again: waits (up to
 * `waitMs`) until each peer has seen every message, then asserts each saw each message once,
 * in order; each send was acked once; the server stored each once, at its acked seq. Returns
 * the stored rows.
 */
export async function assertEachOnce(
  server: ServerProcess,
  exchange: Exchange,
  waitMs: number,
  label = '',
): Promise<StoredRow[]> {
  const { conv, peers, senders, bySender } = exchange;
  await waitForAll(peers, conv, bySender, waitMs, label);
  for (const p of peers) assert.equal(streamProblem(p.seen.in(conv), bySender), undefined, `${label}${p.userId}`);
  for (const { peer, sent } of senders) {
    assert.equal(ackProblem(peer, sent), undefined, `${label}${peer.userId} acks`);
  }
  const rows = await server.messages(conv);
  assert.equal(storeProblem(rows, senders), undefined, `${label}store`);
  return rows;
}

/**
 * Waits until each peer has seen as many messages in `conv` as `bySender` holds (a timeout
 * names the missing seqs), then 200 ms more, so that a duplicate arriving late shows too.
 */
async function waitForAll(
  peers: readonly Peer[],
  conv: string,
  bySender: ReadonlyMap<string, readonly string[]>,
  timeoutMs: number,
  label = '',
): Promise<void> {
  const total = [...bySender.values()].reduce((n, list) => n + list.length, 0);
  for (const p of peers) {
    await waitFor(() => p.seen.in(conv).length >= total, timeoutMs, `${label}${p.userId} got everything`).catch(
      (err: unknown) => {
        const seqs = p.seen.in(conv).map((m) => m.seq);
        const missing = Array.from({ length: total }, (_, i) => i + 1).filter((n) => !seqs.includes(n));
        const view = p.client.conversation(conv);
        throw new Error(
          `${String(err)}: ${String(seqs.length)} seen, missing seqs ${missing.join(',')}; ` +
            `state ${p.client.connection.state}, cache lastSeq ${String(view?.lastSeq)}, ` +
            `order ${String(streamProblem(p.seen.in(conv), bySender))}`,
        );
      },
    );
  }
  await sleep(200);
}

/**
 * What is wrong with a recipient's view of a conversation, if anything: each message once
 * (no repeated seq or client message id), seqs 1..N with no gap, N the expected total, and
 * each sender's messages in the order they were sent.
 */
export function streamProblem(
  seen: readonly ChatMessage[],
  bySender: ReadonlyMap<string, readonly string[]>,
): string | undefined {
  const total = [...bySender.values()].reduce((n, list) => n + list.length, 0);
  if (seen.length !== total) return `got ${String(seen.length)} messages, expected ${String(total)}`;
  for (let i = 0; i < seen.length; i++) {
    const seq = (seen[i] as ChatMessage).seq;
    if (seq !== i + 1) return `message ${String(i)} has seq ${String(seq)}, expected ${String(i + 1)}`;
  }
  if (new Set(seen.map((m) => m.clientMessageId)).size !== seen.length) return 'a client message id arrived twice';
  for (const [sender, expected] of bySender) {
    const texts = seen.filter((m) => m.senderId === sender).map((m) => m.content.text ?? '');
    const i = texts.findIndex((t, k) => t !== expected[k]);
    if (texts.length !== expected.length || i !== -1) {
      return `${sender}'s messages out of order or missing at ${String(i === -1 ? texts.length : i)}`;
    }
  }
  return undefined;
}

/**
 * Errors the app saw beyond the reports a bad network may cause (a timeout or a lost link the
 * client retries by itself; routine sync failures do not even reach the app). Anything else (a
 * refused login, a protocol error, a storage failure, a sync that cannot go on) is unexpected
 * in these tests.
 */
export function unexpectedErrors(peer: Peer): Error[] {
  const transient = new Set<number>([ErrorCode.TIMEOUT, ErrorCode.UNAVAILABLE]);
  return peer.seen.errors.filter((e) => !(e instanceof ParleyError && transient.has(e.code)));
}

/**
 * What is wrong with a sender's outbox, if anything: every message acked exactly once
 * (one transition to `sent`), none still sending or failed, all seqs distinct.
 */
export function ackProblem(peer: Peer, sent: readonly OutboxMessage[]): string | undefined {
  const reached = peer.seen.reached('sent');
  for (const m of sent) {
    const record = peer.client.outbox.get(m.localId);
    const state = record?.state ?? 'gone';
    if (!['sent', 'delivered', 'read'].includes(state)) return `${m.localId} ended ${state}`;
    const acks = reached.get(m.localId) ?? 0;
    if (acks !== 1) return `${m.localId} was acked ${String(acks)} times`;
  }
  const seqs = new Set(sent.map((m) => peer.client.outbox.get(m.localId)?.seq));
  if (seqs.size !== sent.length) return 'two messages were acked with the same seq';
  return undefined;
}

/**
 * What is wrong with the server's copy, if anything: exactly the sent client message ids,
 * each stored once, seqs 1..N, each sender's in send order, and the seq each was acked with.
 */
export function storeProblem(rows: readonly StoredRow[], senders: readonly Sender[]): string | undefined {
  const total = senders.reduce((n, s) => n + s.sent.length, 0);
  if (rows.length !== total) return `stored ${String(rows.length)} messages, expected ${String(total)}`;
  if (rows.some((r, i) => r.seq !== i + 1)) return 'stored seqs are not 1..N';
  for (const { peer, sent } of senders) {
    const mine = rows.filter((r) => r.senderId === peer.userId);
    if (mine.map((r) => r.clientMessageId).join() !== sent.map((m) => m.localId).join()) {
      return `${peer.userId}'s stored messages differ from what it sent (or their order)`;
    }
    for (const r of mine) {
      const acked = peer.client.outbox.get(r.clientMessageId)?.seq;
      if (acked !== r.seq) return `${r.clientMessageId} stored at seq ${String(r.seq)}, acked with ${String(acked)}`;
    }
  }
  return undefined;
}
