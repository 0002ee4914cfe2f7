// SDK clients (ParleyClient) for the process-level cluster tests: each is given every node's
// address and moves to the next one when its node is gone, and records what its app would see.
import {
  type ChatMessage,
  FixedHeartbeat,
  type Link,
  type LinkHandlers,
  type OutboxMessage,
  ParleyClient,
  type Transport,
  pb,
} from '@parley/client';
import { tcpTransport } from '@parley/client/node';

/**
 * A TCP transport over a list of nodes (127.0.0.1, one port each): an attempt dials the node
 * that worked last (first `start`), then the others in turn, so a client whose node died
 * logs in on the next. `ports` is read at every attempt, so a replaced node is found.
 */
export function failoverTransport(
  ports: () => readonly number[],
  start: number,
): Transport & { readonly port: number } {
  let next = start;
  let connected = -1;
  return {
    name: 'tcp',
    get port() {
      return connected;
    },
    async connect(handlers: LinkHandlers, signal: AbortSignal): Promise<Link> {
      const list = ports();
      let lastError: unknown;
      for (let i = 0; i < list.length; i++) {
        const index = (next + i) % list.length;
        const port = list[index] as number;
        try {
          const link = await tcpTransport({ host: '127.0.0.1', port }).connect(handlers, signal);
          next = index;
          connected = port;
          return link;
        } catch (err) {
          if (signal.aborted) throw err;
          lastError = err;
        }
      }
      throw lastError instanceof Error ? lastError : new Error('no node reachable');
    },
  };
}

/** A ParleyClient with test timings and a record of its messages and acks. */
export class RecordedClient {
  readonly client: ParleyClient;
  readonly transport: ReturnType<typeof failoverTransport>;
  /** Every `message` event, with the time it arrived. */
  readonly messages: { message: ChatMessage; at: number }[] = [];
  /** Per local id: the times it went from `sending` to `sent` (acked). */
  readonly acks = new Map<string, number[]>();
  readonly failed: OutboxMessage[] = [];
  readonly errors: Error[] = [];
  readonly sent: OutboxMessage[] = [];

  constructor(
    readonly userId: string,
    ports: () => readonly number[],
    home: number,
    token: () => Promise<string>,
  ) {
    this.transport = failoverTransport(ports, home);
    this.client = new ParleyClient({
      transport: this.transport,
      token,
      deviceId: `${userId}-device`,
      platform: pb.Platform.DESKTOP,
      heartbeat: new FixedHeartbeat({ intervalMs: 5_000, pingTimeoutMs: 2_000 }),
      connection: {
        backoff: { baseMs: 50, capMs: 300, resetAfterMs: 60_000, goawayJitterMs: 20 },
        tasks: { retryDelayMs: 50, timeoutMs: 3_000 },
        watchOnline: false,
      },
      outbox: { timeoutMs: 3_000, retryBaseMs: 50, retryCapMs: 500, keepSettled: 10_000 },
      sync: { initialMessages: 1_000, persistDelayMs: 5 },
      cache: { persistDelayMs: 5 },
      deliveryReceipts: false,
    });
    this.client.on('message', (message) => this.messages.push({ message, at: Date.now() }));
    this.client.on('outbox', (message, previous) => {
      if (message.state === 'sent' && previous === 'sending') {
        this.acks.set(message.localId, [...(this.acks.get(message.localId) ?? []), Date.now()]);
      }
      if (message.state === 'failed') this.failed.push(message);
    });
    this.client.on('error', (error) => this.errors.push(error));
  }

  async connect(): Promise<void> {
    await this.client.connect();
    await this.client.ready({ timeoutMs: 30_000 });
  }

  send(conversationId: string, text: string): OutboxMessage {
    const message = this.client.send(conversationId, text);
    this.sent.push(message);
    return message;
  }

  /** Seqs of the conversation's messages in the order the app saw them. */
  seqs(conversationId: string): number[] {
    return this.messages.filter((m) => m.message.conversationId === conversationId).map((m) => m.message.seq);
  }

  /** Whether every message this client sent has been acked. */
  allAcked(): boolean {
    return this.sent.every((m) => {
      const state = this.client.outbox.get(m.localId)?.state;
      return state === 'sent' || state === 'delivered' || state === 'read';
    });
  }

  /** The acked seq of each message sent, by local id. */
  ackedSeqs(): Map<string, number> {
    const seqs = new Map<string, number>();
    for (const m of this.sent) {
      const seq = this.client.outbox.get(m.localId)?.seq;
      if (seq !== undefined) seqs.set(m.localId, seq);
    }
    return seqs;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
