// Test harness for `parley chat`: a real server that can be stopped and started again on the
// same ports, SDK clients for the other side of a conversation, `parley chat` run in a real
// pseudo-terminal under tmux (a private tmux server per harness), and run with piped stdin.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ParleyClient } from '@parley/client';
import { tcpTransport } from '@parley/client/node';
import { type StartedServer, installHttpApi, issueToken, parseConfig, startServer } from '@parley/server';

const run = promisify(execFile);
const main = new URL('../../src/main.ts', import.meta.url).pathname;
/** The command line that runs `parley` from source (as the package's test script does). */
export const PARLEY = [process.execPath, '--conditions=@parley/source', '--import', 'tsx', main];

/** Polls `check` until it returns a value (not undefined/false) or `timeoutMs` passes. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 30_000,
  describe?: () => string | Promise<string>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      const detail = describe ? `\n${await describe()}` : '';
      throw new Error(`timed out waiting for ${what}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

interface Limits {
  maxMessageBytes?: number;
}

/** A real server in a temporary data dir; `restart` keeps the data and the ports. */
export class ChatServer {
  server: StartedServer | undefined;
  tcpPort = 0;
  tlsPort = 0;
  httpPort = 0;

  private constructor(readonly dataDir: string) {}

  static async start(limits: Limits = {}): Promise<ChatServer> {
    const s = new ChatServer(mkdtempSync(join(tmpdir(), 'parley-chat-')));
    await s.up(limits);
    return s;
  }

  /** Starts the server (again: same data, same ports) with these limits. */
  async up(limits: Limits = {}): Promise<void> {
    const config = parseConfig({
      dataDir: this.dataDir,
      tcpPort: this.tcpPort,
      tlsPort: this.tlsPort,
      httpPort: this.httpPort,
      logLevel: 'silent',
      limits,
      shutdown: { goawayDelayMs: 10, drainTimeoutMs: 500 },
    });
    this.server = await startServer(config, { http: installHttpApi });
    this.tcpPort = this.server.addresses.tcp?.port ?? 0;
    this.tlsPort = this.server.addresses.tls?.port ?? 0;
    this.httpPort = this.server.addresses.http.port;
  }

  async down(): Promise<void> {
    await this.server?.stop();
    this.server = undefined;
  }

  async dispose(): Promise<void> {
    await this.down();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** The `parley chat` flags that reach this server as `user`, with state in `stateDir`. */
  chatArgs(user: string, stateDir: string): string[] {
    return [
      'chat',
      '--server',
      '127.0.0.1',
      '--tcp-port',
      String(this.tcpPort),
      '--http-port',
      String(this.httpPort),
      '--user',
      user,
      '--data',
      this.dataDir,
      '--state',
      stateDir,
    ];
  }

  /** An SDK client for the other side of a conversation (fast reconnects for restarts). */
  async sdkClient(user: string): Promise<ParleyClient> {
    const server = this.server;
    if (!server) throw new Error('server is down');
    const secret = server.appSecret;
    const client = new ParleyClient({
      transport: tcpTransport({ host: '127.0.0.1', port: this.tcpPort }),
      token: () => issueToken({ secret, userId: user, ttlSeconds: 3600 }),
      deviceId: `sdk-${user}`,
      connection: { backoff: { baseMs: 100, capMs: 500 } },
    });
    await client.connect();
    await client.ready({ timeoutMs: 20_000 });
    return client;
  }
}

function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** `parley chat` in a real terminal: a tmux session on a private tmux server. */
export class TmuxChat {
  static #count = 0;
  readonly socket = `parley-chat-test-${String(process.pid)}-${String(++TmuxChat.#count)}`;
  readonly session = 'chat';

  async #tmux(...args: string[]): Promise<string> {
    const { stdout } = await run('tmux', ['-L', this.socket, ...args]);
    return stdout;
  }

  /** Starts `parley <args>` in a 120x40 terminal; the pane shows `EXIT=<code>` when it ends. */
  async start(args: string[], size = { cols: 120, rows: 40 }): Promise<void> {
    const command = `${[...PARLEY, ...args].map(shellQuote).join(' ')}; echo EXIT=$?; sleep 600`;
    await this.#tmux(
      'new-session',
      '-d',
      '-s',
      this.session,
      '-x',
      String(size.cols),
      '-y',
      String(size.rows),
      command,
    );
  }

  /** Types `text` literally (no key names), then Enter unless `enter` is false. */
  async type(text: string, enter = true): Promise<void> {
    if (text !== '') await this.#tmux('send-keys', '-t', this.session, '-l', text);
    if (enter) await this.#tmux('send-keys', '-t', this.session, 'Enter');
  }

  /** Sends key names (C-c, C-d, PPage, ...). */
  async keys(...names: string[]): Promise<void> {
    await this.#tmux('send-keys', '-t', this.session, ...names);
  }

  async resize(cols: number, rows: number): Promise<void> {
    await this.#tmux('resize-window', '-t', this.session, '-x', String(cols), '-y', String(rows));
  }

  /** What the terminal shows now. */
  async screen(): Promise<string> {
    return this.#tmux('capture-pane', '-p', '-t', this.session);
  }

  /** Waits until the screen matches `pattern`; returns the screen. */
  async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    return waitFor(
      `the screen to show ${String(pattern)}`,
      async () => {
        const screen = await this.screen();
        return pattern.test(screen) ? screen : undefined;
      },
      timeoutMs,
      async () => `screen:\n${await this.screen().catch(() => '(gone)')}`,
    );
  }

  async kill(): Promise<void> {
    await this.#tmux('kill-server').catch(() => undefined);
    const dir = join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${String(process.getuid?.() ?? 0)}`);
    rmSync(join(dir, this.socket), { force: true });
  }
}

/** Runs `parley <args>` with `input` on a pipe; resolves with its output and exit code. */
export function runPiped(
  args: string[],
  input: string,
  options: { keepOpenMs?: number; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PARLEY[0] ?? process.execPath, [...PARLEY.slice(1), ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.write(input);
    if (options.keepOpenMs === undefined) child.stdin.end();
    else setTimeout(() => child.stdin.end(), options.keepOpenMs);
  });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
