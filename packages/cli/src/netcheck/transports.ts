// Connection checks per transport (TCP per address, TLS handshake, WebSocket upgrade) and
// the login and ping round trips over each.
import { randomBytes } from 'node:crypto';
import { type Socket, connect as netConnect, isIP } from 'node:net';
import {
  type PeerCertificate,
  type TLSSocket,
  checkServerIdentity,
  createSecureContext,
  connect as tlsConnect,
} from 'node:tls';
import { nodeWebSocketTransport } from '@parley/client/node';
import { Command } from '@parley/protocol';
import type { Candidate } from './dns.js';
import { FrameSession, streamLink } from './frame-session.js';
import { hostHeader } from './http.js';
import {
  type CertificateInfo,
  type SessionCheck,
  type TcpAttempt,
  type TcpReport,
  type TlsReport,
  type WsReport,
  describe,
  roundMs,
  skippedSession,
} from './report.js';

/** Trust settings for TLS: CA certificates (PEM; undefined for Node's roots) and --insecure. */
export interface Trust {
  ca: string[] | undefined;
  insecure: boolean;
}

/** What a session check does once connected. */
export interface SessionPlan {
  token: string | undefined;
  /** Device id for logins; each connection gets its own unless the token pins one. */
  deviceId: (label: string) => string;
  pings: number;
  timeoutMs: number;
}

/** Device ids unique to this run, so parallel logins never replace one another. */
export function deviceIds(pinned: string | undefined): (label: string) => string {
  const run = randomBytes(4).toString('hex');
  return (label) => pinned ?? `netcheck-${run}-${label}`;
}

function timeoutError(what: string, ms: number): Error {
  const err = new Error(`${what}: no answer within ${String(ms)} ms`);
  err.name = 'TimeoutError';
  return err;
}

/** Resolves once `socket` emits `event`; destroys it on error or timeout. */
function whenReady<S extends Socket>(
  socket: S,
  event: 'connect' | 'secureConnect',
  ms: number,
  what: string,
): Promise<S> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(timeoutError(what, ms));
    }, ms);
    socket.once(event, () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
    const onError = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once('error', onError);
  });
}

function tcpSocket(address: string, port: number, timeoutMs: number): Promise<Socket> {
  return whenReady(netConnect({ host: address, port }), 'connect', timeoutMs, `TCP connect to ${address}`);
}

/** TLS to `address` as `hostname`, always verified unless --insecure (the NAT probe's dialer). */
function tlsSocket(address: string, hostname: string, port: number, trust: Trust, timeoutMs: number) {
  const socket = tlsConnect({
    host: address,
    port,
    ...(isIP(hostname) === 0 ? { servername: hostname } : {}),
    ...(trust.ca === undefined ? {} : { ca: trust.ca }),
    rejectUnauthorized: !trust.insecure,
    checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(hostname, cert),
  });
  return whenReady(socket, 'secureConnect', timeoutMs, `TLS to ${address}`);
}

/** Login (when there is a token), then `pings` PING round trips; closes the session. */
export async function runSession(session: FrameSession, plan: SessionPlan, label: string): Promise<SessionCheck> {
  const result: SessionCheck = {
    status: 'ok',
    login: { status: 'skip', note: 'no token' },
    ping: { status: 'ok', sent: 0, lost: 0 },
  };
  try {
    if (plan.token !== undefined) {
      const wallBefore = Date.now();
      const started = performance.now();
      try {
        const res = await session.login(plan.token, plan.deviceId(label), plan.timeoutMs);
        const ms = performance.now() - started;
        result.login = {
          status: 'ok',
          ms: roundMs(ms),
          userId: res.userId,
          heartbeatIntervalMs: res.heartbeatIntervalMs,
          clockSkewMs: Math.round(res.serverTime - (wallBefore + ms / 2)),
        };
      } catch (err) {
        result.login = { status: 'fail', ms: roundMs(performance.now() - started), error: describe(err) };
      }
    }
    const samples: number[] = [];
    let lastError: string | undefined;
    for (let i = 0; i < plan.pings; i++) {
      result.ping.sent++;
      const started = performance.now();
      try {
        await session.request(Command.PING, {}, plan.timeoutMs);
        samples.push(performance.now() - started);
      } catch (err) {
        result.ping.lost++;
        lastError = describe(err);
        if (err instanceof Error && err.name !== 'TimeoutError') break; // the link is gone
      }
    }
    if (samples.length > 0) {
      result.ping.minMs = roundMs(Math.min(...samples));
      result.ping.avgMs = roundMs(samples.reduce((a, b) => a + b, 0) / samples.length);
      result.ping.maxMs = roundMs(Math.max(...samples));
      result.ping.ms = result.ping.avgMs;
    }
    if (lastError !== undefined) result.ping.error = lastError;
    result.ping.status = samples.length === 0 ? 'fail' : result.ping.lost > 0 ? 'warn' : 'ok';
  } finally {
    session.close();
  }
  const parts = [result.login.status, result.ping.status];
  result.status = parts.includes('fail') ? 'fail' : parts.includes('warn') ? 'warn' : 'ok';
  if (result.login.status === 'fail') result.error = `login: ${result.login.error ?? 'failed'}`;
  else if (result.ping.status === 'fail') result.error = `ping: ${result.ping.error ?? 'no answer'}`;
  return result;
}

