// The nginx config of docs/deploy.md, run end to end: three `parley serve` processes on one
// PostgreSQL schema and one Redis prefix of this run's own, nginx in front of them with the doc's
// `stream` and `http` sections (rendered from the doc with this run's ports).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BalancedCluster, type Placed } from './helpers/balanced-cluster.js';
import { NginxProcess, requireNginx } from './helpers/nginx.js';
import { POSTGRES, REDIS, requireService } from './helpers/services.js';

const POSTGRES_URL = process.env.PARLEY_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = `redis://${REDIS.host}:${String(REDIS.port)}`;
const skip = requireNginx() || (await requireService(POSTGRES)) || (await requireService(REDIS));
const NODE_IDS = ['a', 'b', 'c'];

describe('three parley serve processes behind the nginx config of docs/deploy.md', { skip, timeout: 240_000 }, () => {
  let cluster: BalancedCluster | undefined;
  let proxy: NginxProcess | undefined;
  const connect = (transport: 'tcp' | 'tls' | 'ws', userId: string) =>
    (cluster as BalancedCluster).connect((proxy as NginxProcess).front, transport, userId);

  before(async () => {
    cluster = await BalancedCluster.start(POSTGRES_URL, REDIS_URL, NODE_IDS);
    proxy = await NginxProcess.start(cluster.nodes.map((n) => n.ports));
  });
  after(async () => {
    await proxy?.stop();
    await cluster?.stop();
  });

  test('TCP, TLS and WebSocket clients are spread over the nodes and chat 1:1 and in a group across them', async () => {
    // Connections stay open, so least_conn puts each new one on a node with the fewest.
    const placed: Placed[] = [];
    for (let i = 0; i < 6; i++) placed.push(await connect('tcp', `tcp-${String(i)}`));
    for (let i = 0; i < 3; i++) placed.push(await connect('ws', `ws-${String(i)}`));
    for (let i = 0; i < 3; i++) placed.push(await connect('tls', `tls-${String(i)}`));
    for (const transport of ['tcp', 'ws', 'tls']) {
      const on = new Set(placed.filter((p) => p.userId.startsWith(transport)).map((p) => p.node));
      assert.deepEqual([...on].sort(), NODE_IDS, `${transport} clients on every node`);
    }
    const byTransport = (t: string) => placed.filter((p) => p.userId.startsWith(t));
    const alice = byTransport('tcp')[0] as Placed;
    const bob = byTransport('ws').find((p) => p.node !== alice.node) as Placed;
    await (cluster as BalancedCluster).directChat(alice, bob);
    const senders = ['tcp', 'ws', 'tls'].map((t) => byTransport(t)[0] as Placed);
    await (cluster as BalancedCluster).groupChat(placed, senders);
  });

  test('a stopped node: new connections go to the other two (a refused connect moves to the next server)', async () => {
    const stopped = (cluster as BalancedCluster).nodes[2];
    assert.ok(stopped);
    await stopped.stop('SIGTERM');
    const placed: Placed[] = [];
    for (let i = 0; i < 4; i++) placed.push(await connect('tcp', `after-tcp-${String(i)}`));
    for (let i = 0; i < 4; i++) placed.push(await connect('ws', `after-ws-${String(i)}`));
    assert.deepEqual([...new Set(placed.map((p) => p.node))].sort(), ['a', 'b'], 'new connections on the nodes up');
    const first = placed[0] as Placed;
    await (cluster as BalancedCluster).directChat(first, placed.find((p) => p.node !== first.node) as Placed);
  });
});
