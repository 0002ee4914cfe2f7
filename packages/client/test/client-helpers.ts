// Shared helpers for the outbox, sync and client tests: ParleyClients with test timings on a
// real server, a transport wrapper that drops chosen pushes (a lost frame) and counts the
// commands a client sends, and a recorder of what the app saw.
import { Command, Flags, type Frame, pb } from '@parley/protocol';
import {
  type ChatMessage,
  FixedHeartbeat,
  type KeyValueStore,
  type Link,
  type OutboxMessage,
  ParleyClient,
  type ParleyClientOptions,
  type Transport,
} from '../src/index.js';
import { FAST_BACKOFF, type Harness, type Kind, waitFor } from './connection-harness.js';

/** Server limits that do not throttle bulk tests. */
export const UNLIMITED = {
  sendsPerSecond: 1_000_000,
  sendBurst: 1_000_000,
  requestsPerSecond: 1_000_000,
  requestBurst: 1_000_000,
};

/** Wraps a transport: drops pushes `dropDown` picks, counts the requests sent by command. */
export class TapTransport implements Transport {
  readonly name: string;
  readonly sent = new Map<number, number>();
  dropDown: ((frame: Frame) => boolean) | undefined;
  /** Returns true to deliver a frame twice (a duplicate push). */
  repeatDown: ((frame: Frame) => boolean) | undefined;
  dropped: Frame[] = [];

  constructor(readonly inner: Transport) {
    this.name = inner.name;
  }

  async connect(handlers: Parameters<Transport['connect']>[0], signal: AbortSignal): Promise<Link> {
    const link = await this.inner.connect(
      {
        onFrame: (frame) => {
          if (this.dropDown?.(frame)) {
            this.dropped.push({ ...frame, body: frame.body.slice() });
            return;
          }
          const again = this.repeatDown?.(frame) ? { ...frame, body: frame.body.slice() } : undefined;
          handlers.onFrame(frame);
          if (again) handlers.onFrame(again);
        },
        onClose: (error) => {
          handlers.onClose(error);
        },
      },
      signal,
    );
    return {
      send: (bytes) => {
        const command = (bytes[4] as number) * 256 + (bytes[5] as number);
        this.sent.set(command, (this.sent.get(command) ?? 0) + 1);
        return link.send(bytes);
      },
      close: () => {
        link.close();
      },
      get bufferedAmount() {
        return link.bufferedAmount;
      },
      remote: link.remote,
    };
  }

  count(command: number): number {
    return this.sent.get(command) ?? 0;
  }
}

/** True for a MESSAGE push frame. */
export function isMessagePush(frame: Frame): boolean {
  return frame.command === Command.MESSAGE && (frame.flags & Flags.RESPONSE) === 0;
}

let devices = 0;
const clients = new Set<ParleyClient>();

export interface TestClient {
  client: ParleyClient;
  tap: TapTransport;
  seen: Recorder;
}

/** A ParleyClient with fast backoff and retries, recorded; closed by `closeClients`. */
export function makeClient(
  h: Harness,
  userId: string,
  kind: Kind,
  options: Partial<ParleyClientOptions> & { storage?: KeyValueStore; deviceId?: string; port?: number } = {},
): TestClient {
  const tap = new TapTransport(h.transport(kind, options.port));
  const client = new ParleyClient({
    token: () => h.token(userId),
    deviceId: `dev-${userId}-${String(++devices)}`,
    platform: pb.Platform.DESKTOP,
    heartbeat: new FixedHeartbeat({ intervalMs: 10_000, pingTimeoutMs: 1_000 }),
    connection: { backoff: FAST_BACKOFF, tasks: { retryDelayMs: 30, timeoutMs: 2_000 }, watchOnline: false },
    outbox: { timeoutMs: 2_000, retryBaseMs: 20, retryCapMs: 200, keepSettled: 5_000 },
    sync: { persistDelayMs: 5 },
    cache: { persistDelayMs: 5 },
    deliveryReceipts: { delayMs: 10 },
    ...options,
    transport: tap,
  });
  clients.add(client);
  return { client, tap, seen: new Recorder(client) };
}

export async function closeClients(): Promise<void> {
  const all = [...clients];
  clients.clear();
  await Promise.all(all.map((c) => c.close()));
}

/** What the app saw: messages per conversation in arrival order, outbox transitions. */
export class Recorder {
  readonly messages: ChatMessage[] = [];
  readonly transitions: { localId: string; state: string }[] = [];
  readonly errors: Error[] = [];

  constructor(readonly client: ParleyClient) {
    client.on('message', (m) => this.messages.push(m));
    client.on('outbox', (m) => this.transitions.push({ localId: m.localId, state: m.state }));
    client.on('error', (e) => this.errors.push(e));
  }

  in(conversationId: string): ChatMessage[] {
    return this.messages.filter((m) => m.conversationId === conversationId);
  }

  texts(conversationId: string): string[] {
    return this.in(conversationId).map((m) => m.content.text ?? '');
  }

  /** How many times each local id reached `state`. */
  reached(state: string): Map<string, number> {
    const counts = new Map<string, number>();
    for (const t of this.transitions) if (t.state === state) counts.set(t.localId, (counts.get(t.localId) ?? 0) + 1);
    return counts;
  }
}

/** Waits until every listed outbox message has at least reached `state`. */
export async function waitForStates(
  client: ParleyClient,
  messages: readonly OutboxMessage[],
  states: readonly string[],
  timeoutMs = 20_000,
): Promise<void> {
  await waitFor(
    () => messages.every((m) => states.includes(client.outbox.get(m.localId)?.state ?? 'gone')),
    timeoutMs,
    `outbox states ${states.join('/')}`,
  );
}

/** Asserts seqs are consecutive and texts are in the expected order; returns a description of the first problem. */
export function orderProblem(seen: readonly ChatMessage[], expected: readonly string[]): string | undefined {
  const texts = seen.map((m) => m.content.text ?? '');
  if (texts.length !== expected.length)
    return `got ${String(texts.length)} messages, expected ${String(expected.length)}`;
  for (let i = 0; i < texts.length; i++) {
    if (texts[i] !== expected[i]) return `message ${String(i)} is ${String(texts[i])}, expected ${String(expected[i])}`;
    const prev = seen[i - 1];
    if (prev && (seen[i] as ChatMessage).seq !== prev.seq + 1) return `seq gap after ${String(prev.seq)}`;
  }
  return undefined;
}

/** Texts "<prefix>-0" ... "<prefix>-(n-1)". */
export function texts(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}-${String(i)}`);
}
