// HAProxy in front of test nodes, configured from docs/deploy.md itself: the test renders the
// doc's ```haproxy block with this run's ports, so the documented config is the one that runs.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BalancerProcess, deployDocConfig, freeFrontPorts, requireProgram } from './balancer-config.js';
import type { NodePorts } from './served-node.js';

const HAPROXY = process.env.PARLEY_TEST_HAPROXY ?? 'haproxy';

/** `false` when haproxy runs here; else a skip message (without CI) or a throw (with CI=true). */
export function requireHaproxy(): false | string {
  return requireProgram(HAPROXY, ['-v'], 'apt-get install haproxy');
}

/** One server's state as HAProxy's stats report it. */
export interface ServerState {
  backend: string;
  server: string;
  /** UP, DOWN, "UP 1/2" (going down), "DOWN 1/2" (coming up), MAINT, ... */
  status: string;
  /** Connections open now. */
  current: number;
}

/** haproxy in the foreground (-db) with an admin stats socket of the test's own. */
export class HaproxyProcess extends BalancerProcess {
  /** Starts haproxy with the doc's config for these nodes; resolves once every frontend accepts connections. */
  static async start(nodes: NodePorts[]): Promise<HaproxyProcess> {
    const front = await freeFrontPorts();
    const dir = mkdtempSync(join(tmpdir(), 'parley-haproxy-'));
    const config = deployDocConfig('haproxy', front, nodes);
    // Test-only addition: the admin socket the test reads server states from.
    const withStats = config.replace(/^global\n/m, `global\n    stats socket ${join(dir, 'admin.sock')} level admin\n`);
    const file = join(dir, 'haproxy.cfg');
    writeFileSync(file, withStats);
    const launch = {
      name: 'haproxy',
      command: HAPROXY,
      check: ['-c', '-f', file],
      run: ['-db', '-f', file],
      front,
      dir,
    };
    return super.launch(launch, (child) => new HaproxyProcess(front, child, dir));
  }

  /** Runs one command on the admin socket and returns its answer. */
  admin(command: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(join(this.dir, 'admin.sock'));
      let answer = '';
      socket.setEncoding('utf8');
      socket.on('data', (text: string) => (answer += text));
      socket.once('error', reject);
      socket.once('end', () => {
        resolve(answer);
      });
      socket.end(`${command}\n`);
    });
  }

  /** The state of every server of every backend. */
  async servers(): Promise<ServerState[]> {
    const csv = await this.admin('show stat');
    const lines = csv.split('\n').filter((l) => l.length > 0);
    const header = (lines[0] ?? '').replace(/^# /, '').split(',');
    const col = (name: string) => header.indexOf(name);
    return lines
      .slice(1)
      .map((l) => l.split(','))
      .filter((f) => f[col('svname')] !== 'FRONTEND' && f[col('svname')] !== 'BACKEND')
      .map((f) => ({
        backend: f[col('pxname')] ?? '',
        server: f[col('svname')] ?? '',
        status: f[col('status')] ?? '',
        current: Number(f[col('scur')]),
      }));
  }
}
