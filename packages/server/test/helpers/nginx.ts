// nginx in front of test nodes, configured from docs/deploy.md itself: the doc's ```nginx block
// (the main-context `stream` and `http` sections) with this run's ports, in a file of its own.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEPLOY_DOC, type FrontPorts, docBlock, renderDocConfig, requireProgram } from './balancer-config.js';
import { eventually, freePort } from './cluster.js';
import type { NodePorts } from './served-node.js';
import { tcpReachable } from './services.js';

const NGINX = process.env.PARLEY_TEST_NGINX ?? 'nginx';
/** Where Debian's packages put the dynamic stream module (libnginx-mod-stream). */
const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

/** `false` when nginx runs here; else a skip message (without CI) or a throw (with CI=true). */
export function requireNginx(): false | string {
  return requireProgram(NGINX, ['-v'], 'apt-get install nginx-light libnginx-mod-stream');
}

/** nginx in the foreground, everything it writes under a directory of the test's own. */
export class NginxProcess {
  readonly #output: string[] = [];

  private constructor(
    readonly front: FrontPorts,
    private readonly child: ChildProcess,
    private readonly dir: string,
  ) {
    const keep = (chunk: Buffer) => this.#output.push(chunk.toString());
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  static async start(nodes: NodePorts[]): Promise<NginxProcess> {
    const front = { tcp: await freePort(), tls: await freePort(), http: await freePort() };
    const dir = mkdtempSync(join(tmpdir(), 'parley-nginx-'));
    const doc = renderDocConfig(docBlock(readFileSync(DEPLOY_DOC, 'utf8'), 'nginx'), front, nodes);
    // The doc's block goes into the main context; around it, what a foreground test instance needs.
    const built = spawnSync(NGINX, ['-V'], { encoding: 'utf8' }).stderr;
    const loadStream = !built.includes('--with-stream ') && existsSync(STREAM_MODULE);
    const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${join(dir, t)};`);
    const config = [
      loadStream ? `load_module ${STREAM_MODULE};` : '',
      'daemon off;',
      'master_process off;',
      `pid ${join(dir, 'nginx.pid')};`,
      'error_log stderr warn;',
      'events {}',
      doc.replace(/^http \{$/m, `http {\n    access_log off;\n    ${temp.join('\n    ')}`),
    ].join('\n');
    const file = join(dir, 'nginx.conf');
    writeFileSync(file, config);
    const check = spawnSync(NGINX, ['-t', '-p', dir, '-c', file], { encoding: 'utf8' });
    if (check.status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`nginx refuses the doc's config:\n${check.stdout}${check.stderr}`);
    }
    const child = spawn(NGINX, ['-p', dir, '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    const proxy = new NginxProcess(front, child, dir);
    try {
      await eventually(
        'nginx to listen on its frontends',
        async () => {
          if (child.exitCode !== null) throw new Error(`nginx exited with ${String(child.exitCode)}: ${proxy.output}`);
          const up = await Promise.all(Object.values(front).map((p) => tcpReachable('127.0.0.1', p, 200)));
          return up.every(Boolean);
        },
        10_000,
      );
    } catch (err) {
      await proxy.stop();
      throw err;
    }
    return proxy;
  }

  get output(): string {
    return this.#output.join('');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
