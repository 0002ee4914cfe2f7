import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { pb } from '@parley/protocol';
import type { ChatMessage } from '../src/index.js';
import { Streams } from '../src/sync/streams.js';

function message(seq: number): ChatMessage {
  return {
    conversationId: 'c',
    seq,
    messageId: `m${String(seq)}`,
    senderId: 'u',
    senderDeviceId: 'd',
    clientMessageId: `x${String(seq)}`,
    serverTime: seq,
    content: { type: pb.MessageType.TEXT, text: String(seq) },
    recalled: false,
    conversationType: pb.ConversationType.DIRECT,
  };
}

describe('sync streams (the ordering core)', () => {
  test('a conversation never seen starts at its latest window', () => {
    const streams = new Streams();
    const s = streams.ensure('c', 500, 20);
    assert.equal(s.last, 480);
    assert.equal(s.oldest, 481);
    assert.equal(s.target, 500);
    assert.equal(streams.ensure('d', 5, 20).last, 0);
  });

  test('holds messages behind a gap, delivers the run once the gap fills, drops repeats', () => {
    const streams = new Streams();
    const s = streams.ensure('c', 0, 20);
    assert.equal(streams.add(s, message(1)), true);
    assert.deepEqual(
      streams.take(s).map((m) => m.seq),
      [1],
    );
    streams.add(s, message(3));
    streams.add(s, message(4));
    assert.deepEqual(streams.take(s), [], 'held behind the gap at 2');
    assert.equal(s.target, 4);
    assert.equal(streams.add(s, message(1)), false, 'delivered already');
    assert.equal(streams.add(s, message(3)), false, 'held already');
    streams.add(s, message(2));
    assert.deepEqual(
      streams.take(s).map((m) => m.seq),
      [2, 3, 4],
    );
  });

  test('skipGap moves past seqs the server does not have', () => {
    const streams = new Streams();
    const s = streams.ensure('c', 0, 20);
    streams.add(s, message(7));
    streams.skipGap(s);
    assert.equal(s.last, 6);
    assert.deepEqual(
      streams.take(s).map((m) => m.seq),
      [7],
    );
  });

  test('any arrival order with repeats delivers each seq once, in order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 200 }), (arrivals) => {
        const streams = new Streams();
        const s = streams.ensure('c', 0, 100);
        const out: number[] = [];
        for (const seq of arrivals) {
          streams.add(s, message(seq));
          out.push(...streams.take(s).map((m) => m.seq));
        }
        const expected: number[] = [];
        for (let seq = 1; arrivals.includes(seq); seq++) expected.push(seq);
        assert.deepEqual(out, expected);
      }),
    );
  });
});
