// The nginx config of docs/deploy.md, run end to end: three `parley serve` processes on one
// PostgreSQL schema and one Redis prefix of this run's own, nginx in front of them with the doc's
// `stream` and `http` sections (rendered from the doc with this run's ports).
import { after, before, describe, test } from 'node:test';
import { BalancedCluster } from './helpers/balanced-cluster.js';
import { NginxProcess, requireNginx } from './helpers/nginx.js';
import { POSTGRES_TEST_URL } from './helpers/postgres-schemas.js';
import { POSTGRES, REDIS, requireService } from './helpers/services.js';

const REDIS_URL = `redis://${REDIS.host}:${String(REDIS.port)}`;
const skip = requireNginx() || (await requireService(POSTGRES)) || (await requireService(REDIS));
const NODE_IDS = ['a', 'b', 'c'];

describe('three parley serve processes behind the nginx config of docs/deploy.md', { skip, timeout: 240_000 }, () => {
  let cluster: BalancedCluster | undefined;
  let proxy: NginxProcess | undefined;

  before(async () => {
    cluster = await BalancedCluster.start(POSTGRES_TEST_URL, REDIS_URL, NODE_IDS);
    proxy = await NginxProcess.start(cluster.nodes.map((n) => n.ports));
  });
  after(async () => {
    await proxy?.stop();
    await cluster?.stop();
  });

  // Connections stay open, so least_conn puts each new one on a node with the fewest.
  test('TCP, TLS and WebSocket clients are spread over the nodes and chat 1:1 and in a group across them', () =>
    (cluster as BalancedCluster).spreadAndChat((proxy as NginxProcess).front));

  test('a stopped node: new connections go to the other two (a refused connect moves to the next server)', () =>
    // Nothing to wait for: nginx moves a refused connect on to the next server by itself.
    (cluster as BalancedCluster).stopOneAndReconnect((proxy as NginxProcess).front, () => Promise.resolve()));
});
