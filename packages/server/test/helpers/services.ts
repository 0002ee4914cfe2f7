// Gates for suites that need a service running on this machine (PostgreSQL, Redis, ...).
// Without CI a missing service skips the suite with a line saying how to start it; with
// CI=true it fails the run, so a broken CI machine never passes by skipping.
import { connect } from 'node:net';

export interface ServiceSpec {
  /** Shown in messages, e.g. "PostgreSQL". */
  name: string;
  host: string;
  port: number;
  /** The command that starts it on this machine (see DESIGN.md). */
  start: string;
}

export const POSTGRES: ServiceSpec = {
  name: 'PostgreSQL',
  host: '127.0.0.1',
  port: 5432,
  start: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
};

export const REDIS: ServiceSpec = {
  name: 'Redis',
  host: '127.0.0.1',
  port: 6379,
  start:
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log',
};

/** Whether something accepts TCP connections on host:port within `timeoutMs`. */
export function tcpReachable(host: string, port: number, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => {
      done(false);
    });
    socket.once('connect', () => {
      done(true);
    });
    socket.once('error', () => {
      done(false);
    });
  });
}

/** True when the run is CI (`CI` set to anything but "" / "false" / "0"). */
export function inCi(): boolean {
  const ci = process.env.CI ?? '';
  return ci !== '' && ci !== 'false' && ci !== '0';
}

/**
 * Checks that the service is up. Returns `false` when it is (run the suite), or a skip message
 * for `describe(name, { skip }, ...)` when it is not and this is not CI. In CI it throws, which
 * fails the test file.
 */
export async function requireService(spec: ServiceSpec): Promise<false | string> {
  if (await tcpReachable(spec.host, spec.port)) return false;
  const where = `${spec.name} is not reachable on ${spec.host}:${String(spec.port)}`;
  if (inCi()) throw new Error(`${where}, and CI is set: these tests must run. Start it with: ${spec.start}`);
  const message = `${where}: skipped. Start it with: ${spec.start}`;
  console.warn(`# ${message}`);
  return message;
}
