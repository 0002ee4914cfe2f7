// A real Parley server in a child process (server-child.ts) for the resilience tests: SQLite
// in a temporary data dir, a self-signed certificate made with openssl for TLS, and the same
// ports and data after a restart, so a SIGKILL and a restart look to clients like a crashed
// and recovered server. Every process started here is killed by `killAllServers()`.
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConfigInput } from '@parley/server';
import { issueToken } from '@parley/server';
import { type TestCertificate, makeCertificate } from './certificate.js';

const CHILD = fileURLToPath(new URL('./server-child.ts', import.meta.url));

type Question =
  | { kind: 'watch'; userId: string; deviceId: string }
  | { kind: 'sessions'; userId: string; deviceId: string }
  | { kind: 'messages'; conversationId: string };
export type ChildQuestion = Question & { id: number };
export interface ChildAnswer {
  id: number;
  ok: boolean;
  value: unknown;
}

export interface Ports {
  tcp: number;
  tls: number;
  http: number;
}

/** Logged-in sessions of one device on the server: now, and the most seen since the last ask. */
export interface DeviceSessions {
  /** Sessions the registry routes pushes to. */
  now: { registered: number; active: number };
  max: { registered: number; active: number };
}

export interface StoredRow {
  seq: number;
  senderId: string;
  clientMessageId: string;
}

const running = new Set<ChildProcess>();

/**
 * One server process. `start()` makes the data dir and certificate; `restart()` starts a new
 * process on the same ports, data dir, certificate and app secret (after a `kill()`).
 */
export class ServerProcess {
  readonly dataDir: string;
  readonly certificate: TestCertificate;
  readonly appSecret = randomBytes(32).toString('hex');
  ports: Ports = { tcp: 0, tls: 0, http: 0 };
  #child: ChildProcess | undefined;
  #nextId = 1;
  readonly #waiting = new Map<number, (answer: ChildAnswer) => void>();
  readonly #overrides: Partial<ConfigInput>;

  private constructor(overrides: Partial<ConfigInput>) {
    this.#overrides = overrides;
    this.dataDir = mkdtempSync(join(tmpdir(), 'parley-resilience-'));
    this.certificate = makeCertificate(this.dataDir);
  }

  /** Starts a server on free ports. `overrides` are merged into the config (limits merged too). */
  static async start(overrides: Partial<ConfigInput> = {}): Promise<ServerProcess> {
    const server = new ServerProcess(overrides);
    try {
      await server.#spawn();
    } catch (err) {
      await server.close();
      throw err;
    }
    return server;
  }

  /** Starts the server again on the same ports and data (the previous process must be gone). */
  async restart(): Promise<void> {
    if (this.alive) throw new Error('the server process is still running');
    await this.#spawn(this.ports);
  }

  get alive(): boolean {
    const child = this.#child;
    return child?.exitCode === null && child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Kills the process (SIGKILL by default: no GOAWAY, no flush) and waits for it to exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (!child || !this.alive) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  /** Kills the process and removes the data dir. */
  async close(): Promise<void> {
    await this.kill();
    rmSync(this.dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  }

  token(userId: string, options: { ttlSeconds?: number } = {}): Promise<string> {
    return issueToken({ secret: this.appSecret, userId, ...options });
  }

  /** Starts sampling (every 2 ms, in the server) how many sessions the device has. */
  async watchDevice(userId: string, deviceId: string): Promise<void> {
    await this.#ask({ kind: 'watch', userId, deviceId });
  }

  /** The device's sessions now and the most since the last call (needs `watchDevice` first for the max). */
  sessions(userId: string, deviceId: string): Promise<DeviceSessions> {
    return this.#ask({ kind: 'sessions', userId, deviceId }) as Promise<DeviceSessions>;
  }

  /** The conversation's stored messages, by seq. */
  messages(conversationId: string): Promise<StoredRow[]> {
    return this.#ask({ kind: 'messages', conversationId }) as Promise<StoredRow[]>;
  }

  async #spawn(ports: Ports = { tcp: 0, tls: 0, http: 0 }): Promise<void> {
    const input: ConfigInput = {
      host: '127.0.0.1',
      dataDir: this.dataDir,
      logLevel: 'silent',
      ...this.#overrides,
      tcpPort: ports.tcp,
      tlsPort: ports.tls,
      httpPort: ports.http,
      tlsCert: this.certificate.certFile,
      tlsKey: this.certificate.keyFile,
      appSecret: this.appSecret,
      limits: { heartbeatMinMs: 10, heartbeatGraceMs: 2_000, ...this.#overrides.limits },
    };
    const child = fork(CHILD, [], {
      execArgv: ['--conditions=@parley/source', '--import', 'tsx'],
      env: { ...process.env, PARLEY_TEST_CONFIG: JSON.stringify(input) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    running.add(child);
    child.once('exit', () => {
      running.delete(child);
      for (const [id, resolve] of this.#waiting) resolve({ id, ok: false, value: 'the server process exited' });
      this.#waiting.clear();
    });
    child.on('message', (answer: ChildAnswer) => {
      const resolve = this.#waiting.get(answer.id);
      this.#waiting.delete(answer.id);
      resolve?.(answer);
    });
    this.#child = child;
    const listening = await new Promise<ChildAnswer>((resolve) => {
      this.#waiting.set(0, resolve);
    });
    if (!listening.ok) throw new Error(`the server process did not start: ${String(listening.value)}`);
    this.ports = listening.value as Ports;
  }

  async #ask(question: Question): Promise<unknown> {
    const child = this.#child;
    if (!child || !this.alive) throw new Error('the server process is not running');
    const id = this.#nextId++;
    const answer = await new Promise<ChildAnswer>((resolve) => {
      this.#waiting.set(id, resolve);
      child.send({ ...question, id });
    });
    if (!answer.ok) throw new Error(`server process: ${String(answer.value)}`);
    return answer.value;
  }
}

/** Kills every server process still running (test teardown, also after failures). */
export async function killAllServers(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) {
            resolve();
            return;
          }
          child.once('exit', () => {
            resolve();
          });
          child.kill('SIGKILL');
        }),
    ),
  );
}
