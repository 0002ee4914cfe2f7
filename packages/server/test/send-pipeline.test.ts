import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type Socket, connect as netConnect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Command, ErrorCode, Flags, type Frame, FrameCodec, FrameDecoder, pb } from '@parley/protocol';
import { TestServer } from './helpers/server.js';
import type { TestClient } from './helpers/test-client.js';

/**
 * A sender that writes many SENDs in one socket write, as a client with several messages in
 * flight does, and collects the responses by seq. The TestClient writes one frame per call,
 * which would leave it to the network whether the server sees them in one read.
 */
class RawSender {
  readonly codec = new FrameCodec();
  readonly responses = new Map<number, Frame>();
  readonly #decoder = new FrameDecoder();
  #waiter: (() => void) | undefined;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.#decoder.push(chunk, (frame) => {
        if ((frame.flags & Flags.RESPONSE) === 0) return;
        this.responses.set(frame.seq, { ...frame, body: Uint8Array.from(frame.body) });
        this.#waiter?.();
      });
    });
  }

  static async login(ts: TestServer, userId: string): Promise<RawSender> {
    const socket = netConnect(ts.port('tcp'), '127.0.0.1');
    await once(socket, 'connect');
    const sender = new RawSender(socket);
    socket.write(
      sender.codec.request(Command.LOGIN, 1, {
        token: await ts.token(userId),
        deviceId: `${userId}-raw`,
        platform: pb.Platform.DESKTOP,
        heartbeatIntervalMs: 30_000,
      }),
    );
    await sender.waitFor([1]);
    return sender;
  }

  async waitFor(seqs: number[]): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!seqs.every((s) => this.responses.has(s))) {
      if (Date.now() > deadline) throw new Error(`no responses to seqs ${seqs.join(',')} within 10 s`);
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
        setTimeout(resolve, 100);
      });
    }
  }
}

describe('a session with several SENDs in flight', () => {
  let ts: TestServer;
  let a: RawSender;
  let b: TestClient;
  let conversationId = '';

  before(async () => {
    ts = await TestServer.start();
    a = await RawSender.login(ts, 'sp-a');
    b = await ts.login('sp-b');
    const conv = await b.request(Command.CONV_CREATE, { type: pb.ConversationType.DIRECT, memberIds: ['sp-a'] });
    conversationId = conv.state?.conversation?.conversationId ?? '';
  });
  after(async () => {
    a.socket.destroy();
    b.destroy();
    await ts.stop();
  });

  test('are stored in the order sent, share a commit, and a failed one holds up none after it', async () => {
    const batchesBefore = await batchSizes(ts);
    const count = 20;
    const bad = 7; // an empty TEXT: refused before it reaches the store
    const frames = Array.from({ length: count }, (_, i) =>
      a.codec.request(Command.SEND, 100 + i, {
        conversationId,
        clientMessageId: `sp-${String(i)}`,
        content: { type: pb.MessageType.TEXT, text: i === bad ? '' : `m${String(i)}` },
      }),
    );
    a.socket.write(Buffer.concat(frames));
    const seqs = frames.map((_, i) => 100 + i);
    await a.waitFor(seqs);

    const stored: number[] = [];
    for (const [i, seq] of seqs.entries()) {
      const frame = a.responses.get(seq) as Frame;
      const status = a.codec.responseStatus(frame);
      if (i === bad) {
        assert.equal(status.code, ErrorCode.INVALID_ARGUMENT);
        continue;
      }
      assert.equal(status.code, ErrorCode.OK, `SEND ${String(i)}: ${status.message}`);
      stored.push(a.codec.decodeResponse(Command.SEND, frame).seq);
    }
    // Gapless and in the order sent.
    assert.deepEqual(
      stored,
      stored.map((_, i) => (stored[0] ?? 0) + i),
    );

    // The recipient gets them in that order too.
    const pushed: string[] = [];
    for (let i = 0; i < count - 1; i++) {
      const push = await b.nextPush(Command.MESSAGE);
      pushed.push(push.message?.clientMessageId ?? '');
    }
    assert.deepEqual(
      pushed,
      seqs.flatMap((_, i) => (i === bad ? [] : [`sp-${String(i)}`])),
    );

    // Written in one read, they went to the store together, not one commit each.
    const batches = subtract(await batchSizes(ts), batchesBefore);
    assert.equal(batches.messages, count - 1);
    assert.ok(batches.commits < count - 1, `${String(batches.commits)} commits for ${String(count - 1)} messages`);
  });
});

/** Messages and commits group commit has written so far (its batch-size histogram). */
async function batchSizes(ts: TestServer): Promise<{ messages: number; commits: number }> {
  const { values } = await ts.server.ctx.metrics.storeBatchSize.get();
  const read = (name: string) => values.find((v) => v.metricName === name)?.value ?? 0;
  return { messages: read('parley_store_batch_size_sum'), commits: read('parley_store_batch_size_count') };
}

function subtract(
  now: { messages: number; commits: number },
  before: { messages: number; commits: number },
): { messages: number; commits: number } {
  return { messages: now.messages - before.messages, commits: now.commits - before.commits };
}
