// The HAProxy config of docs/deploy.md, run end to end: three `parley serve` processes on one
// PostgreSQL schema and one Redis prefix of this run's own, haproxy in front of them with the
// doc's config (rendered from the doc with this run's ports), clients connecting only through it.
import { after, before, describe, test } from 'node:test';
import { BalancedCluster } from './helpers/balanced-cluster.js';
import { eventually } from './helpers/cluster.js';
import { HaproxyProcess, requireHaproxy } from './helpers/haproxy.js';
import { POSTGRES_TEST_URL } from './helpers/postgres-schemas.js';
import { POSTGRES, REDIS, requireService } from './helpers/services.js';

const REDIS_URL = `redis://${REDIS.host}:${String(REDIS.port)}`;
const skip = requireHaproxy() || (await requireService(POSTGRES)) || (await requireService(REDIS));
const WAIT_MS = 30_000;
/** The doc's server names, used as the nodes' ids. */
const NODE_IDS = ['a', 'b', 'c'];

describe('three parley serve processes behind the HAProxy config of docs/deploy.md', { skip, timeout: 240_000 }, () => {
  let cluster: BalancedCluster | undefined;
  let proxy: HaproxyProcess | undefined;

  /** Waits until HAProxy's health checks report the named servers `status` in every backend. */
  const serversAre = async (names: string[], status: string) => {
    const wanted = async () => ((await proxy?.servers()) ?? []).filter((s) => names.includes(s.server));
    try {
      await eventually(
        `servers ${names.join(', ')} to be ${status} in haproxy`,
        async () => (await wanted()).every((s) => s.status === status),
        WAIT_MS,
      );
    } catch (err) {
      const states = (await wanted()).map((s) => `${s.backend}/${s.server} ${s.status}`).join('; ');
      throw new Error(`${(err as Error).message}: ${states}\n${proxy?.output ?? ''}`, { cause: err });
    }
  };

  before(async () => {
    cluster = await BalancedCluster.start(POSTGRES_TEST_URL, REDIS_URL, NODE_IDS);
    proxy = await HaproxyProcess.start(cluster.nodes.map((n) => n.ports));
    await serversAre(NODE_IDS, 'UP');
  });
  after(async () => {
    await proxy?.stop();
    await cluster?.stop();
  });

  // Connections stay open, so leastconn puts each new one on a node with the fewest.
  test('TCP, TLS and WebSocket clients are spread over the nodes and chat 1:1 and in a group across them', () =>
    (cluster as BalancedCluster).spreadAndChat((proxy as HaproxyProcess).front));

  test('a stopped node fails its health checks and new connections go to the other two', () =>
    (cluster as BalancedCluster).stopOneAndReconnect((proxy as HaproxyProcess).front, (nodeId) =>
      serversAre([nodeId], 'DOWN'),
    ));
});
