// The ejabberd anchor (Debian's ejabberd 23.01): the harness writes a config into a temporary
// directory and starts its OWN node there, on free ports of 127.0.0.1 (never 5222/5280) and
// its own Erlang distribution port (no epmd), so the machine's ejabberd service is never
// touched. Local users (internal auth, stored in the node's Mnesia database, imported in bulk
// through its HTTP API), offline storage (mod_offline) and multi-user chat (mod_muc, for the
// room scenario) are on.
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sleep } from '../clock.js';
import { findPids } from '../proc.js';

const run = promisify(execFile);
export const EJABBERDCTL = '/usr/sbin/ejabberdctl';
export const XMPP_DOMAIN = 'bench.local';
export const MUC_DOMAIN = `conference.${XMPP_DOMAIN}`;
export const XMPP_PASSWORD = 'bench';

/** A free TCP port on 127.0.0.1 (closed again at once; taken by ejabberd right after). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

function config(c2sPort: number, httpPort: number): string {
  return `# Written by the Parley bench harness for its own ejabberd node.
loglevel: warning
hosts:
  - ${XMPP_DOMAIN}
auth_method: internal
auth_password_format: plain
# SASL PLAIN only: SCRAM's key derivation would make the load generator, not the server, the bottleneck.
disable_sasl_mechanisms: ["SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-512", "X-OAUTH2", "DIGEST-MD5"]
listen:
  -
    port: ${String(c2sPort)}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls: false
    max_stanza_size: 262144
  -
    port: ${String(httpPort)}
    ip: "127.0.0.1"
    module: ejabberd_http
    request_handlers:
      /api: mod_http_api
acl:
  loopback:
    ip:
      - 127.0.0.0/8
access_rules:
  local:
    allow: all
api_permissions:
  "bench harness":
    from: [mod_http_api]
    who:
      acl: loopback
    what: "*"
shaper_rules:
  max_user_sessions: 10
modules:
  mod_offline:
    access_max_user_messages: unlimited
  mod_roster: {}
  mod_muc:
    host: ${MUC_DOMAIN}
    access_create: local
    max_users: 20000
    max_users_presence: 100
    history_size: 0
    default_room_options:
      persistent: false
      max_users: 20000
`;
}

export interface EjabberdAvailability {
  ok: boolean;
  reason: string;
}

/** Whether this machine can run the harness's own ejabberd node, and why not. */
export function ejabberdAvailable(): EjabberdAvailability {
  if (!existsSync(EJABBERDCTL)) return { ok: false, reason: 'ejabberd is not installed (run npm run bench:setup)' };
  const uid = process.getuid?.() ?? -1;
  if (uid !== 0) {
    // Debian's ejabberdctl runs the node as the `ejabberd` user: only root (or that user) may.
    return {
      ok: false,
      reason: 'ejabberdctl runs only as root or the ejabberd user; the harness runs as uid ' + String(uid),
    };
  }
  return { ok: true, reason: '' };
}

/** One running ejabberd node of ours. */
export class Ejabberd {
  private constructor(
    readonly dir: string,
    readonly node: string,
    readonly c2sPort: number,
    readonly httpPort: number,
    readonly distPort: number,
  ) {}

  static async start(): Promise<Ejabberd> {
    const dir = mkdtempSync(join(tmpdir(), 'parley-bench-ejabberd-'));
    const [c2sPort, httpPort, distPort] = [await freePort(), await freePort(), await freePort()];
    const node = `parleybench${String(process.pid)}@localhost`;
    const self = new Ejabberd(dir, node, c2sPort, httpPort, distPort);
    mkdirSync(join(dir, 'db'));
    mkdirSync(join(dir, 'logs'));
    writeFileSync(join(dir, 'ejabberd.yml'), config(c2sPort, httpPort));
    writeFileSync(join(dir, 'ejabberdctl.cfg'), 'EJABBERD_BYPASS_WARNINGS=true\n');
    writeFileSync(join(dir, 'inetrc'), '{lookup,["file","native"]}.\n{host,{127,0,0,1}, ["localhost"]}.\n');
    // ejabberdctl switches to the ejabberd user, which must own the node's files.
    const owner = ownerOf('ejabberd');
    if (owner)
      for (const p of ['', 'db', 'logs', 'ejabberd.yml', 'ejabberdctl.cfg', 'inetrc'])
        chownSync(join(dir, p), owner.uid, owner.gid);
    await self.#ctl('start');
    // Ready once both listeners accept: polling the ports is much quicker than `ejabberdctl
    // status`, which boots a second Erlang VM per call.
    for (let i = 0; i < 600; i++) {
      if ((await accepts(c2sPort)) && (await accepts(httpPort))) return self;
      await sleep(100);
    }
    await self.stop();
    throw new Error(`ejabberd did not start in 60 s; logs in ${join(dir, 'logs')}`);
  }

