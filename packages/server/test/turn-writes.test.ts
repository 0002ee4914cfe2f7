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
  test('the frames of one turn leave in one write, in order, once the turn ends', async () => {
    const sink = new RecordingSink();
    const writes = new TurnWrites(sink);
    writes.write(frame(1));
    writes.write(frame(2));
    await Promise.resolve(); // a promise continuation of the same turn joins the batch
    writes.write(frame(3));
    assert.equal(sink.calls.length, 0, 'nothing leaves before the turn ends');
    await nextTurn();
    assert.equal(sink.calls.length, 1);
    assert.deepEqual(
      sink.calls[0]?.map((b) => b[0]),
      [1, 2, 3],
    );
    writes.write(frame(4));
    await nextTurn();
    assert.equal(sink.calls.length, 2, 'the next turn corks afresh');
    assert.deepEqual(
      sink.calls[1]?.map((b) => b[0]),
      [4],
    );
  });

  test('bytes held back by the cork do not count as queued; bytes the sink has not taken do', async () => {
    const sink = new RecordingSink({ highWaterMark: 1 });
    const writes = new TurnWrites(sink);
    writes.write(frame(1, 100));
    writes.write(frame(2, 100));
    assert.equal(sink.writableLength, 200);
    assert.equal(writes.queuedBytes, 0);
    assert.equal(writes.held, 200);
    await nextTurn();
    assert.equal(writes.held, 0);
    assert.equal(writes.queuedBytes, sink.writableLength);

    // A sink that does not take its bytes: what it holds is queued, whatever the cork holds on top.
    const stuck = new Writable({ write: () => undefined, writev: () => undefined });
    const slow = new TurnWrites(stuck);
    slow.write(frame(1, 100));
    await nextTurn();
    assert.equal(slow.queuedBytes, 100, 'the first write is with the sink and never completes');
    slow.write(frame(2, 50));
    assert.equal(slow.queuedBytes, 100, "this turn's bytes are held back, not counted");
    await nextTurn();
    assert.equal(slow.queuedBytes, 150);
  });

  test('a turn that writes FLUSH_AT bytes or more sends them at once', () => {
    const sink = new RecordingSink();
    const writes = new TurnWrites(sink);
    const big = Math.ceil(FLUSH_AT / 4);
    for (let i = 0; i < 4; i++) writes.write(frame(i, big));
    assert.equal(sink.calls.length, 1, 'flushed within the turn');
    assert.equal(sink.calls[0]?.length, 4);
    assert.equal(writes.held, 0);
    assert.equal(writes.queuedBytes, 0);
  });

  test('several sockets corked in one turn are each flushed at its end', async () => {
    const sinks = [new RecordingSink(), new RecordingSink(), new RecordingSink()];
    const all = sinks.map((s) => new TurnWrites(s));
    for (let round = 0; round < 2; round++) for (const w of all) w.write(frame(round));
    await nextTurn();
    for (const s of sinks)
      assert.deepEqual(
        s.calls.map((c) => c.length),
        [2],
      );
  });

  test('over a real TCP socket the bytes of a turn arrive whole and in order; end() flushes what is held', async () => {
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
      socket.end(); // before the turn's flush: end() uncorks, nothing is lost
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
