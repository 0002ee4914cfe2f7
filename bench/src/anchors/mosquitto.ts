// The Mosquitto anchor: the machine's broker on 127.0.0.1:1883 (MQTT QoS 1, driven with
// mqtt.js). The harness uses the running broker and, when it is down but installed, starts
// it the way the machine's service notes say; it never installs anything (bench:setup does).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { sleep } from '../clock.js';

export const MOSQUITTO_HOST = '127.0.0.1';
export const MOSQUITTO_PORT = 1883;
const BINARY = '/usr/sbin/mosquitto';
const CONFIG = '/etc/mosquitto/mosquitto.conf';

export interface Availability {
  ok: boolean;
  /** Why not, when not. */
  reason: string;
  pid: number | undefined;
}

function reachable(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: MOSQUITTO_HOST, port: MOSQUITTO_PORT });
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

/** The broker's pid (for its memory and CPU), found by its command name. */
function brokerPid(): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'mosquitto') return Number(entry);
    } catch {
      // gone while we looked
    }
  }
  return undefined;
}

/** Makes sure the broker answers on 1883, starting the installed one if it is down. */
export async function ensureMosquitto(): Promise<Availability> {
  if (!(await reachable())) {
    if (!existsSync(BINARY)) {
      return { ok: false, reason: 'mosquitto is not installed (run npm run bench:setup)', pid: undefined };
    }
    try {
      execFileSync(BINARY, ['-d', '-c', CONFIG], { stdio: 'ignore' });
    } catch (err) {
      return { ok: false, reason: `mosquitto would not start: ${(err as Error).message}`, pid: undefined };
    }
    for (let i = 0; i < 20 && !(await reachable()); i++) await sleep(250);
    if (!(await reachable()))
      return { ok: false, reason: 'mosquitto started but does not answer on 1883', pid: undefined };
  }
  return { ok: true, reason: '', pid: brokerPid() };
}