  async #ctl(...args: string[]): Promise<string> {
    // Run as the ejabberd user ourselves: ejabberdctl would otherwise switch user through su,
    // whose PAM session drops the open-files limit to 1,024 (too few for the benchmark).
    const owner = ownerOf('ejabberd');
    const { stdout } = await run(
      EJABBERDCTL,
      [
        '--config-dir',
        this.dir,
        '--config',
        join(this.dir, 'ejabberd.yml'),
        '--ctl-config',
        join(this.dir, 'ejabberdctl.cfg'),
        '--spool',
        join(this.dir, 'db'),
        '--logs',
        join(this.dir, 'logs'),
        '--node',
        this.node,
        ...args,
      ],
      {
        env: { ...process.env, ERL_DIST_PORT: String(this.distPort), HOME: this.dir },
        cwd: this.dir,
        timeout: 60_000,
        ...(owner && process.getuid?.() === 0 ? { uid: owner.uid, gid: owner.gid } : {}),
      },
    );
    return stdout;
  }

  /** The Erlang VM's pid (for memory and CPU readings). */
  get pids(): number[] {
    return findPids(`-name ${this.node}`).concat(findPids(`-sname ${this.node}`));
  }

  readonly #registered = new Set<string>();

  /**
   * Creates the users that do not exist yet in one call: a XEP-0227 (PIEFXIS) file imported
   * through the HTTP API (`import_piefxis`), the same internal-auth accounts `register` makes,
   * about ten times faster than one `register` request per user (1,000 users: 0.9 s vs 6.7 s).
   */
  async register(users: readonly string[]): Promise<void> {
    const fresh = [...new Set(users)].filter((u) => !this.#registered.has(u));
    if (fresh.length === 0) return;
    const file = join(this.dir, `users-${String(this.#registered.size)}.xml`);
    writeFileSync(
      file,
      `<?xml version='1.0' encoding='UTF-8'?>\n<server-data xmlns='urn:xmpp:pie:0'>\n<host jid='${XMPP_DOMAIN}'>\n` +
        fresh.map((u) => `<user name='${u}' password='${XMPP_PASSWORD}'/>\n`).join('') +
        '</host>\n</server-data>\n',
    );
    const owner = ownerOf('ejabberd');
    if (owner) chownSync(file, owner.uid, owner.gid);
    const res = await fetch(`http://127.0.0.1:${String(this.httpPort)}/api/import_piefxis`, {
      method: 'POST',
      body: JSON.stringify({ file }),
    });
    const text = await res.text();
    if (!res.ok || text.trim() !== '0') throw new Error(`ejabberd import_piefxis: ${String(res.status)} ${text}`);
    rmSync(file, { force: true });
    for (const u of fresh) this.#registered.add(u);
  }

  /**
   * Stops the node and removes its directory. SIGTERM makes the VM shut down cleanly (as
   * `ejabberdctl stop` would, without booting a second VM for the RPC); SIGKILL if it lingers.
   */
  async stop(): Promise<void> {
    const pids = this.pids;
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 40 && pids.some(alive); i++) await sleep(250);
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Synchronous last resort on exit: kill the VM. */
  kill(): void {
    for (const pid of this.pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1_000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => {
      resolve(false);
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The uid and gid of a system user, from /etc/passwd. */
function ownerOf(user: string): { uid: number; gid: number } | undefined {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`));
  if (!line) return undefined;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}
