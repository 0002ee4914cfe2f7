// `npm run bench:setup`: makes sure the anchors can run here, installing what is missing from
// Debian's packages (as root, with apt-get), then proves each works: Mosquitto answers on
// 1883, and a throwaway ejabberd node of the harness starts, takes a user and stops. The npm
// anchors (socket.io, mqtt, @xmpp/client) are ordinary dependencies of this workspace.
// Never run by `npm test`.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { EJABBERDCTL, Ejabberd, ejabberdAvailable } from './anchors/ejabberd.js';
import { ensureMosquitto } from './anchors/mosquitto.js';

const log = (line: string) => process.stdout.write(`${line}\n`);

function aptInstall(packages: string[]): void {
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    throw new Error(`install ${packages.join(' ')} (Debian: apt-get install ${packages.join(' ')}) and run this again`);
  }
  log(`installing ${packages.join(' ')} with apt-get`);
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  // The harness starts its own ejabberd node; the package's system service is not needed.
  if (packages.includes('ejabberd')) {
    try {
      execFileSync('service', ['ejabberd', 'stop'], { stdio: 'ignore' });
    } catch {
      // not running, or no service manager: nothing to stop
    }
  }
}

const missing = [
  ...(existsSync('/usr/sbin/mosquitto') ? [] : ['mosquitto']),
  ...(existsSync(EJABBERDCTL) ? [] : ['ejabberd']),
];
let failed = false;
try {
  if (missing.length > 0) aptInstall(missing);
} catch (err) {
  log(`anchors missing: ${(err as Error).message}`);
  failed = true;
}

const mosquitto = await ensureMosquitto();
log(mosquitto.ok ? `mosquitto: ok (pid ${String(mosquitto.pid)}, 127.0.0.1:1883)` : `mosquitto: ${mosquitto.reason}`);
failed ||= !mosquitto.ok;

const ejabberd = ejabberdAvailable();
if (ejabberd.ok) {
  try {
    const node = await Ejabberd.start();
    try {
      await node.register(['setup-check']);
      log(`ejabberd: ok (own node ${node.node} on 127.0.0.1:${String(node.c2sPort)}, stopped again)`);
    } finally {
      await node.stop();
    }
  } catch (err) {
    log(`ejabberd: ${(err as Error).message}`);
    failed = true;
  }
} else {
  log(`ejabberd: ${ejabberd.reason}`);
  failed = true;
}
process.exitCode = failed ? 1 : 0;
