// The NAT idle-timeout probe: on fresh connections, in parallel, ask the server to answer
// after growing silences; the largest silence whose answer still arrives is the path's idle
// timeout (carrier NATs and firewalls forget idle connections without a word).
import { Command } from '@parley/protocol';
import { FrameSession, LinkClosedError } from './frame-session.js';
import { type NatProbe, type NatReport, describe, roundMs } from './report.js';
import type { Dialer } from './transports.js';

export interface NatProbeOptions {
  dial: Dialer;
  token: string;
  deviceId: (label: string) => string;
  delaysMs: number[];
  /** How long past each delay to wait for its answer. */
  timeoutMs: number;
  /** For the connect and the login. */
  stepTimeoutMs: number;
}

async function probeOnce(options: NatProbeOptions, delayMs: number): Promise<NatProbe> {
  const session = new FrameSession();
  try {
    try {
      await options.dial(session);
      await session.login(options.token, options.deviceId(`nat-${String(delayMs)}`), options.stepTimeoutMs);
    } catch (err) {
      return { delayMs, outcome: 'error', error: `before the probe: ${describe(err)}` };
    }
    // From here on nothing is sent: the silence is the measurement.
    const started = performance.now();
    const pushesBefore = session.pushes;
    try {
      await session.request(Command.PROBE, { delayMs }, delayMs + options.timeoutMs);
    } catch (err) {
      const elapsedMs = roundMs(performance.now() - started);
      if (err instanceof Error && err.name === 'TimeoutError') {
        return {
          delayMs,
          outcome: 'dropped',
          elapsedMs,
          error: `no answer within ${String(delayMs + options.timeoutMs)} ms`,
        };
      }
      // A closed link is the path's (or the server's) doing; an error status is the server refusing.
      const outcome = err instanceof LinkClosedError ? 'closed' : 'error';
      return { delayMs, outcome, elapsedMs, error: describe(err) };
    }
    const elapsedMs = roundMs(performance.now() - started);
    if (session.pushes > pushesBefore) {
      return {
        delayMs,
        outcome: 'disturbed',
        elapsedMs,
        error: 'the server pushed to this session during the silence',
      };
    }
    return { delayMs, outcome: 'answered', elapsedMs };
  } finally {
    session.close();
  }
}

/** Runs one probe per delay, all at once, each on a connection of its own, and sums them up. */
export async function probeNat(options: NatProbeOptions): Promise<Omit<NatReport, 'transport' | 'address'>> {
  const probes = await Promise.all(options.delaysMs.map((delay) => probeOnce(options, delay)));
  const report: Omit<NatReport, 'transport' | 'address'> = { status: 'ok', timeoutMs: options.timeoutMs, probes };
  const answered = probes.filter((p) => p.outcome === 'answered').map((p) => p.delayMs);
  const lost = probes.filter((p) => p.outcome === 'dropped' || p.outcome === 'closed').map((p) => p.delayMs);
  if (answered.length === 0 && lost.length === 0) {
    report.status = 'fail';
    report.error = probes[0]?.error ?? 'no probe ran';
    return report;
  }
  const estimate = answered.length > 0 ? Math.max(...answered) : undefined;
  const above = lost.filter((d) => estimate === undefined || d > estimate);
  const upper = above.length > 0 ? Math.min(...above) : undefined;
  if (estimate !== undefined) report.estimateMs = estimate;
  if (upper !== undefined) report.upperBoundMs = upper;
  const s = (ms: number) => `${String(ms / 1000)} s`;
  if (upper === undefined) {
    report.note = `every silence up to ${s(estimate ?? 0)} got through: the idle timeout is longer`;
  } else if (estimate === undefined) {
    report.status = 'warn';
    report.note = `even ${s(upper)} of silence was dropped: the idle timeout is shorter; probe smaller delays`;
  } else {
    report.status = 'warn';
    report.note = `idle timeout between ${s(estimate)} and ${s(upper)}: keep heartbeats below ${s(estimate)} on this network`;
  }
  if (lost.some((d) => estimate !== undefined && d < estimate)) {
    report.note += '; a shorter silence was dropped too: the path may be flaky or its timeout may vary';
  }
  return report;
}
