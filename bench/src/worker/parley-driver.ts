// Parley (and the bare anchor, which speaks the same framing) over raw TCP with
// @parley/protocol's codec: lighter than the SDK, so the load generator can hold many
// thousands of clients per process, and exactly the frames the SDK would send.
import { type Socket, connect as netConnect } from 'node:net';
import { Command, ErrorCode, Flags, type Frame, FrameCodec, FrameDecoder, pb } from '@parley/protocol';
import { directConversationId, issueToken } from '@parley/server';
import type { BenchClient, ClientEvents, Connect, ConnectOptions, Endpoint } from './driver.js';

const codec = new FrameCodec();
const REQUEST_TIMEOUT_MS = 120_000;
const SYNC_PAGE = 200;

type Waiter = (frame: Frame) => void;

class ParleyClient implements BenchClient {
  readonly #waiters = new Map<number, Waiter>();
  /** Highest seq received with every lower one also received, per conversation (kept across reconnects). */
  readonly #contiguous: Map<string, number>;
  readonly #seen: Map<string, Set<number>>;
  #seq = 0;
  #closing = false;

  constructor(
    readonly socket: Socket,
    readonly user: string,
    readonly bare: boolean,
    readonly events: ClientEvents,
    memory: Record<string, unknown>,
  ) {
    this.#contiguous = (memory.contiguous ??= new Map<string, number>()) as Map<string, number>;
    this.#seen = (memory.seen ??= new Map<string, Set<number>>()) as Map<string, Set<number>>;
  }

  onFrame(frame: Frame): void {
    if ((frame.flags & Flags.RESPONSE) !== 0) {
      const waiter = this.#waiters.get(frame.seq);
      if (waiter) {
        this.#waiters.delete(frame.seq);
        waiter(frame);
      }
      return;
    }
    if (frame.command !== Command.MESSAGE) return;
    const { message } = codec.decodePush(Command.MESSAGE, frame);
    if (!message) return;
    const conversationId = message.conversationId ?? '';
    const seq = Number(message.seq);
    if (seq > 0) this.#mark(conversationId, seq);
    this.events.onMessage({ text: message.content?.text ?? '', conversationId, seq });
  }