/** TCP connect to every address at once; keeps the first one (in answer order) that connected. */
export async function checkTcp(
  addresses: Candidate[],
  port: number,
  timeoutMs: number,
): Promise<{ report: TcpReport; socket?: Socket }> {
  const tries = await Promise.all(
    addresses.map(async (candidate) => {
      const started = performance.now();
      const base = { address: candidate.address, family: candidate.family, from: candidate.from };
      try {
        const socket = await tcpSocket(candidate.address, port, timeoutMs);
        const attempt: TcpAttempt = { ...base, status: 'ok', ms: roundMs(performance.now() - started) };
        return { attempt, socket };
      } catch (err) {
        const ms = roundMs(performance.now() - started);
        const attempt: TcpAttempt = { ...base, status: 'fail', ms, error: describe(err) };
        return { attempt, socket: undefined };
      }
    }),
  );
  const winner = tries.find((t) => t.socket !== undefined);
  for (const t of tries) if (t !== winner) t.socket?.destroy();
  const attempts = tries.map((t) => t.attempt);
  const report: TcpReport = {
    status: 'ok',
    port,
    addresses: attempts,
    session: skippedSession('no connection'),
  };
  if (addresses.length === 0) {
    return { report: { ...report, status: 'fail', error: 'no address to connect to' } };
  }
  if (!winner) {
    return { report: { ...report, status: 'fail', error: 'no address connected' } };
  }
  report.chosen = winner.attempt.address;
  report.ms = winner.attempt.ms;
  const failed = attempts.filter((a) => a.status !== 'ok');
  if (failed.length > 0) {
    // One bad address costs a happy-eyeballs delay on every connect: worth a look, not fatal.
    for (const a of failed) a.status = 'warn';
    report.status = 'warn';
    report.note = `${String(failed.length)} of ${String(attempts.length)} addresses did not connect`;
  }
  return { report, socket: winner.socket };
}

function certificateInfo(cert: PeerCertificate): CertificateInfo {
  const name = (n: Record<string, string | string[] | undefined> | undefined) =>
    Object.entries(n ?? {})
      .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : (v ?? '')}`)
      .join(', ');
  const validTo = new Date(cert.valid_to);
  return {
    subject: name(cert.subject),
    issuer: name(cert.issuer),
    altNames: cert.subjectaltname ?? '',
    validFrom: new Date(cert.valid_from).toISOString(),
    validTo: validTo.toISOString(),
    daysLeft: Math.floor((validTo.getTime() - Date.now()) / 86_400_000),
    fingerprint256: cert.fingerprint256,
  };
}

/**
 * The TLS handshake, timed apart from the TCP connect, with what was negotiated and the
 * certificate. The chain and the name are checked separately (and reported) rather than
 * refused at the handshake, so a bad certificate shows what is wrong with it. Without
 * --insecure, no token is sent over a connection whose certificate did not check out.
 */
export async function checkTls(
  address: string,
  hostname: string,
  port: number,
  trust: Trust,
  plan: SessionPlan,
): Promise<TlsReport> {
  // Built first: parsing a CA bundle takes milliseconds that are no part of the connect.
  const secureContext = createSecureContext(trust.ca === undefined ? {} : { ca: trust.ca });
  const started = performance.now();
  let connectedAt: number | undefined;
  const socket: TLSSocket = tlsConnect({
    host: address,
    port,
    ...(isIP(hostname) === 0 ? { servername: hostname } : {}),
    secureContext,
    // Judged below, to report rather than refuse.
    rejectUnauthorized: false,
    checkServerIdentity: () => undefined,
    minVersion: 'TLSv1.2',
  });
  socket.once('connect', () => (connectedAt = performance.now()));
  const report: TlsReport = { status: 'ok', port, address, session: skippedSession('no connection') };
  try {
    await whenReady(socket, 'secureConnect', plan.timeoutMs, `TLS to ${address}`);
  } catch (err) {
    if (connectedAt !== undefined) report.connectMs = roundMs(connectedAt - started);
    return {
      ...report,
      status: 'fail',
      ms: roundMs(performance.now() - (connectedAt ?? started)),
      error: describe(err),
    };
  }
  const done = performance.now();
  report.connectMs = roundMs((connectedAt ?? started) - started);
  report.ms = roundMs(done - (connectedAt ?? started));
  report.protocol = socket.getProtocol() ?? undefined;
  report.cipher = socket.getCipher().standardName;
  const cert = socket.getPeerCertificate();
  if (Object.keys(cert).length > 0) report.certificate = certificateInfo(cert);
  report.chainVerified = socket.authorized;
  if (!socket.authorized) report.chainError = String(socket.authorizationError);
  const identity = Object.keys(cert).length > 0 ? checkServerIdentity(hostname, cert) : new Error('no certificate');
  report.hostnameVerified = identity === undefined;
  if (identity) report.hostnameError = identity.message;

  const problems: string[] = [];
  if (report.chainError !== undefined) problems.push(`certificate not trusted: ${report.chainError}`);
  if (report.hostnameError !== undefined) problems.push(report.hostnameError);
  const warnings: string[] = [];
  if (report.protocol !== 'TLSv1.3')
    warnings.push(`${report.protocol ?? 'TLS'} negotiated; Parley clients require TLS 1.3`);
  const daysLeft = report.certificate?.daysLeft;
  if (daysLeft !== undefined && daysLeft >= 0 && daysLeft < 14) {
    warnings.push(`the certificate expires in ${String(daysLeft)} days`);
  }
  if (problems.length > 0) {
    report.status = trust.insecure ? 'warn' : 'fail';
    report.error = problems.join('; ');
    if (!trust.insecure) {
      socket.destroy();
      report.note = 'pass --ca FILE to trust a private CA (or --insecure to look past it)';
      report.session = skippedSession('the certificate did not check out: no token is sent over this connection');
      return report;
    }
  } else if (warnings.length > 0) {
    report.status = 'warn';
  }
  if (warnings.length > 0) report.note = warnings.join('; ');
  const session = new FrameSession();
  session.attach(streamLink(socket, `tls://${hostHeader(hostname, port)}`, session.handlers));
  report.session = await runSession(session, plan, 'tls');
  return report;
}

