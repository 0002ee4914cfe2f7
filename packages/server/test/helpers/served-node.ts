// A `parley serve` child process that reports all three of its ports (TCP, TLS, HTTP), for tests
// and benchmarks that put something in front of the nodes (a load balancer) or need their HTTP
// side. Same run naming as parley-processes.ts: one PostgreSQL schema and one Redis key prefix.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ClusterRun } from './parley-processes.js';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const CLI = join(REPO, 'packages/cli/src/main.ts');

export interface NodePorts {
  tcp: number;
  tls: number;
  http: number;
}

export interface ServedNodeOptions {
  /** Extra environment (PARLEY_LIMITS_* and the like). */
  env?: Record<string, string>;
  /** Extra query parameters of the store URL, e.g. `pool_size=30`. */
  storeParams?: string;
  timeoutMs?: number;
}

const portOf = (address: string | undefined) => Number(address?.split(':').pop());

export class ServedNode {
  private constructor(
    readonly nodeId: string,
    readonly child: ChildProcess,
    readonly ports: NodePorts,
    private readonly dataDir: string,
  ) {}

  static async start(run: ClusterRun, nodeId: string, opts: ServedNodeOptions = {}): Promise<ServedNode> {
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-served-'));
    const args = ['--conditions=@parley/source', '--import', 'tsx', CLI, 'serve'];
    const store = `${run.postgresUrl}?schema=${run.schema}${opts.storeParams ? `&${opts.storeParams}` : ''}`;
    args.push('--store', store, '--bus', run.redisUrl, '--node-id', nodeId);
    args.push('--host', '127.0.0.1', '--tcp-port', '0', '--tls-port', '0', '--http-port', '0');
    args.push('--data', dataDir, '--log-level', 'info');
    const child = spawn(process.execPath, args, {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        PARLEY_APP_SECRET: run.appSecret,
        PARLEY_CLUSTER_KEY_PREFIX: run.prefix,
        ...opts.env,
      },
    });
    // The reader stays attached for the child's life, so its log never fills the pipe.
    const ports = await new Promise<NodePorts>((resolve, reject) => {
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
        if (entry.msg !== 'parley is listening') return;
        clearTimeout(timer);
        resolve({ tcp: portOf(entry.tcp), tls: portOf(entry.tls), http: portOf(entry.http) });
      });
    });
    return new ServedNode(nodeId, child, ports, dataDir);
  }

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
