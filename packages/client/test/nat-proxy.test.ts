// The NAT stand-in: forwards while busy, forgets silently when idle, blackholes on cut().
import assert from 'node:assert/strict';
import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, before, describe, test } from 'node:test';
import { NatProxy } from './helpers/nat-proxy.js';

const T = 150; // the NAT idle timeout under test

/** One end of a connection with everything that happened to it. */
interface Observed {
  socket: Socket;
  data: string;
  events: string[];
}

function observe(socket: Socket): Observed {
  const observed: Observed = { socket, data: '', events: [] };
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (observed.data += chunk));
  socket.on('end', () => observed.events.push('end'));
  socket.on('close', () => observed.events.push('close'));
  socket.on('error', (error: NodeJS.ErrnoException) => observed.events.push(`error ${error.code ?? error.message}`));
  return observed;
}

async function until(predicate: () => boolean, timeoutMs = 1000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`condition not met within ${timeoutMs} ms`);
    await sleep(5);
  }
}

/** An echo server that records its side of every connection. */
let echo: Server;
const serverSides: Observed[] = [];
let proxy: NatProxy;
const clients: Observed[] = [];

before(async () => {
  echo = createServer({ allowHalfOpen: true }, (socket) => {
    const observed = observe(socket);
    serverSides.push(observed);
    socket.on('data', (chunk: string) => socket.write(chunk));
    socket.on('end', () => socket.end());
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
});

after(async () => {
  await new Promise((resolve) => echo.close(resolve));
});

async function startProxy(): Promise<void> {
  proxy = new NatProxy({ idleTimeoutMs: T, target: { host: '127.0.0.1', port: (echo.address() as AddressInfo).port } });
  await proxy.listen();
}

afterEach(async () => {
  for (const client of clients.splice(0)) client.socket.destroy();
  await proxy.close();
  serverSides.splice(0);
});

async function dial(): Promise<Observed> {
  const socket = connect({ host: '127.0.0.1', port: proxy.port });
  const observed = observe(socket);
  clients.push(observed);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return observed;
}

async function roundTrip(client: Observed, text: string): Promise<void> {
  const expected = client.data + text;
  client.socket.write(text);
  await until(() => client.data === expected);
}

describe('NatProxy', () => {
  test('forwards both ways while the mapping is never idle longer than T', async () => {
    await startProxy();
    const client = await dial();
    await roundTrip(client, 'a');
    for (const text of ['b', 'c', 'd', 'e']) {
      await sleep(T / 2);
      await roundTrip(client, text);
    }
    assert.equal(client.data, 'abcde'); // 4 × T/2 > T in total: only idleness counts
    assert.deepEqual(proxy.mappings(), {
      active: 1,
      forgotten: 0,
      blackholed: 0,
      total: 1,
      forwardedBytes: 10,
      droppedBytes: 0,
    });
  });

  test('forgets a mapping idle longer than T: nothing passes, and no FIN, RST or error reaches either side', async () => {
    await startProxy();
    const client = await dial();
    await roundTrip(client, 'hello');
    await until(() => serverSides.length === 1);
    const server = serverSides[0]!;
    await sleep(T + 50);
    client.socket.write('lost');
    server.socket.write('push'); // the server talks first: also dropped
    await sleep(3 * T);
    assert.equal(client.data, 'hello');
    assert.equal(server.data, 'hello');
    assert.deepEqual(client.events, []);
    assert.deepEqual(server.events, []);
    assert.equal(client.socket.destroyed, false);
    assert.deepEqual(proxy.mappings(), {
      active: 0,
      forgotten: 1,
      blackholed: 1,
      total: 1,
      forwardedBytes: 10,
      droppedBytes: 8,
    });

    // The client gives up and closes: a real NAT drops that FIN too, so the server never hears.
    client.socket.end();
    server.socket.end();
    await sleep(2 * T);
    assert.deepEqual(server.events, []);
    assert.deepEqual(client.events, []);
  });

  test('counts a mapping idle past T as forgotten even before any byte arrives', async () => {
    await startProxy();
    await dial();
    assert.equal(proxy.mappings().active, 1);
    await sleep(T + 50);
    assert.equal(proxy.mappings().forgotten, 1);
  });

  test('a new connection after a drop works', async () => {
    await startProxy();
    const first = await dial();
    await roundTrip(first, 'x');
    await sleep(T + 50);
    first.socket.write('y');
    const second = await dial();
    await roundTrip(second, 'z');
    await sleep(T / 2);
    assert.equal(first.data, 'x');
    assert.deepEqual(proxy.mappings(), { ...proxy.mappings(), forgotten: 1, total: 2 });
  });

  test('passes FIN and close while the mapping lives', async () => {
    await startProxy();
    const client = await dial();
    await roundTrip(client, 'bye');
    client.socket.end(); // the echo server ends its side in turn
    await until(() => client.events.includes('close'));
    await until(() => serverSides[0]?.events.includes('end') ?? false);
    assert.deepEqual(client.events, ['end', 'close']);
    await until(() => proxy.mappings().active === 0);
    assert.equal(proxy.mappings().forgotten, 0);
  });

  test('passes a reset while the mapping lives', async () => {
    await startProxy();
    const client = await dial();
    await roundTrip(client, 'r');
    await until(() => serverSides.length === 1);
    serverSides[0]!.socket.resetAndDestroy();
    await until(() => client.events.includes('close'));
    assert.ok(client.events.some((e) => e.startsWith('error ECONNRESET')));
  });

  test('cut() blackholes existing and new connections, then recovers for new ones', async () => {
    await startProxy();
    const before = await dial();
    await roundTrip(before, 'up');
    proxy.cut(3 * T);
    assert.equal(proxy.cutting, true);
    before.socket.write('during');
    const during = await dial(); // the connect succeeds locally, but nothing is forwarded
    during.socket.write('anyone?');
    await sleep(3 * T + 50);
    assert.equal(proxy.cutting, false);
    const afterCut = await dial();
    await roundTrip(afterCut, 'back');
    before.socket.write('still?');
    during.socket.write('still?');
    await sleep(T / 2); // (not longer: the new mapping would go idle too)
    assert.equal(before.data, 'up');
    assert.equal(during.data, '');
    assert.deepEqual(before.events, []);
    assert.deepEqual(during.events, []);
    assert.equal(afterCut.data, 'back');
    assert.equal(serverSides.length, 2, 'the connection made during the cut never reached the server');
    assert.deepEqual(proxy.mappings(), { ...proxy.mappings(), active: 1, forgotten: 2, blackholed: 2, total: 3 });
  });

  test('cut() until restore()', async () => {
    await startProxy();
    proxy.cut();
    const during = await dial();
    during.socket.write('?');
    await sleep(T / 2);
    assert.equal(proxy.cutting, true);
    proxy.restore();
    const client = await dial();
    await roundTrip(client, 'ok');
    assert.equal(during.data, '');
  });
});
