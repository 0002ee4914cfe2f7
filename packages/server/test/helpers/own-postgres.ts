// A private PostgreSQL server (never the machine's shared one) in a temp dir on a free port, for
// tests that stop the database for real: `pg_ctl stop -m immediate` kills it like a crash (no
// checkpoint, connections dropped), `start()` brings it back through crash recovery.
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './cluster.js';
import { inCi } from './services.js';

const run = promisify(execFile);

/** The directory of PostgreSQL's server binaries (initdb, pg_ctl), newest version first; undefined if absent. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

const REDIS_SERVER = '/usr/bin/redis-server';
const INSTALL = 'apt-get install postgresql redis-server (or run .ci/run)';

/**
 * Like `requireService`, for tests that run private servers (OwnPostgres, OwnRedis) and so need
 * the binaries, not the machine's services: false when they are there; else a skip message (and
 * a warning line), or a thrown error under CI.
 */
export function requirePrivateServers(): false | string {
  const missing = [
    ...(postgresBinDir() === undefined ? ['PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb)'] : []),
    ...(existsSync(REDIS_SERVER) ? [] : [REDIS_SERVER]),
  ];
  if (missing.length === 0) return false;
  const where = `${missing.join(' and ')} missing`;
  if (inCi()) throw new Error(`${where}, and CI is set: these tests must run. Install them with: ${INSTALL}`);
  const message = `${where}: skipped. Install them with: ${INSTALL}`;
  console.warn(`# ${message}`);
  return message;
}

export class OwnPostgres {
  readonly #bin: string;
  readonly #dir: string;
  readonly #asUser: string[];
  #running = false;
  #exitHook = () => {
    this.#stopSync();
  };

  private constructor(
    bin: string,
    readonly port: number,
  ) {
    this.#bin = bin;
    this.#dir = mkdtempSync(join(tmpdir(), 'parley-pg-'));
    // initdb refuses to run as root: as root, run the binaries as the `postgres` OS user.
    this.#asUser = userInfo().uid === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
    if (this.#asUser.length > 0) {
      const { uid, gid } = postgresIds();
      chownSync(this.#dir, uid, gid);
    }
  }

  /** initdb (trust auth, user `postgres`) and start; resolves once it accepts connections. */
  static async start(): Promise<OwnPostgres> {
    const bin = postgresBinDir();
    if (bin === undefined) throw new Error('PostgreSQL server binaries are missing');
    const pg = new OwnPostgres(bin, await freePort());
    await pg.#exec('initdb', ['-D', pg.#data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
    process.once('exit', pg.#exitHook);
    await pg.restart();
    return pg;
  }

  /** postgres://postgres@127.0.0.1:PORT/postgres */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${String(this.port)}/postgres`;
  }

  get #data(): string {
    return join(this.#dir, 'data');
  }

  /** Starts the server (again, after crash recovery); resolves once it accepts connections. */
  async restart(): Promise<void> {
    // fsync off only saves time: an immediate stop kills processes, not the OS page cache, so
    // a committed transaction survives it either way.
    const options = [
      `-p ${String(this.port)}`,
      '-c listen_addresses=127.0.0.1',
      `-c unix_socket_directories=${this.#dir}`,
      '-c fsync=off',
      '-c max_connections=100',
    ].join(' ');
    await this.#exec('pg_ctl', ['-D', this.#data, '-o', options, '-l', join(this.#dir, 'log'), '-w', 'start']);
    this.#running = true;
  }

  /** `pg_ctl stop -m immediate`: every backend killed at once, like a crash. */
  async kill(): Promise<void> {
    if (!this.#running) return;
    await this.#exec('pg_ctl', ['-D', this.#data, '-m', 'immediate', '-w', 'stop']);
    this.#running = false;
  }

  /** Stops it and removes its files. */
  async stop(): Promise<void> {
    await this.kill().catch(() => undefined);
    process.off('exit', this.#exitHook);
    rmSync(this.#dir, { recursive: true, force: true });
  }

  async #exec(tool: string, args: string[]): Promise<void> {
    const [file, ...rest] = [...this.#asUser, join(this.#bin, tool), ...args] as [string, ...string[]];
    try {
      await run(file, rest, { cwd: this.#dir, timeout: 60_000 });
    } catch (err) {
      const output = (err as { stderr?: string }).stderr ?? '';
      throw new Error(`${tool} failed: ${output.trim()}`, { cause: err });
    }
  }

  /** Last resort when the test process exits without `stop()`: never leave a postgres behind. */
  #stopSync(): void {
    if (!this.#running) return;
    const [file, ...rest] = [...this.#asUser, join(this.#bin, 'pg_ctl'), '-D', this.#data, '-m', 'immediate', 'stop'];
    try {
      execFileSync(file, rest, { stdio: 'ignore', timeout: 10_000 });
    } catch {
      // it may be gone already
    }
  }
}

function postgresIds(): { uid: number; gid: number } {
  const out = execFileSync('id', ['postgres'], { encoding: 'utf8' });
  const uid = /uid=(\d+)/.exec(out)?.[1];
  const gid = /gid=(\d+)/.exec(out)?.[1];
  if (uid === undefined || gid === undefined) throw new Error(`no postgres OS user: ${out}`);
  return { uid: Number(uid), gid: Number(gid) };
}
