import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Command, ErrorCode } from '@parley/protocol';
import { SessionState } from '../src/session/session.js';
import { TestServer } from './helpers/server.js';

describe('server: PROBE', () => {
  test('answers after the requested silence, not before', async () => {
    const ts = await TestServer.start();
    try {
      const client = await ts.login('probe-a');
      const started = performance.now();
      const answer = await client.request(Command.PROBE, { delayMs: 400 });
      const waited = performance.now() - started;
      assert.ok(waited >= 395 && waited < 2_000, `answered after ${waited.toFixed(0)} ms`);
      assert.ok(answer.delayedMs >= 400 && answer.delayedMs < 2_000, `delayed_ms ${String(answer.delayedMs)}`);
      client.destroy();
    } finally {
      await ts.stop();
    }
  });

  test('refuses a delay over the cap, a second probe at once, and any probe before login', async () => {
    const ts = await TestServer.start({ limits: { probeMaxDelayMs: 1_000 } });
    try {
      const client = await ts.login('probe-b');
      const over = await client.requestRaw(Command.PROBE, { delayMs: 1_001 });
      assert.equal(over.status.code, ErrorCode.INVALID_ARGUMENT);
      assert.match(over.status.message, /at most 1000/);

      const first = client.request(Command.PROBE, { delayMs: 300 });
      const second = await client.requestRaw(Command.PROBE, { delayMs: 10 });
      assert.equal(second.status.code, ErrorCode.RATE_LIMITED, 'one probe at a time per connection');
      assert.ok((await first).delayedMs >= 300);

      const anonymous = await ts.connect('tcp');
      const early = await anonymous.requestRaw(Command.PROBE, { delayMs: 10 });
      assert.equal(early.status.code, ErrorCode.UNAUTHENTICATED);
      client.destroy();
      anonymous.destroy();
    } finally {
      await ts.stop();
    }
  });

  test('a probe longer than the heartbeat interval plus grace keeps the connection alive', async () => {
    const ts = await TestServer.start({ limits: { heartbeatMinMs: 200, heartbeatGraceMs: 200 } });
    try {
      const client = await ts.login('probe-c', 'ws', { heartbeatIntervalMs: 200 });
      // Silent for 1.2 s, three times the 400 ms the sweeper would otherwise allow.
      const answer = await client.request(Command.PROBE, { delayMs: 1_200 }, { timeoutMs: 3_000 });
      assert.ok(answer.delayedMs >= 1_200);
      // The heartbeat deadline runs again from the answer: silence after it is still caught.
      await client.closed;
      const timeouts = await ts.server.ctx.metrics.heartbeatTimeouts.get();
      assert.equal(timeouts.values[0]?.value, 1);
    } finally {
      await ts.stop();
    }
  });

  test('a connection closed during a probe leaves no timer behind', async () => {
    const ts = await TestServer.start();
    try {
      const client = await ts.login('probe-d');
      void client.requestRaw(Command.PROBE, { delayMs: 60_000 }, { timeoutMs: 60_000 }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 100));
      const [session] = [...ts.server.sweeper.sessions()];
      assert.ok(session?.probeTimer !== undefined, 'the probe is waiting');
      client.destroy();
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(session.state, SessionState.Closed);
      assert.equal(session.probeTimer, undefined, 'the timer was cleared with the session');
    } finally {
      await ts.stop();
    }
  });
});
