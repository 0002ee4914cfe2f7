// Cluster tests with real processes: `parley serve` children of the CLI on one PostgreSQL schema
// and one Redis key prefix of this run's own. Ports come from each node's "parley is listening" log line.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { pb } from '@parley/protocol';
import pg from 'pg';
import { issueToken } from '../../src/index.js';
import { TestClient } from './test-client.js';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const CLI = join(REPO, 'packages/cli/src/main.ts');

export interface ClusterRun {
  postgresUrl: string;
  redisUrl: string;
  schema: string;
  prefix: string;
  appSecret: string;
}

/** Names (schema, key prefix, app secret) no other run uses. */
export function newClusterRun(postgresBase: string, redisUrl: string): ClusterRun {
  const tag = randomBytes(5).toString('hex');
  return {
    postgresUrl: postgresBase,
    redisUrl,
    schema: `parley_proc_${tag}`,
    prefix: `parley-proc-${tag}`,
    appSecret: randomBytes(32).toString('hex'),
  };
}

/** Drops the run's schema (every node has stopped by then). */
export async function dropSchema(run: ClusterRun): Promise<void> {
  const client = new pg.Client({ connectionString: run.postgresUrl });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${run.schema} CASCADE`);
  } finally {
    await client.end();
  }
}

/** The ports a node listens on (from its "parley is listening" line). */
export interface NodePorts {
  tcp: number;
  tls: number;
  http: number;
}

export interface NodeProcessOptions {
  /** Extra environment: `PARLEY_CLUSTER_PRESENCE_TTL_MS`, `PARLEY_LIMITS_*` and the like. */
  env?: Record<string, string>;
  /** Extra query parameters of the store URL, e.g. `pool_size=30`. */
  storeParams?: string;
  /** The address every port listens on (`--host`). Default: the server's own default. */
  host?: string;
  /** How long to wait for the "parley is listening" line. Default 60 s. */
  timeoutMs?: number;
}

const portOf = (address: string | undefined) => Number(address?.split(':').pop());

/** One `parley serve` child process. */
export class NodeProcess {
  private constructor(
    readonly nodeId: string,
    readonly child: ChildProcess,
    readonly ports: NodePorts,
    private readonly dataDir: string,
  ) {}

  /** The third argument is the start timeout in ms, or options. */
  static async start(
    run: ClusterRun,
    nodeId: string,
    timeoutOrOptions: number | NodeProcessOptions = {},
  ): Promise<NodeProcess> {
    const options = typeof timeoutOrOptions === 'number' ? { timeoutMs: timeoutOrOptions } : timeoutOrOptions;
    const timeoutMs = options.timeoutMs ?? 60_000;
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-proc-'));
    const store = `${run.postgresUrl}?schema=${run.schema}${options.storeParams ? `&${options.storeParams}` : ''}`;
    const args = ['--conditions=@parley/source', '--import', 'tsx', CLI, 'serve'];
    args.push('--store', store, '--bus', run.redisUrl, '--node-id', nodeId);
    if (options.host !== undefined) args.push('--host', options.host);
    args.push('--tcp-port', '0', '--tls-port', '0', '--http-port', '0');
    args.push('--data', dataDir, '--log-level', 'info');
    const child = spawn(process.execPath, args, {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        PARLEY_APP_SECRET: run.appSecret,
        PARLEY_CLUSTER_KEY_PREFIX: run.prefix,
        ...options.env,
      },
    });
    // The reader stays attached for the child's life, so its log never fills the pipe.
    const listening = new Promise<NodePorts>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`node ${nodeId} did not start within ${String(timeoutMs)} ms`));
      }, timeoutMs);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`node ${nodeId} exited with ${String(code)} before listening`));
      });
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
        if (!line.startsWith('{')) return;
        const entry = JSON.parse(line) as { msg?: string; tcp?: string; tls?: string; http?: string };
        if (entry.msg === 'parley is listening' && entry.tcp) {
          clearTimeout(timer);
          resolve({ tcp: portOf(entry.tcp), tls: portOf(entry.tls), http: portOf(entry.http) });
        }
      });
    });
    const ports = await listening.catch((err: unknown) => {
      rmSync(dataDir, { recursive: true, force: true });
      throw err;
    });
    return new NodeProcess(nodeId, child, ports, dataDir);
  }

  get tcpPort(): number {
    return this.ports.tcp;
  }

  /** Whether the process is still running. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM (graceful drain) or SIGKILL; resolves once the process has exited. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.running) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill(signal);
      await exited;
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** A user token every node of the run accepts. */
export function runToken(run: ClusterRun, userId: string): Promise<string> {
  return issueToken({ secret: run.appSecret, userId });
}

/**
 * A TestClient logged in as `userId` (a desktop device) on `node` over TCP. It joins `clients`
 * before it logs in, so the test's teardown closes it even when the login fails.
 */
export async function loginOn(
  run: ClusterRun,
  node: NodeProcess,
  userId: string,
  clients: TestClient[],
): Promise<TestClient> {
  const client = await TestClient.connect({ transport: 'tcp', host: '127.0.0.1', port: node.tcpPort });
  clients.push(client);
  await client.login(await runToken(run, userId), { platform: pb.Platform.DESKTOP });
  return client;
}