  #mark(conversationId: string, seq: number): void {
    let seen = this.#seen.get(conversationId);
    if (!seen) this.#seen.set(conversationId, (seen = new Set()));
    seen.add(seq);
    let c = this.#contiguous.get(conversationId) ?? 0;
    while (seen.has(c + 1)) seen.delete(++c);
    this.#contiguous.set(conversationId, c);
  }

  /** Sends the request `encode` makes for the next seq; `onAnswer` gets its response. */
  request(encode: (seq: number) => Uint8Array, onAnswer: Waiter): void {
    this.#seq = this.#seq >= 0x7fffffff ? 1 : this.#seq + 1;
    this.#waiters.set(this.#seq, onAnswer);
    this.socket.write(encode(this.#seq));
  }

  /** A request whose refusal is an error. */
  call(encode: (seq: number) => Uint8Array): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error('no answer in time'));
      }, REQUEST_TIMEOUT_MS);
      this.request(encode, (frame) => {
        clearTimeout(timer);
        const status = codec.responseStatus(frame);
        if (status.code === ErrorCode.OK) resolve(frame);
        else reject(new Error(`refused: ${String(status.code)} ${status.message}`));
      });
    });
  }

  async direct(peer: string): Promise<string> {
    if (this.bare) return peer;
    const frame = await this.call((seq) =>
      codec.request(Command.CONV_CREATE, seq, { type: pb.ConversationType.DIRECT, memberIds: [peer] }),
    );
    return codec.decodeResponse(Command.CONV_CREATE, frame).state?.conversation?.conversationId ?? '';
  }

  expectFrom(peer: string): void {
    if (this.bare) return;
    const id = directConversationId(this.user, peer);
    if (!this.#contiguous.has(id)) this.#contiguous.set(id, 0);
  }

  async joinRoom(room: string): Promise<string> {
    await this.call((seq) => codec.request(Command.ROOM_JOIN, seq, { roomId: room, recentLimit: 0 }));
    return room;
  }

  async createGroup(members: readonly string[]): Promise<string> {
    const frame = await this.call((seq) =>
      codec.request(Command.CONV_CREATE, seq, {
        type: pb.ConversationType.GROUP,
        memberIds: [...members],
        name: 'bench',
      }),
    );
    const id = codec.decodeResponse(Command.CONV_CREATE, frame).state?.conversation?.conversationId ?? '';
    // The creation's SYSTEM message is seq 1 in everyone's copy: count it as received.
    for (const m of members) if (m === this.user) this.#mark(id, 1);
    return id;
  }

  send(target: string, text: string, onAck: (ok: boolean) => void): void {
    this.request(
      (seq) =>
        codec.request(Command.SEND, seq, {
          conversationId: target,
          clientMessageId: `${this.user}-${String(seq)}`,
          content: { type: pb.MessageType.TEXT, text },
        }),
      (frame) => {
        onAck(codec.responseStatus(frame).code === ErrorCode.OK);
      },
    );
  }

  ping(): void {
    this.#seq = this.#seq >= 0x7fffffff ? 1 : this.#seq + 1;
    // A PING with a seq is answered: the round trip a real client's heartbeat makes.
    this.socket.write(codec.request(Command.PING, this.#seq, {}));
  }

  async catchUp(): Promise<void> {
    for (const conversationId of this.#contiguous.keys()) {
      for (;;) {
        const from = (this.#contiguous.get(conversationId) ?? 0) + 1;
        const frame = await this.call((seq) =>
          codec.request(Command.SYNC_MESSAGES, seq, { conversationId, fromSeq: from, limit: SYNC_PAGE }),
        );
        const page = codec.decodeResponse(Command.SYNC_MESSAGES, frame);
        for (const m of page.messages ?? []) {
          const seq = Number(m.seq);
          if (this.#seen.get(conversationId)?.has(seq) || seq <= (this.#contiguous.get(conversationId) ?? 0)) continue;
          this.#mark(conversationId, seq);
          if (m.content?.type === pb.MessageType.TEXT) {
            this.events.onMessage({ text: m.content.text ?? '', conversationId, seq });
          }
        }
        if (!page.hasMore) break;
      }
    }
  }

  destroy(): void {
    this.#closing = true;
    this.socket.destroy();
  }

  get closing(): boolean {
    return this.#closing;
  }
}

export const connectParley: Connect = async (endpoint: Endpoint, options: ConnectOptions, events: ClientEvents) => {
  const bare = endpoint.system === 'bare';
  const token = bare
    ? options.user
    : await issueToken({
        secret: endpoint.secret ?? '',
        userId: options.user,
        deviceId: `${options.user}-d`,
        ttlSeconds: 86_400,
      });
  const port = endpoint.ports[options.server % endpoint.ports.length]!;
  const socket = netConnect({ host: endpoint.host, port, localAddress: options.localAddress, noDelay: true });
  const client = new ParleyClient(socket, options.user, bare, events, options.memory);
  const decoder = new FrameDecoder();
  let loggedIn = false;
  socket.on('data', (chunk: Buffer) => {
    try {
      decoder.push(chunk, (frame) => {
        client.onFrame(frame);
      });
    } catch (err) {
      socket.destroy(err as Error);
    }
  });
  return new Promise<BenchClient>((resolve, reject) => {
    socket.on('error', (err) => {
      if (!loggedIn) reject(err);
    });
    socket.on('close', () => {
      if (!loggedIn) reject(new Error('closed before the login response'));
      else if (!client.closing) events.onDrop();
    });
    socket.on('connect', () => {
      client
        .call((seq) =>
          codec.request(Command.LOGIN, seq, {
            token,
            deviceId: `${options.user}-d`,
            platform: pb.Platform.DESKTOP,
            heartbeatIntervalMs: options.heartbeatMs,
          }),
        )
        .then(
          () => {
            loggedIn = true;
            resolve(client);
          },
          (err: unknown) => {
            socket.destroy();
            reject(err instanceof Error ? err : new Error(String(err)));
          },
        );
    });
  });
};
