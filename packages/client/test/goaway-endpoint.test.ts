// GOAWAY naming alternative endpoints: the next attempt goes to the first one the app can
// build a transport for; a bad one is reported and skipped; later attempts use the main transport.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { Command, ErrorCode } from '@parley/protocol';
import type { Connection } from '../src/index.js';
import { nodeEndpointTransport } from '../src/node.js';
import { Harness, closeAll, codec, makeConnection, next, waitFor } from './connection-harness.js';

describe('GOAWAY with alternative endpoints', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start();
  });
  afterEach(closeAll);
  after(async () => {
    await h.close();
  });

  /** Sends GOAWAY naming `endpoints` to each session of `userId`, then closes it, as a draining server does. */
  function goAway(userId: string, endpoints: string[]): void {
    for (const s of h.sessionsOf(userId)) {
      s.connection.send(
        codec.push(Command.GOAWAY, {
          reason: ErrorCode.SHUTTING_DOWN,
          reconnectDelayMs: 20,
          endpoints,
          message: 'move',
        }),
      );
      s.connection.close();
    }
  }

  async function connected(conn: Connection): Promise<void> {
    conn.connect();
    await next(conn, 'state', (s) => s === 'connected', 10_000);
  }

  test('reconnects to the named endpoint (another transport), skipping ones it cannot use', async () => {
    const remotes: string[] = [];
    const errors: Error[] = [];
    const conn = makeConnection(h, 'goaway-alt', h.transport('tcp'), {
      endpointTransport: nodeEndpointTransport({ ca: h.ts.caCertificate(), servername: 'localhost' }),
    });
    conn.on('error', (e) => errors.push(e));
    conn.on('state', (s) => {
      if (s === 'connected') remotes.push(conn.session?.remote ?? '');
    });
    await connected(conn);
    const wsUrl = `ws://127.0.0.1:${String(h.port('ws'))}/ws`;
    goAway('goaway-alt', ['not a url', 'quic://127.0.0.1:1', wsUrl]);
    await waitFor(() => remotes.length === 2, 10_000, 'reconnected');
    assert.match(remotes[0] ?? '', /^tcp:/);
    assert.equal(remotes[1], wsUrl, 'the second link goes to the alternative');
    assert.equal(errors.filter((e) => e.message.includes('ignoring GOAWAY endpoint')).length, 2, errors.join('; '));
    // A plain drop afterwards: back to the configured transport.
    for (const s of h.sessionsOf('goaway-alt')) s.connection.close();
    await waitFor(() => remotes.length === 3, 10_000, 'reconnected again');
    assert.match(remotes[2] ?? '', /^tcp:/);
  });

  test('tls:// endpoint by IP checks the certificate against the configured name', async () => {
    const remotes: string[] = [];
    const conn = makeConnection(h, 'goaway-tls', h.transport('tcp'), {
      endpointTransport: nodeEndpointTransport({ ca: h.ts.caCertificate(), servername: 'localhost' }),
    });
    conn.on('state', (s) => {
      if (s === 'connected') remotes.push(conn.session?.remote ?? '');
    });
    await connected(conn);
    goAway('goaway-tls', [`tls://127.0.0.1:${String(h.port('tls'))}`]);
    await waitFor(() => remotes.length === 2, 10_000, 'reconnected');
    assert.match(remotes[1] ?? '', /^tls:\/\/localhost@127\.0\.0\.1:/);
  });

  test('without endpointTransport the endpoints are ignored', async () => {
    const remotes: string[] = [];
    const conn = makeConnection(h, 'goaway-none', h.transport('tcp'));
    conn.on('state', (s) => {
      if (s === 'connected') remotes.push(conn.session?.remote ?? '');
    });
    await connected(conn);
    goAway('goaway-none', [`ws://127.0.0.1:${String(h.port('ws'))}/ws`]);
    await waitFor(() => remotes.length === 2, 10_000, 'reconnected');
    assert.match(remotes[1] ?? '', /^tcp:/);
  });
});
