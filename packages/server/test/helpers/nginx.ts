// nginx in front of test nodes, configured from docs/deploy.md itself: the doc's ```nginx block
// (the main-context `stream` and `http` sections) with this run's ports, in a file of its own.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BalancerProcess, deployDocConfig, freeFrontPorts, requireProgram } from './balancer-config.js';
import type { NodePorts } from './served-node.js';

const NGINX = process.env.PARLEY_TEST_NGINX ?? 'nginx';
/** Where Debian's packages put the dynamic stream module (libnginx-mod-stream). */
const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

/** `false` when nginx runs here; else a skip message (without CI) or a throw (with CI=true). */
export function requireNginx(): false | string {
  return requireProgram(NGINX, ['-v'], 'apt-get install nginx-light libnginx-mod-stream');
}

/** nginx in the foreground, everything it writes under a directory of the test's own. */
export class NginxProcess extends BalancerProcess {
  static async start(nodes: NodePorts[]): Promise<NginxProcess> {
    const front = await freeFrontPorts();
    const dir = mkdtempSync(join(tmpdir(), 'parley-nginx-'));
    const doc = deployDocConfig('nginx', front, nodes);
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
    const run = ['-p', dir, '-c', file];
    const launch = { name: 'nginx', command: NGINX, check: ['-t', ...run], run, front, dir };
    return super.launch(launch, (child) => new NginxProcess(front, child, dir));
  }
}
