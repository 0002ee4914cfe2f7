// Cluster tests: several servers in one process over one store and one Redis, each with its
// own RedisBus; a node in a child process of its own (to stop or kill); a throwaway
// redis-server for restart tests; key cleanup per run.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { ConfigInput, ServerOptions, Store } from '../../src/index.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { TestServer } from './server.js';
import { tcpReachable } from './services.js';
import type { TestClient } from './test-client.js';

/** A key prefix no other run uses, so parallel runs on the shared Redis never meet. */
export function uniquePrefix(): string {
  return `parley-test-${randomBytes(6).toString('hex')}`;
}

/** Deletes every key under the prefix. */
export async function deleteKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/**
 * One SQLite store shared by several nodes in this process. Every node's stop() closes its
 * store, so the nodes get a view whose close does nothing; `close()` here closes the real one.
 */
export class SharedStore {
  readonly dir = mkdtempSync(join(tmpdir(), 'parley-cluster-'));
  readonly path = join(this.dir, 'parley.db');
  readonly store = new SqliteStore(this.path);
  readonly view: Store = new Proxy(this.store, {
    get(target, prop) {
      if (prop === 'close') return () => Promise.resolve();
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });

  async close(): Promise<void> {
    await this.store.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface NodeSettings {
  redisUrl: string;
  prefix: string;
  nodeId: string;
  presenceTtlMs?: number;
  overrides?: Partial<ConfigInput>;
  options?: ServerOptions;
}

const FAST_LIMITS = { sendsPerSecond: 10_000, sendBurst: 10_000, requestsPerSecond: 10_000, requestBurst: 10_000 };

/** A node of the test cluster: its own ports and bus, the shared store and data dir (one app secret). */
export function startNode(shared: SharedStore, s: NodeSettings): Promise<TestServer> {
  return TestServer.start(
    {
      bus: s.redisUrl,
      nodeId: s.nodeId,
      cluster: { keyPrefix: s.prefix, presenceTtlMs: s.presenceTtlMs ?? 30_000 },
      tls: false,
      ...s.overrides,
      limits: { ...FAST_LIMITS, ...s.overrides?.limits },
    },
    { store: shared.view, ...s.options },
    shared.dir,
  );
}

/** One describe's cluster of nodes in this process, and the ways its tests reach them. */
export interface InProcessCluster {
  /** This cluster's own Redis key prefix. */
  readonly prefix: string;
  /** The store (and data dir) of every node, a NodeChild's too. */
  readonly shared: SharedStore;
  readonly nodes: TestServer[];
  /** Clients `stop` destroys: those `login` made, and any a test adds. */
  readonly clients: TestClient[];
  node: (i: number) => TestServer;
  /** Logs `userId` in on node `i`; the client is destroyed by `stop`. */
  login: (i: number, userId: string, deviceId?: string, transport?: 'tcp' | 'ws') => Promise<TestClient>;
  /** `parley_bus_publishes_total` of `kind`, summed over the nodes. */
  publishes: (kind: string) => Promise<number>;
  /** Starts the nodes one after another (a `before` hook). */
  start: () => Promise<void>;
  /** Destroys the clients, stops the nodes, closes the store and deletes the keys (an `after` hook). */
  stop: () => Promise<void>;
}

/**
 * Nodes in this process over one SQLite store and the Redis at `redisUrl`, under a fresh
 * prefix: `nodeIds` (default `n0`, `n1`, `n2`), with `presenceTtlMs` (default as `startNode`).
 */
export function inProcessCluster(
  redisUrl: string,
  options: { nodeIds?: readonly string[]; presenceTtlMs?: number } = {},
): InProcessCluster {
  const { nodeIds = ['n0', 'n1', 'n2'], presenceTtlMs } = options;
  const prefix = uniquePrefix();
  const shared = new SharedStore();
  const nodes: TestServer[] = [];
  const clients: TestClient[] = [];
  const node = (i: number) => nodes[i] as TestServer;
  return {
    prefix,
    shared,
    nodes,
    clients,
    node,
    login: async (i, userId, deviceId, transport = 'tcp') => {
      const c = await node(i).login(userId, transport, deviceId ? { deviceId } : {});
      clients.push(c);
      return c;
    },
    publishes: async (kind) => {
      let sum = 0;
      for (const n of nodes) sum += await counter(n, 'parley_bus_publishes_total', { kind });
      return sum;
    },
    start: async () => {
      for (const nodeId of nodeIds) nodes.push(await startNode(shared, { redisUrl, prefix, nodeId, presenceTtlMs }));
    },
    stop: async () => {
      for (const c of clients) c.destroy();
      for (const n of nodes) await n.stop();
      await shared.close();
      await deleteKeys(redisUrl, prefix);
    },
  };
}

const NODE_SCRIPT = fileURLToPath(new URL('./cluster-node-process.ts', import.meta.url));

/**
 * A node of the test cluster in a child process of its own (cluster-node-process.ts), for
 * tests that stop it (SIGSTOP) or kill it (SIGKILL, no cleanup): the shared store and data
 * dir, TCP only, no log.
 */
export class NodeChild {
  private constructor(
    readonly child: ChildProcess,
    readonly tcpPort: number,
    /** Resolves once the process has exited. */
    readonly exited: Promise<unknown>,
  ) {}

  /** Resolves once the node listens; a node that fails to start is killed. */
  static async start(
    shared: SharedStore,
    s: Pick<NodeSettings, 'redisUrl' | 'prefix' | 'nodeId'> & { presenceTtlMs: number },
  ): Promise<NodeChild> {
    const config = {
      dataDir: shared.dir,
      store: `sqlite:${shared.path}`,
      bus: s.redisUrl,
      nodeId: s.nodeId,
      cluster: { keyPrefix: s.prefix, presenceTtlMs: s.presenceTtlMs },
      tcpPort: 0,
      httpPort: 0,
      tls: false,
      logLevel: 'silent',
    };
    const child = spawn(
      process.execPath,
      ['--conditions=@parley/source', '--import', 'tsx', NODE_SCRIPT, JSON.stringify(config)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', resolve);
        child.once('exit', (code) => {
          reject(new Error(`node process exited with ${String(code)}`));
        });
      });
      return new NodeChild(child, (JSON.parse(line) as { tcpPort: number }).tcpPort, exited);
    } catch (err) {
      child.kill('SIGKILL');
      await exited;
      throw err;
    }
  }

  /** SIGKILL (a stopped process too) unless it has exited; resolves once it has. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** The value of a counter of a node's metrics, summed over labels matching `labels`. */
export async function counter(ts: TestServer, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = ts.server.ctx.metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => (v.labels as Record<string, unknown>)[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}

/** Polls `check` until it returns true; fails with `what` after `timeoutMs`. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/** A private redis-server (never the machine's shared one) that a test may kill and restart. */
export class OwnRedis {
  #process: ChildProcess | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'parley-redis-'));

  private constructor(readonly port: number) {}

  static async start(): Promise<OwnRedis> {
    const redis = new OwnRedis(await freePort());
    await redis.restart();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${String(this.port)}`;
  }

  /** Starts the server (again) on the same port; resolves once it accepts connections. */
  async restart(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    this.#process = spawn('/usr/bin/redis-server', [...args, '--dir', this.dir], { stdio: 'ignore' });
    await eventually('redis-server to accept connections', () => tcpReachable('127.0.0.1', this.port, 200), 10_000);
  }

  /** Kills it at once (SIGKILL: no goodbye to clients); resolves once it has exited. */
  async kill(): Promise<void> {
    const child = this.#process;
    this.#process = undefined;
    if (child?.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
