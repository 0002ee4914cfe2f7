// A Parley server under load, in its own process. Arguments: the data dir (SQLite store in
// it), the app secret tokens are signed with and, for the `baseline` system, the server
// module of another build. Limits meant to protect a server from one abusive client (sends per second per
// connection, member caps) are raised so the load generator measures the server, not its
// rate limiter; durability (WAL, synchronous=FULL, group commit) stays as shipped.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { serveParent } from '../ipc.js';
import { BENCH_HEARTBEAT_MS } from './limits.js';

const [dataDir, appSecret, serverModule] = process.argv.slice(2);
if (dataDir === undefined || appSecret === undefined) {
  throw new Error('usage: servers/parley.ts DATA_DIR APP_SECRET [SERVER_MODULE]');
}
// Another build of the server (the `baseline` system) or this tree's.
const { parseConfig, startServer } = (
  serverModule ? await import(pathToFileURL(resolve(serverModule)).href) : await import('@parley/server')
) as typeof import('@parley/server');

const MANY = 1_000_000;
const server = await startServer(
  parseConfig({
    dataDir,
    // Shared by every server process of a run: one token opens a session on any of them.
    appSecret,
    host: '127.0.0.1',
    tcpPort: 0,
    httpPort: 0,
    tls: false,
    logLevel: 'silent',
    limits: {
      heartbeatDefaultMs: BENCH_HEARTBEAT_MS,
      // Workers log in thousands of connections at once on a loaded machine.
      loginTimeoutMs: 120_000,
      sendsPerSecond: MANY,
      sendBurst: MANY,
      requestsPerSecond: MANY,
      requestBurst: MANY,
      roomSendsPerSecond: MANY,
      memberCap: 20_000,
      sendBudgetBytes: 64 * 1024 * 1024,
    },
  }),
);

async function stop(): Promise<void> {
  await server.stop();
  // A clean exit writes the --cpu-prof profile.
  setImmediate(() => process.exit(0));
}
process.on('SIGTERM', () => void stop());

serveParent({ port: server.addresses.tcp?.port, secret: server.appSecret }, async (request) => {
  switch (request.type) {
    case 'gc':
      globalThis.gc?.();
      globalThis.gc?.();
      return null;
    case 'count':
      return { loggedIn: server.ctx.registry.sessionCount };
    case 'stop':
      await stop();
      return null;
    default:
      throw new Error(`unknown request ${request.type}`);
  }
});
