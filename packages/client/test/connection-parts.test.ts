// Unit tests of the connection's small parts: backoff, the shared deadline timer, the event
// emitter, and which errors count as retryable.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ErrorCode, ParleyError } from '@parley/protocol';
import { Deadlines } from '../src/connection/timers.js';
import { Backoff, ClientError, ClientErrorCode, Emitter, isRetryable } from '../src/index.js';
import { sleep } from './connection-harness.js';

describe('Backoff', () => {
  test('full jitter under a ceiling that doubles up to the cap', () => {
    const b = new Backoff({ baseMs: 100, capMs: 1_000, random: () => 0.999 });
    assert.deepEqual(
      Array.from({ length: 6 }, () => b.next()),
      [99, 199, 399, 799, 999, 999],
    );
    const zero = new Backoff({ random: () => 0 });
    assert.equal(zero.next(), 0);
  });

  test('the background cap applies in the background', () => {
    const b = new Backoff({ baseMs: 1_000, capMs: 2_000, backgroundCapMs: 8_000, random: () => 0.5 });
    b.attempt = 10;
    assert.equal(b.next(), 1_000);
    b.background = true;
    assert.equal(b.next(), 4_000);
  });

  test('the attempt count resets only after a stable link', () => {
    const b = new Backoff({ resetAfterMs: 1_000 });
    b.attempt = 5;
    b.linkEnded(999);
    assert.equal(b.attempt, 5);
    b.linkEnded(1_000);
    assert.equal(b.attempt, 0);
  });

  test('GOAWAY waits the server delay plus bounded jitter', () => {
    assert.equal(new Backoff({ goawayJitterMs: 500, random: () => 0.5 }).goaway(2_000), 2_250);
  });
});

describe('Deadlines', () => {
  test('runs entries in time order on one timer, and replaced or deleted entries do not run', async () => {
    const d = new Deadlines();
    const ran: string[] = [];
    const t0 = Date.now();
    d.set('b', t0 + 40, () => ran.push('b'));
    d.set('a', t0 + 10, () => ran.push('a'));
    d.set('c', t0 + 20, () => ran.push('c'));
    d.delete('c');
    d.set('b', t0 + 30, () => ran.push('b2'));
    d.setEarliest('a', t0 + 50, () => ran.push('late')); // keeps the earlier entry
    await sleep(60);
    assert.deepEqual(ran, ['a', 'b2']);
    d.set('x', Date.now() + 10, () => ran.push('x'));
    d.clear();
    await sleep(20);
    assert.deepEqual(ran, ['a', 'b2']);
  });

  test('an entry that is never due arms no timer, and a far one does not overflow', async () => {
    const d = new Deadlines();
    let ran = 0;
    d.set('never', Number.POSITIVE_INFINITY, () => ran++);
    d.set('far', Date.now() + 40 * 24 * 3600_000, () => ran++);
    await sleep(20);
    assert.equal(ran, 0);
    d.clear();
  });

  test('an entry set from a callback is armed', async () => {
    const d = new Deadlines();
    let count = 0;
    const tick = (): void => {
      if (++count < 3) d.set('t', Date.now() + 5, tick);
    };
    d.set('t', Date.now() + 5, tick);
    await sleep(60);
    assert.equal(count, 3);
  });
});

describe('Emitter', () => {
  test('typed listeners, once, off, and a throwing listener does not stop the others', () => {
    const errors: unknown[] = [];
    const e = new Emitter<{ n: (value: number) => void }>({ onListenerError: (err) => errors.push(err) });
    const seen: number[] = [];
    e.on('n', () => {
      throw new Error('listener bug');
    });
    const off = e.on('n', (v) => seen.push(v));
    e.once('n', (v) => seen.push(v * 10));
    assert.equal(e.emit('n', 1), true);
    e.emit('n', 2);
    off();
    e.emit('n', 3);
    assert.deepEqual(seen, [1, 10, 2]);
    assert.equal(e.listenerCount('n'), 1);
    assert.equal(errors.length, 3);
  });

  test('a listener added during an emit runs from the next emit on', () => {
    const e = new Emitter<{ tick: () => void }>();
    let late = 0;
    e.on('tick', () => {
      e.on('tick', () => late++);
    });
    e.emit('tick');
    assert.equal(late, 0);
    e.emit('tick');
    assert.equal(late, 1);
  });
});

describe('isRetryable', () => {
  test('server codes that say try again, timeouts and lost links are retryable; the rest are not', () => {
    const server = (code: ErrorCode) => new ClientError(ClientErrorCode.SERVER, code, 'x');
    assert.equal(isRetryable(server(ErrorCode.UNAVAILABLE)), true);
    assert.equal(isRetryable(server(ErrorCode.TIMEOUT)), true);
    assert.equal(isRetryable(server(ErrorCode.RATE_LIMITED)), true);
    assert.equal(isRetryable(server(ErrorCode.SHUTTING_DOWN)), true);
    assert.equal(isRetryable(server(ErrorCode.PERMISSION_DENIED)), false);
    assert.equal(isRetryable(server(ErrorCode.INTERNAL)), false);
    assert.equal(isRetryable(new ClientError(ClientErrorCode.LINK_LOST, ErrorCode.UNAVAILABLE, 'x')), true);
    assert.equal(isRetryable(new ClientError(ClientErrorCode.TASK_TIMEOUT, ErrorCode.TIMEOUT, 'x')), true);
    assert.equal(isRetryable(new ClientError(ClientErrorCode.TASK_EXPIRED, ErrorCode.TIMEOUT, 'x')), false);
    assert.equal(isRetryable(new ClientError(ClientErrorCode.CLOSED, ErrorCode.UNAVAILABLE, 'x')), false);
    assert.equal(isRetryable(new ParleyError(ErrorCode.UNAVAILABLE, 'x')), true);
    assert.equal(isRetryable(new Error('x')), false);
  });
});
