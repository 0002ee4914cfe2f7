import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type AddressInfo, type Server as NetServer, type Socket, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Server as TlsServer, type TLSSocket, createServer as createTlsServer } from 'node:tls';
import { connectRaced } from '../src/dns/happy-eyeballs.js';
import { tlsConnectByIp } from '../src/dns/node-tls.js';
import { StaticResolver } from '../src/dns/static-resolver.js';
import { makeCertificate } from './helpers/certificate.js';

let dir: string;
let cert: string;
let tlsServer: TlsServer;
let tlsPort: number;
/** A TCP server that accepts and never speaks TLS: the handshake hangs. */
let mute: NetServer;
let mutePort: number;
/** The SNI each TLS connection sent (false when none). */
const servernames: (string | false)[] = [];
const muteSockets = new Set<Socket>();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'parley-dns-tls-'));
  // Named by DNS name only: the test of an IP as the host name relies on it.
  const certificate = makeCertificate(dir, ['DNS:localhost']);
  cert = certificate.cert;
  tlsServer = createTlsServer({ key: readFileSync(certificate.keyFile), cert }, (socket) => {
    servernames.push((socket as TLSSocket & { servername: string | false }).servername);
    socket.on('error', () => undefined);
    socket.end('hello');
  });
  tlsServer.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  tlsPort = (tlsServer.address() as AddressInfo).port;
  mute = createNetServer((socket) => {
    muteSockets.add(socket);
    socket.resume(); // swallow the ClientHello, so the client's close is seen
    socket.on('close', () => muteSockets.delete(socket));
  });
  await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
  mutePort = (mute.address() as AddressInfo).port;
});

after(async () => {
  for (const s of muteSockets) s.destroy();
  await new Promise<void>((resolve) =>
    tlsServer.close(() => {
      resolve();
    }),
  );
  await new Promise<void>((resolve) =>
    mute.close(() => {
      resolve();
    }),
  );
  rmSync(dir, { recursive: true, force: true });
});

async function readAll(socket: TLSSocket): Promise<string> {
  let text = '';
  for await (const chunk of socket) text += String(chunk);
  return text;
}

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: NodeJS.ErrnoException) => {
    assert.equal(err.code, code, err.message);
    return true;
  });
}

describe('tlsConnectByIp', () => {
  test('connects to the IP, sends the host name as SNI and verifies the certificate against it', async () => {
    servernames.length = 0;
    const socket = await tlsConnectByIp({ address: '127.0.0.1', port: tlsPort, hostname: 'localhost', ca: cert });
    assert.equal(socket.authorized, true);
    assert.equal(socket.remoteAddress, '127.0.0.1');
    assert.equal(await readAll(socket), 'hello');
    assert.deepEqual(servernames, ['localhost']);
  });

  test('a certificate for another name fails the identity check', async () => {
    await rejectsWithCode(
      tlsConnectByIp({ address: '127.0.0.1', port: tlsPort, hostname: 'chat.example.com', ca: cert }),
      'ERR_TLS_CERT_ALTNAME_INVALID',
    );
  });

  test('an IP as the host name is checked as an IP (this certificate names none)', async () => {
    await rejectsWithCode(
      tlsConnectByIp({ address: '127.0.0.1', port: tlsPort, hostname: '127.0.0.1', ca: cert }),
      'ERR_TLS_CERT_ALTNAME_INVALID',
    );
  });

  test('an untrusted certificate fails the chain check', async () => {
    await rejectsWithCode(
      tlsConnectByIp({ address: '127.0.0.1', port: tlsPort, hostname: 'localhost' }),
      'DEPTH_ZERO_SELF_SIGNED_CERT',
    );
  });

  test('a hanging handshake: abort destroys the socket and rejects with the reason; the timeout does too', async () => {
    const controller = new AbortController();
    const reason = new Error('lost the race');
    setTimeout(() => {
      controller.abort(reason);
    }, 50);
    await assert.rejects(
      tlsConnectByIp({
        address: '127.0.0.1',
        port: mutePort,
        hostname: 'localhost',
        ca: cert,
        signal: controller.signal,
      }),
      (err) => err === reason,
    );
    await assert.rejects(
      tlsConnectByIp({ address: '127.0.0.1', port: mutePort, hostname: 'localhost', ca: cert, timeoutMs: 50 }),
      { name: 'TimeoutError' },
    );
    // Both client sockets are gone, so the server sees both connections close.
    const deadline = Date.now() + 1000;
    while (muteSockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.equal(muteSockets.size, 0);
  });

  test('as the dial function of a race over the static IP list', async () => {
    servernames.length = 0;
    // The hung address goes first; the good one wins one attempt delay later.
    const ports: Record<string, number> = { '127.0.0.2': mutePort, '127.0.0.1': tlsPort };
    const list = new StaticResolver({ 'localhost.example': ['127.0.0.2', '127.0.0.1'] });
    const addresses = await list.resolve('localhost.example');
    const winner = await connectRaced(addresses, {
      attemptDelayMs: 100,
      dial: (a, signal) =>
        tlsConnectByIp({ address: '127.0.0.1', port: ports[a.address] ?? 0, hostname: 'localhost', ca: cert, signal }),
      close: (socket) => socket.destroy(),
    });
    assert.equal(winner.address.address, '127.0.0.1');
    assert.equal(await readAll(winner.connection), 'hello');
    assert.deepEqual(servernames, ['localhost']);
  });
});
