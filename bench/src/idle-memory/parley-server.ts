// The Parley server under measurement, in its own process (started with --expose-gc by
// bench/idle-memory.ts). Argument: the data dir. Heartbeats are set far apart so idle clients
// need not ping while the bench runs.
import { parseConfig, startServer } from '@parley/server';
import { serveParent } from '../ipc.js';
import { HEARTBEAT_MS, type ServerCount, lastSettle, sampleMemory, settle } from './memory.js';

const dataDir = process.argv[2];
if (dataDir === undefined) throw new Error('usage: parley-server.ts DATA_DIR');

const server = await startServer(
  parseConfig({
    dataDir,
    tcpPort: 0,
    tlsPort: 0,
    httpPort: 0,
    logLevel: 'silent',
    // Workers connect in bursts; a login waiting behind a queue of TLS handshakes must not time out.
    limits: { heartbeatDefaultMs: HEARTBEAT_MS, loginTimeoutMs: 60_000 },
  }),
);
const { tcp, tls, http } = server.addresses;

serveParent({ tcp: tcp?.port, tls: tls?.port, http: http.port, secret: server.appSecret }, async (request) => {
  switch (request.type) {
    case 'measure':
      await settle(Number(request.quietMs), Number(request.maxMs));
      return { ...(await sampleMemory()), trajectory: lastSettle };
    case 'count':
      // The sweeper forgets closed sessions on its next tick (500 ms).
      return { open: server.sweeper.size, loggedIn: server.ctx.registry.sessionCount } satisfies ServerCount;
    case 'stop':
      await server.stop();
      setImmediate(() => process.exit(0));
      return null;
    default:
      throw new Error(`unknown request ${request.type}`);
  }
});
