// Starting and stopping each system under test for one scenario: Parley and the two Node
// anchors as child processes of the harness (several when one process would pass its file
// limit), the machine's Mosquitto, and the harness's own ejabberd node.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ejabberd, ejabberdAvailable } from './anchors/ejabberd.js';
import { MOSQUITTO_HOST, MOSQUITTO_PORT, ensureMosquitto } from './anchors/mosquitto.js';
import { type ChildHandle, startChild } from './ipc.js';
import type { Endpoint, SystemName } from './worker/driver.js';

export const ALL_SYSTEMS: SystemName[] = ['parley', 'bare', 'socketio', 'mosquitto', 'ejabberd'];

/** How each system is named in the tables. */
export const SYSTEM_LABELS: Record<SystemName, string> = {
  parley: 'Parley',
  baseline: 'Parley baseline (--baseline build)',
  bare: 'bare Node (net, same framing, no storage)',
  socketio: 'Socket.IO 4 (acks)',
  mosquitto: 'Mosquitto (MQTT QoS 1)',
  ejabberd: 'ejabberd 23.01 (XMPP)',
};

export interface RunningSystem {
  name: SystemName;
  endpoint: Endpoint;
  /** Processes whose memory and CPU are the server's. */
  pids(): number[];
  /** Forces GC in our own Node servers before a memory reading (no-op for the others). */
  gc(): Promise<void>;
  /** Users must exist before they log in (ejabberd); a no-op elsewhere. */
  prepareUsers(users: readonly string[]): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Server processes (Parley, bare, Socket.IO): one process may hold at most ~20,000 files. */
  processes: number;
  /** Write a V8 CPU profile of each Parley server process into this directory. */
  cpuProfileDir?: string | undefined;
  /** The `baseline` system's server module (another build's packages/server/src/index.ts). */
  baselineServer?: string | undefined;
}

/** Whether a system can run here, and why not. Checked before a scenario starts it. */
export async function availability(name: SystemName): Promise<{ ok: boolean; reason: string }> {
  if (name === 'mosquitto') return ensureMosquitto();
  if (name === 'ejabberd') return ejabberdAvailable();
  return { ok: true, reason: '' };
}

const MODULES: Partial<Record<SystemName, string>> = {
  parley: './servers/parley',
  baseline: './servers/parley',
  bare: './servers/bare',
  socketio: './servers/socketio',
};

export async function startSystem(name: SystemName, options: StartOptions): Promise<RunningSystem> {
  const module = MODULES[name];
  if (module) return startNodeServers(name, module, options);
  if (name === 'mosquitto') {
    const available = await ensureMosquitto();
    if (!available.ok) throw new Error(available.reason);
    return {
      name,
      endpoint: { system: name, host: MOSQUITTO_HOST, ports: [MOSQUITTO_PORT] },
      pids: () => (available.pid === undefined ? [] : [available.pid]),
      gc: () => Promise.resolve(),
      prepareUsers: () => Promise.resolve(),
      stop: () => Promise.resolve(),
    };
  }
  const node = await Ejabberd.start();
  const stopOnExit = () => {
    node.kill();
  };
  process.once('exit', stopOnExit);
  return {
    name,
    endpoint: { system: name, host: '127.0.0.1', ports: [node.c2sPort] },
    pids: () => node.pids,
    gc: () => Promise.resolve(),
    prepareUsers: (users) => node.register(users),
    stop: async () => {
      process.removeListener('exit', stopOnExit);
      await node.stop();
    },
  };
}

async function startNodeServers(name: SystemName, module: string, options: StartOptions): Promise<RunningSystem> {
  const dataDirs: string[] = [];
  const children: ChildHandle[] = [];
  const secret = randomBytes(32).toString('base64url');
  for (let i = 0; i < options.processes; i++) {
    const args: string[] = [];
    const parley = name === 'parley' || name === 'baseline';
    if (parley) {
      const dir = mkdtempSync(join(tmpdir(), 'parley-bench-'));
      dataDirs.push(dir);
      args.push(dir, secret);
      if (name === 'baseline') {
        if (!options.baselineServer) throw new Error('the baseline system needs --baseline PATH');
        args.push(options.baselineServer);
      }
    }
    const flags = ['--expose-gc'];
    if (parley && options.cpuProfileDir) flags.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}/${name}`);
    children.push(startChild(`${name}-server-${String(i)}`, module, args, flags));
  }
  // An interrupted run (the children are killed on exit) still removes the stores.
  const removeDirs = () => {
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', removeDirs);
  const readies = await Promise.all(children.map((c) => c.ready));
  return {
    name,
    endpoint: { system: name, host: '127.0.0.1', ports: readies.map((r) => r.port as number), secret },
    pids: () => children.map((c) => c.pid),
    gc: async () => {
      await Promise.all(children.map((c) => c.request('gc')));
    },
    prepareUsers: () => Promise.resolve(),
    stop: async () => {
      // Parley stops gracefully (and writes its CPU profile); the anchors just exit.
      await Promise.all(
        children.map(async (c) =>
          MODULES[name] === MODULES.parley ? c.request('stop', {}, 30_000).catch(() => null) : null,
        ),
      );
      await Promise.all(children.map((c) => c.stop(10_000)));
      process.removeListener('exit', removeDirs);
      removeDirs();
    },
  };
}
