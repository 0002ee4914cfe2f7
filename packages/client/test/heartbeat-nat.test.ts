// The smart heartbeat end to end on real sockets, through the NAT stand-in: it must converge
// below the NAT's idle timeout in a bounded number of cycles and detect every drop within the
// ping timeout. A one-byte PING ("P") / answer ("p") server stands in for Parley's.
import assert from 'node:assert/strict';
import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import type { HeartbeatPolicy } from '../src/connection/heartbeat-policy.js';
import { type HeartbeatInfo, Liveness } from '../src/connection/liveness.js';
import { Deadlines } from '../src/connection/timers.js';
import { SmartHeartbeat, type SmartHeartbeatOptions } from '../src/heartbeat/index.js';
import { NatProxy } from './helpers/nat-proxy.js';

const T = 470; // the NAT idle timeout
const OPTIONS: SmartHeartbeatOptions = {
  minMs: 100,
  maxMs: 1000,
  stepMs: 100,
  marginMs: 40,
  successesToStep: 3,
  stableTestCount: 2,
  maxFailures: 2,
  pingTimeoutMs: 150,
};

let server: Server;
const serverSockets = new Set<Socket>();

before(async () => {
  server = createServer((socket) => {
    serverSockets.add(socket);
    socket.on('close', () => serverSockets.delete(socket));
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      for (const byte of chunk) if (byte === 0x50) socket.write('p');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

after(async () => {
  for (const socket of serverSockets) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
});

/**
 * A minimal client around the connection core's own heartbeat loop (`Liveness`): one socket
 * at a time, "logged in" as soon as it connects, reconnecting at once when the link is
 * declared dead. The server accepts whatever interval is declared.
 */
class Client {
  readonly policy = new SmartHeartbeat(OPTIONS);
  readonly liveness: Liveness;
  readonly deaths: HeartbeatInfo[] = [];
  readonly deathDelays: number[] = [];
  pings = 0;
  links = 0;
  #socket: Socket | undefined;
  #pingSentAt = 0;
  #closed = false;

  constructor(readonly port: number) {
    const policy: HeartbeatPolicy = this.policy; // the core's interface, structurally
    this.liveness = new Liveness(policy, new Deadlines(), {
      sendPing: () => {
        this.pings++;
        this.#pingSentAt = Date.now();
        if (!this.#socket) return false;
        this.#socket.write('P');
        this.liveness.sent(Date.now()); // as the connection does for every frame it writes
        return true;
      },
      declare: (intervalMs) => {
        queueMicrotask(() => {
          this.liveness.accepted(Date.now(), intervalMs);
        });
      },
      dead: () => {
        this.deathDelays.push(Date.now() - this.#pingSentAt);
        this.#reconnect();
      },
      report: (info) => {
        if (!info.ok) this.deaths.push(info);
      },
    });
  }

  connect(): void {
    const socket = connect({ host: '127.0.0.1', port: this.port });
    this.#socket = socket;
    socket.on('connect', () => {
      this.links++;
      const now = Date.now();
      this.liveness.start(now, this.liveness.wanted(now), 0, 0);
    });
    socket.on('data', () => {
      this.liveness.received(Date.now());
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (socket !== this.#socket || this.#closed) return;
      this.liveness.stop(Date.now());
      this.#reconnect(); // not expected: the NAT never closes anything
    });
  }

  /** The interval in force on the link now. */
  get intervalMs(): number {
    return this.liveness.intervalMs;
  }

  #reconnect(): void {
    this.#socket?.destroy();
    if (!this.#closed) this.connect();
  }

  close(): void {
    this.#closed = true;
    this.liveness.stop(Date.now());
    this.#socket?.destroy();
  }
}

async function until(predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`condition not met within ${timeoutMs} ms`);
    await sleep(10);
  }
}

test('converges below the NAT timeout, detects each drop within the ping timeout, and survives a cut', async (t) => {
  const proxy = new NatProxy({
    idleTimeoutMs: T,
    target: { host: '127.0.0.1', port: (server.address() as AddressInfo).port },
  });
  await proxy.listen();
  const client = new Client(proxy.port);
  const started = Date.now();
  client.connect();
  try {
    await until(() => client.policy.state.stable, 15_000);
    const settleMs = Date.now() - started;
    const settled = client.policy.state.currentMs;
    t.diagnostic(
      `settled at ${settled} ms against a NAT timeout of ${T} ms after ${client.pings} pings, ${settleMs} ms`,
    );

    // Below T, by about the margin: 400 ms survived, 500 ms did not.
    assert.ok(settled < T, `settled at ${settled}`);
    assert.ok(settled >= T - OPTIONS.stepMs! - OPTIONS.marginMs!, `settled at ${settled}`);
    // Bounded: the test heartbeats, successesToStep at each step up to T, and maxFailures drops.
    const steps = Math.ceil((T - OPTIONS.minMs!) / OPTIONS.stepMs!);
    assert.ok(client.pings <= 2 + steps * 3 + 2 * 3, `${client.pings} pings`);
    // Each drop was detected, by the ping timeout and not later.
    assert.equal(client.deaths.length, 2);
    assert.equal(proxy.mappings().forgotten, 2, 'the NAT dropped exactly the links the client declared dead');
    for (const death of client.deaths) assert.ok(death.intervalMs > T, `died at ${death.intervalMs}`);
    for (const delay of client.deathDelays) {
      assert.ok(
        delay >= OPTIONS.pingTimeoutMs! && delay < OPTIONS.pingTimeoutMs! + 100,
        `declared dead after ${delay} ms`,
      );
    }

    // It stays there: a few more cycles at the settled interval, no drop.
    await until(() => client.intervalMs === settled, 2000);
    const pings = client.pings;
    await until(() => client.pings >= pings + 3, 5000);
    assert.equal(client.deaths.length, 2);
    assert.equal(client.links, 3);

    // Cut the network: the next PING is lost, the link is declared dead within the ping
    // timeout, reconnects during the cut go nowhere (failures at the minimum: nothing learned),
    // and after it a new link works at the same learned interval.
    proxy.cut(4 * T);
    const cutAt = Date.now();
    await until(() => client.deaths.length > 2, settled + 1000);
    assert.ok(Date.now() - cutAt < settled + OPTIONS.pingTimeoutMs! + 100);
    await until(() => Date.now() - cutAt > 4 * T && client.intervalMs === settled, 5000);
    const after = client.pings;
    await until(() => client.pings >= after + 2, 3000);
    assert.deepEqual(client.policy.state, { ...client.policy.state, currentMs: settled, stable: true, failures: 0 });
    assert.ok(client.links > 4, 'reconnected during and after the cut');
    t.diagnostic(`after the cut: ${client.deaths.length} deaths, ${client.links} links, still ${settled} ms`);
  } finally {
    client.close();
    await proxy.close();
  }
});
