import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, type Socket, connect as netConnect, createServer } from 'node:net';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { FLUSH_AT, TurnWrites } from '../src/gateway/turn-writes.js';

/** A sink that records each write the stream machinery hands it: one entry per write or writev. */
class RecordingSink extends Writable {
  readonly calls: Buffer[][] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.calls.push([chunk]);
    callback();
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.calls.push(chunks.map((c) => c.chunk));
    callback();
  }
}

const frame = (byte: number, size = 16): Uint8Array => new Uint8Array(size).fill(byte);
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('TurnWrites', () => {
  test("a burst's first frame leaves at once; the rest leave together, in order, before the next wave", async () => {
    const sink = new RecordingSink();
    const writes = new TurnWrites(sink);
    // A continuation already queued when the burst starts (another message of the same batch) joins it.
    void Promise.resolve().then(() => {
      writes.write(frame(4));
    });
    writes.write(frame(1));
    assert.equal(sink.calls.length, 1, 'a lone frame waits for nothing');
    writes.write(frame(2));
    writes.write(frame(3));
    assert.equal(sink.calls.length, 1, 'later frames wait for the end of the burst');
    await Promise.resolve();
    await Promise.resolve();
    assert.equal(sink.calls.length, 2, 'flushed by the microtask queued behind the burst, not at the end of the turn');
    assert.deepEqual(
      sink.calls.map((c) => c.map((b) => b[0])),
      [[1], [2, 3, 4]],
    );
    writes.write(frame(5));
    assert.equal(sink.calls.length, 3, 'a later burst starts afresh');
    await nextTurn();
    assert.equal(sink.calls.length, 3);
  });

  test('bytes held back by the cork do not count as queued; bytes the sink has not taken do', async () => {
    const sink = new RecordingSink({ highWaterMark: 1 });
    const writes = new TurnWrites(sink);
    writes.write(frame(1, 100));
    writes.write(frame(2, 100));
    writes.write(frame(3, 100));
    assert.equal(sink.writableLength, 200, 'the first went to the sink, which took it');
    assert.equal(writes.held, 200);
    assert.equal(writes.queuedBytes, 0);
    await nextTurn();
    assert.equal(writes.held, 0);
    assert.equal(writes.queuedBytes, sink.writableLength);

    // A sink that does not take its bytes: what it holds is queued, whatever the cork holds on top.
    const stuck = new Writable({ write: () => undefined, writev: () => undefined });
    const slow = new TurnWrites(stuck);
    slow.write(frame(1, 100));
    assert.equal(slow.queuedBytes, 100, 'the first write is with the sink and never completes');
    slow.write(frame(2, 50));
    assert.equal(slow.queuedBytes, 100, "the burst's corked bytes are held back, not counted");
    await nextTurn();
    assert.equal(slow.queuedBytes, 150);
  });

  test('a burst that corks FLUSH_AT bytes or more sends them at once', () => {
    const sink = new RecordingSink();
    const writes = new TurnWrites(sink);
    const big = Math.ceil(FLUSH_AT / 4);
    for (let i = 0; i < 5; i++) writes.write(frame(i, big));
    assert.deepEqual(
      sink.calls.map((c) => c.length),
      [1, 4],
      'flushed within the burst',
    );
    assert.equal(writes.held, 0);
    assert.equal(writes.queuedBytes, 0);
  });

  test('several sockets written in one burst are each flushed once at its end', async () => {
    const sinks = [new RecordingSink(), new RecordingSink(), new RecordingSink()];
    const all = sinks.map((s) => new TurnWrites(s));
    for (let round = 0; round < 3; round++) for (const w of all) w.write(frame(round));
    await nextTurn();
    for (const s of sinks)
      assert.deepEqual(
        s.calls.map((c) => c.length),
        [1, 2],
      );
  });

  test('a flush that throws fails its own connection only; the others still leave', async () => {
    class BrokenSink extends RecordingSink {
      override uncork(): void {
        throw new Error('broken');
      }
    }
    const broken = new BrokenSink();
    broken.on('error', () => undefined);
    const healthy = new RecordingSink();
    const brokenWrites = new TurnWrites(broken);
    const healthyWrites = new TurnWrites(healthy);
    for (let i = 0; i < 2; i++) {
      brokenWrites.write(frame(i));
      healthyWrites.write(frame(i));
    }
    await nextTurn();
    assert.equal(broken.destroyed, true);
    assert.deepEqual(
      healthy.calls.map((c) => c.length),
      [1, 1],
    );
  });

  test('over a real TCP socket the bytes of a burst arrive whole and in order; end() flushes what is held', async () => {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    const client = netConnect((server.address() as AddressInfo).port, '127.0.0.1');
    const [socket] = await accepted;
    try {
      const received: Buffer[] = [];
      client.on('data', (chunk: Buffer) => received.push(chunk));
      const ended = once(client, 'end');
      const writes = new TurnWrites(socket);
      for (let i = 0; i < 100; i++) writes.write(frame(i % 256, 10));
      socket.end(); // before the burst's flush: end() uncorks, nothing is lost
      await ended;
      const all = Buffer.concat(received);
      assert.equal(all.length, 1000);
      for (let i = 0; i < 100; i++) assert.equal(all[i * 10], i % 256);
    } finally {
      client.destroy();
      socket.destroy();
      server.close();
    }
  });
});
