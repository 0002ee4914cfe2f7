import assert from 'node:assert/strict';
import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AddressScores } from '../src/dns/address-scores.js';
import { ConnectRaceError } from '../src/dns/dns-errors.js';
import { connectRaced, interleaveFamilies } from '../src/dns/happy-eyeballs.js';
import type { ResolvedAddress } from '../src/dns/types.js';

// Real sockets to a local listener. The addresses in a race are labels: the dial function
// maps each to a behaviour, since a real unroutable address is not portable to CI.
type Behaviour = 'good' | 'blackhole' | 'refused';

let server: Server;
let goodPort: number;
let refusedPort: number;
/** Server-side sockets still open. */
const accepted = new Set<Socket>();

before(async () => {
  server = createServer((socket) => {
    accepted.add(socket);
    socket.on('close', () => accepted.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  goodPort = (server.address() as AddressInfo).port;
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  refusedPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) =>
    closed.close(() => {
      resolve();
    }),
  );
});

after(async () => {
  for (const socket of accepted) socket.destroy();
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
});

beforeEach(async () => {
  for (const socket of accepted) socket.destroy();
  await waitFor(() => accepted.size === 0);
});

async function waitFor(condition: () => boolean, ms = 1000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

function addr(address: string, family: 4 | 6 = 4): ResolvedAddress {
  return { address, family, source: 'static', expiresAt: Number.POSITIVE_INFINITY };
}

interface DialLog {
  started: string[];
  aborted: string[];
  /** Client sockets the dialer opened, by address label. */
  sockets: { address: string; socket: Socket }[];
  closedByRace: Socket[];
}

/**
 * A dial function honouring the contract: on abort it destroys its socket and rejects.
 * With `gate`, a connected socket is handed over only once the gate opens, so several
 * attempts can succeed in the same moment.
 */
function dialer(behaviours: Record<string, Behaviour>, gate: Promise<void> = Promise.resolve()) {
  const log: DialLog = { started: [], aborted: [], sockets: [], closedByRace: [] };
  const dial = (address: ResolvedAddress, signal: AbortSignal): Promise<Socket> =>
    new Promise<Socket>((resolve, reject) => {
      log.started.push(address.address);
      const behaviour = behaviours[address.address] ?? 'refused';
      // A blackholed address is a SYN into the void: no socket, only the abort ends the attempt.
      const socket =
        behaviour === 'blackhole'
          ? undefined
          : connect({ host: '127.0.0.1', port: behaviour === 'good' ? goodPort : refusedPort });
      const onAbort = () => {
        log.aborted.push(address.address);
        socket?.destroy();
        reject(signal.reason as Error);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      if (!socket) return;
      log.sockets.push({ address: address.address, socket });
      socket.once('connect', () => {
        void gate.then(() => {
          if (signal.aborted) return;
          signal.removeEventListener('abort', onAbort);
          resolve(socket);
        });
      });
      socket.once('error', (err) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      });
    });
  const close = (socket: Socket) => {
    log.closedByRace.push(socket);
    socket.destroy();
  };
  return { dial, close, log };
}

/** Client sockets still open. */
const openSockets = (log: DialLog) => log.sockets.filter((s) => !s.socket.destroyed);

describe('connectRaced', () => {
  test('a blackholed first address: the next one starts after the delay and wins; the loser is aborted', async () => {
    const { dial, close, log } = dialer({ '192.0.2.1': 'blackhole', '192.0.2.2': 'good' });
    const scores = new AddressScores();
    const started = Date.now();
    const winner = await connectRaced([addr('192.0.2.1'), addr('192.0.2.2')], { dial, close, reporter: scores });
    const elapsed = Date.now() - started;
    assert.equal(winner.address.address, '192.0.2.2');
    assert.ok(elapsed >= 240 && elapsed < 600, `took ${elapsed} ms, expected about 250`);
    assert.deepEqual(log.aborted, ['192.0.2.1']);
    // It had a head start and lost: reported as a failure, like the winner's success.
    assert.deepEqual(
      winner.failures.map((f) => f.address.address),
      ['192.0.2.1'],
    );
    assert.equal(scores.score('192.0.2.1'), -1);
    assert.equal(scores.score('192.0.2.2'), 1);
    assert.deepEqual(
      openSockets(log).map((s) => s.socket),
      [winner.connection],
    );
    await waitFor(() => accepted.size === 1);
    winner.connection.destroy();
  });

  test('a good first address wins at once and nothing else is dialled', async () => {
    const { dial, close, log } = dialer({ '192.0.2.1': 'good', '192.0.2.2': 'good' });
    const started = Date.now();
    const winner = await connectRaced([addr('192.0.2.1'), addr('192.0.2.2')], { dial, close });
    assert.ok(Date.now() - started < 200);
    assert.equal(winner.address.address, '192.0.2.1');
    await sleep(300);
    assert.deepEqual(log.started, ['192.0.2.1']);
    winner.connection.destroy();
  });

  test('a refused attempt starts the next one at once, without waiting for the delay', async () => {
    const { dial, close } = dialer({ '192.0.2.1': 'refused', '192.0.2.2': 'refused', '192.0.2.3': 'good' });
    const scores = new AddressScores();
    const started = Date.now();
    const winner = await connectRaced([addr('192.0.2.1'), addr('192.0.2.2'), addr('192.0.2.3')], {
      dial,
      close,
      attemptDelayMs: 5000,
      reporter: scores,
    });
    assert.ok(Date.now() - started < 1000);
    assert.equal(winner.address.address, '192.0.2.3');
    assert.deepEqual(
      winner.failures.map((f) => [f.address.address, (f.error as NodeJS.ErrnoException).code]),
      [
        ['192.0.2.1', 'ECONNREFUSED'],
        ['192.0.2.2', 'ECONNREFUSED'],
      ],
    );
    assert.equal(scores.score('192.0.2.1'), -1);
    winner.connection.destroy();
  });

  test('every address failing rejects with a ConnectRaceError listing each failure', async () => {
    const { dial, close, log } = dialer({});
    const err: unknown = await connectRaced([addr('192.0.2.1'), addr('2001:db8::1', 6)], { dial, close }).catch(
      (e: unknown) => e,
    );
    assert.ok(err instanceof ConnectRaceError);
    assert.equal(err.timedOut, false);
    assert.equal(err.clientCode, 'PARLEY_ERR_CONNECT_FAILED');
    assert.deepEqual(
      err.failures.map((f) => [f.address.address, (f.error as NodeJS.ErrnoException).code]),
      [
        ['192.0.2.1', 'ECONNREFUSED'],
        ['2001:db8::1', 'ECONNREFUSED'],
      ],
    );
    assert.match(
      err.message,
      /any of 2 addresses.*192\.0\.2\.1: connect ECONNREFUSED.*2001:db8::1: connect ECONNREFUSED/,
    );
    assert.ok(err.cause instanceof AggregateError);
    assert.equal(openSockets(log).length, 0);
  });

  test('the overall timeout aborts every pending attempt', async () => {
    const { dial, close, log } = dialer({
      '192.0.2.1': 'blackhole',
      '192.0.2.2': 'blackhole',
      '192.0.2.3': 'blackhole',
    });
    const started = Date.now();
    const err: unknown = await connectRaced([addr('192.0.2.1'), addr('192.0.2.2'), addr('192.0.2.3')], {
      dial,
      close,
      attemptDelayMs: 100,
      timeoutMs: 250,
    }).catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    assert.ok(err instanceof ConnectRaceError);
    assert.equal(err.timedOut, true);
    assert.ok(elapsed >= 240 && elapsed < 600, `took ${elapsed} ms`);
    assert.deepEqual(log.started, ['192.0.2.1', '192.0.2.2', '192.0.2.3']);
    assert.deepEqual(log.aborted.sort(), ['192.0.2.1', '192.0.2.2', '192.0.2.3']);
    assert.equal(err.failures.length, 3);
    assert.match(err.message, /timed out after 250 ms/);
  });

  test('attempts connecting in the same moment: the race closes the late ones, one connection survives', async () => {
    let open = (): void => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const { dial, close, log } = dialer({ a: 'good', b: 'good', c: 'good' }, gate);
    const race = connectRaced([addr('a'), addr('b'), addr('c')], { dial, close, attemptDelayMs: 0 });
    await waitFor(() => accepted.size === 3); // all three TCP connections are up, none handed over yet
    open();
    const winner = await race;
    assert.equal(winner.address.address, 'a');
    assert.equal(log.closedByRace.length, 2);
    assert.deepEqual(
      openSockets(log).map((s) => s.socket),
      [winner.connection],
    );
    await waitFor(() => accepted.size === 1);
    winner.connection.destroy();
  });

  test('fast local attempts with no delay: never more than one connection survives', async () => {
    for (let round = 0; round < 10; round++) {
      const { dial, close, log } = dialer({ a: 'good', b: 'good', c: 'good' });
      const winner = await connectRaced([addr('a'), addr('b'), addr('c')], { dial, close, attemptDelayMs: 0 });
      await waitFor(() => openSockets(log).length === 1);
      assert.equal(openSockets(log)[0]?.socket, winner.connection);
      await waitFor(() => accepted.size === 1);
      winner.connection.destroy();
      await waitFor(() => accepted.size === 0);
    }
  });

  test('families alternate: a broken IPv6 path costs one delay, not one per address', async () => {
    const { dial, close, log } = dialer({
      '2001:db8::1': 'blackhole',
      '2001:db8::2': 'blackhole',
      '192.0.2.1': 'good',
    });
    const started = Date.now();
    const winner = await connectRaced([addr('2001:db8::1', 6), addr('2001:db8::2', 6), addr('192.0.2.1')], {
      dial,
      close,
      attemptDelayMs: 100,
    });
    assert.equal(winner.address.address, '192.0.2.1');
    assert.deepEqual(log.started, ['2001:db8::1', '192.0.2.1']);
    assert.ok(Date.now() - started < 300);
    winner.connection.destroy();
  });

  test('interleaveFamilies keeps each family in order, starting with the first', () => {
    const list = [addr('a', 6), addr('b', 6), addr('c', 6), addr('x', 4), addr('y', 4)];
    assert.deepEqual(
      interleaveFamilies(list).map((a) => a.address),
      ['a', 'x', 'b', 'y', 'c'],
    );
    assert.deepEqual(interleaveFamilies([]), []);
  });

  test("the caller's abort rejects with its reason and aborts every attempt", async () => {
    const { dial, close, log } = dialer({ '192.0.2.1': 'blackhole', '192.0.2.2': 'blackhole' });
    const controller = new AbortController();
    const reason = new Error('user closed the client');
    setTimeout(() => {
      controller.abort(reason);
    }, 150);
    await assert.rejects(
      connectRaced([addr('192.0.2.1'), addr('192.0.2.2')], {
        dial,
        close,
        attemptDelayMs: 50,
        signal: controller.signal,
      }),
      (err) => err === reason,
    );
    assert.deepEqual(log.aborted.sort(), ['192.0.2.1', '192.0.2.2']);
  });

  test('maxAttempts limits the addresses tried; an empty list fails at once', async () => {
    const { dial, close, log } = dialer({});
    const err: unknown = await connectRaced([addr('1.1.1.1'), addr('1.1.1.2'), addr('1.1.1.3')], {
      dial,
      close,
      maxAttempts: 2,
    }).catch((e: unknown) => e);
    assert.ok(err instanceof ConnectRaceError);
    assert.deepEqual(log.started, ['1.1.1.1', '1.1.1.2']);
    await assert.rejects(connectRaced([], { dial, close }), ConnectRaceError);
  });

  test('a dial that throws synchronously counts as a failed attempt', async () => {
    const { dial: good, close } = dialer({ '192.0.2.2': 'good' });
    const dial = (address: ResolvedAddress, signal: AbortSignal) => {
      if (address.address === '192.0.2.1') throw new Error('no route');
      return good(address, signal);
    };
    const winner = await connectRaced([addr('192.0.2.1'), addr('192.0.2.2')], { dial, close, attemptDelayMs: 5000 });
    assert.equal(winner.address.address, '192.0.2.2');
    assert.match(String(winner.failures[0]?.error), /no route/);
    winner.connection.destroy();
  });
});