/** The WebSocket URL for an address, with the server's name kept for Host and the certificate. */
function wsTransport(address: string, hostname: string, port: number, path: string, httpTls: boolean, trust: Trust) {
  const at = isIP(address) === 6 ? `[${address}]` : address;
  return nodeWebSocketTransport({
    url: `${httpTls ? 'wss' : 'ws'}://${at}:${String(port)}${path}`,
    headers: { host: hostHeader(hostname, port) },
    tls: {
      ...(isIP(hostname) === 0 ? { servername: hostname } : {}),
      ...(trust.ca === undefined ? {} : { ca: trust.ca }),
      rejectUnauthorized: !trust.insecure,
    },
  });
}

/** The WebSocket upgrade (TCP connect, TLS for wss, and the HTTP upgrade), then the session over it. */
export async function checkWs(
  address: string,
  hostname: string,
  port: number,
  path: string,
  httpTls: boolean,
  trust: Trust,
  plan: SessionPlan,
): Promise<WsReport> {
  const url = `${httpTls ? 'wss' : 'ws'}://${hostHeader(hostname, port)}${path}`;
  const session = new FrameSession();
  const started = performance.now();
  try {
    const transport = wsTransport(address, hostname, port, path, httpTls, trust);
    const link = await transport.connect(session.handlers, AbortSignal.timeout(plan.timeoutMs));
    const ms = roundMs(performance.now() - started);
    session.attach(link);
    const result = await runSession(session, plan, 'ws');
    return { status: 'ok', ms, url, address, session: result };
  } catch (err) {
    return {
      status: 'fail',
      ms: roundMs(performance.now() - started),
      url,
      address,
      error: describe(err),
      session: skippedSession('no connection'),
    };
  }
}

/** Opens a fresh connection over one transport into `session` (for the NAT probe). */
export type Dialer = (session: FrameSession) => Promise<void>;

export function dialer(
  transport: 'tcp' | 'tls' | 'ws',
  target: { address: string; hostname: string; port: number; path: string; httpTls: boolean },
  trust: Trust,
  timeoutMs: number,
): Dialer {
  const { address, hostname, port } = target;
  const remote = `${transport}://${hostHeader(hostname, port)}`;
  switch (transport) {
    case 'tcp':
      return async (session) => {
        session.attach(streamLink(await tcpSocket(address, port, timeoutMs), remote, session.handlers));
      };
    case 'tls':
      return async (session) => {
        const socket = await tlsSocket(address, hostname, port, trust, timeoutMs);
        session.attach(streamLink(socket, remote, session.handlers));
      };
    case 'ws':
      return async (session) => {
        const ws = wsTransport(address, hostname, port, target.path, target.httpTls, trust);
        session.attach(await ws.connect(session.handlers, AbortSignal.timeout(timeoutMs)));
      };
  }
}
