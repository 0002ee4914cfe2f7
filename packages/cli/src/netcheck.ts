// `parley netcheck`: the network diagnosis a support engineer asks a user to run (after
// Tencent Mars' netcheck): DNS (system against HTTPDNS), TCP per address, TLS, WebSocket,
// login and ping round trips, the server's endpoint list, and the NAT idle-timeout probe.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { credentials } from './netcheck/auth.js';
import { candidates, checkDns, judgeMismatch } from './netcheck/dns.js';
import { FrameSession, streamLink } from './netcheck/frame-session.js';
import { type HttpTarget, checkEndpoints, hostHeader, httpUrl } from './netcheck/http.js';
import { probeNat } from './netcheck/nat-probe.js';
import { type NetcheckFlags, type NetcheckOptions, NetcheckUsageError, netcheckOptions } from './netcheck/options.js';
import { renderText } from './netcheck/render.js';
import { type NetcheckReport, type NatReport, type WsReport, roundMs, skippedSession } from './netcheck/report.js';
import {
  type SessionPlan,
  type Trust,
  checkTcp,
  checkTls,
  checkWs,
  deviceIds,
  dialer,
  runSession,
} from './netcheck/transports.js';

export type { NetcheckReport } from './netcheck/report.js';

/** CAs to trust: Node's roots plus --ca, plus the development certificate of --data's directory. */
function trustFor(options: NetcheckOptions): Trust {
  const extra: string[] = [];
  if (options.ca !== undefined) extra.push(options.ca);
  const devCert = options.dataDir === undefined ? undefined : join(options.dataDir, 'tls', 'dev-cert.pem');
  if (devCert !== undefined && existsSync(devCert)) extra.push(readFileSync(devCert, 'utf8'));
  return { ca: extra.length === 0 ? undefined : [...rootCertificates, ...extra], insecure: options.insecure };
}

/** Runs every check and returns the report. Never throws for a network failure: that is a result. */
export async function runNetcheck(options: NetcheckOptions): Promise<NetcheckReport> {
  const startedAt = new Date();
  const started = performance.now();
  const trust = trustFor(options);
  const host = options.host;

  const dns = await checkDns(host, options.httpDnsUrl, options.timeoutMs);
  const addresses = candidates(dns);
  const firstAddress = addresses[0]?.address;
  const http = (address: string): HttpTarget => ({
    address,
    hostname: host,
    port: options.httpPort,
    tls: options.httpTls,
    ca: trust.ca,
    insecure: trust.insecure,
    timeoutMs: options.timeoutMs,
  });

  const auth = await credentials(options, firstAddress === undefined ? undefined : http(firstAddress));
  const plan: SessionPlan = {
    token: auth.token,
    deviceId: deviceIds(auth.pinnedDevice),
    pings: options.pings,
    timeoutMs: options.timeoutMs,
  };

  // TCP: every address; the first that connects carries the TCP session and is used from then on.
  let tcp: NetcheckReport['tcp'];
  if (options.tcpPort === undefined) {
    tcp = { status: 'skip', addresses: [], note: 'turned off (--no-tcp)', session: skippedSession('TCP is off') };
  } else {
    const checked = await checkTcp(addresses, options.tcpPort, options.timeoutMs);
    tcp = checked.report;
    if (checked.socket) {
      const session = new FrameSession();
      session.attach(streamLink(checked.socket, `tcp://${hostHeader(host, options.tcpPort)}`, session.handlers));
      tcp.session = await runSession(session, plan, 'tcp');
    }
  }
  judgeMismatch(dns.comparison, tcp.addresses);
  const address = tcp.chosen ?? firstAddress;

  const tls: NetcheckReport['tls'] =
    options.tlsPort === undefined
      ? { status: 'skip', note: 'turned off (--no-tls)', session: skippedSession('TLS is off') }
      : address === undefined
        ? { status: 'fail', port: options.tlsPort, error: 'no address to connect to', session: skippedSession('') }
        : await checkTls(address, host, options.tlsPort, trust, plan);

  let ws: WsReport;
  if (options.wsPath === undefined) {
    ws = { status: 'skip', note: 'turned off (--no-ws)', session: skippedSession('WebSocket is off') };
  } else if (address === undefined) {
    ws = { status: 'fail', error: 'no address to connect to', session: skippedSession('') };
  } else {
    ws = await checkWs(address, host, options.httpPort, options.wsPath, options.httpTls, trust, plan);
  }

  const endpoints: NetcheckReport['endpoints'] =
    address === undefined
      ? { status: 'fail', url: httpUrl(http(''), '/v1/endpoints'), error: 'no address to connect to' }
      : await checkEndpoints(http(address));

  const nat = await natCheck(options, { tcp, tls, ws }, address, trust, auth);

  const report: NetcheckReport = {
    tool: 'parley netcheck',
    version: 1,
    startedAt: startedAt.toISOString(),
    durationMs: 0,
    target: {
      host,
      ...(options.tcpPort === undefined ? {} : { tcpPort: options.tcpPort }),
      ...(options.tlsPort === undefined ? {} : { tlsPort: options.tlsPort }),
      httpPort: options.httpPort,
      httpTls: options.httpTls,
      wsPath: options.wsPath ?? '',
    },
    ok: true,
    failed: [],
    dns,
    auth: auth.report,
    tcp,
    tls,
    ws,
    endpoints,
    nat,
  };
  report.failed = essentialFailures(report);
  report.ok = report.failed.length === 0;
  report.durationMs = roundMs(performance.now() - started);
  return report;
}

/** The NAT probe, over the first transport whose session worked (TCP, else TLS, else WebSocket). */
async function natCheck(
  options: NetcheckOptions,
  checks: Pick<NetcheckReport, 'tcp' | 'tls' | 'ws'>,
  address: string | undefined,
  trust: Trust,
  auth: Awaited<ReturnType<typeof credentials>>,
): Promise<NatReport> {
  if (options.natDelaysMs.length === 0) {
    return { status: 'skip', probes: [], note: 'pass --nat-probe 30,60,120,240 (seconds) to measure it' };
  }
  if (auth.token === undefined) return { status: 'skip', probes: [], note: 'the probe needs a login: no token' };
  if (auth.pinnedDevice !== undefined) {
    return {
      status: 'skip',
      probes: [],
      note: 'the token is pinned to one device: parallel probes would replace each other',
    };
  }
  const usable = (['tcp', 'tls', 'ws'] as const).find((t) => checks[t].session.login.status === 'ok');
  if (usable === undefined || address === undefined) {
    return { status: 'skip', probes: [], note: 'no transport logged in' };
  }
  const port = usable === 'tcp' ? options.tcpPort : usable === 'tls' ? options.tlsPort : options.httpPort;
  const dial = dialer(
    usable,
    { address, hostname: options.host, port: port ?? 0, path: options.wsPath ?? '/ws', httpTls: options.httpTls },
    trust,
    options.timeoutMs,
  );
  const result = await probeNat({
    dial,
    token: auth.token,
    deviceId: deviceIds(undefined),
    delaysMs: options.natDelaysMs,
    timeoutMs: options.natTimeoutMs,
    stepTimeoutMs: options.timeoutMs,
  });
  return { ...result, transport: usable, address };
}

/** Essential checks: DNS gave an address, and each transport that is on connects, logs in and pings. */
function essentialFailures(r: NetcheckReport): string[] {
  const failed: string[] = [];
  if (r.dns.system.addresses.length + r.dns.httpdns.addresses.length === 0) failed.push('dns');
  const sections = [
    ['tcp', r.tcp],
    ['tls', r.tls],
    ['ws', r.ws],
  ] as const;
  for (const [name, check] of sections) {
    if (check.status === 'fail') failed.push(name);
    else if (check.session.status === 'fail') failed.push(`${name}.session`);
  }
  if (r.auth.status === 'fail') failed.push('auth');
  return failed;
}

/**
 * `parley netcheck`: prints the report (text, or JSON with --json) and exits: 0 when the
 * essential checks passed, 1 otherwise (and on a bad flag). It exits explicitly, as sockets
 * kept alive by HTTP clients would otherwise hold the process for a few seconds.
 */
export async function netcheckCommand(flags: NetcheckFlags): Promise<void> {
  let options: NetcheckOptions;
  try {
    options = netcheckOptions(flags);
  } catch (err) {
    if (!(err instanceof NetcheckUsageError)) throw err;
    process.stderr.write(`parley netcheck: ${err.message}\n`);
    process.exit(1);
  }
  if (flags.json !== true && options.natDelaysMs.length > 0) {
    const longest = Math.max(...options.natDelaysMs) + options.natTimeoutMs;
    process.stderr.write(`netcheck: the NAT probe takes up to ${String(Math.ceil(longest / 1000))} s...\n`);
  }
  const report = await runNetcheck(options);
  const text = flags.json === true ? `${JSON.stringify(report, null, 2)}\n` : renderText(report);
  await new Promise<void>((resolve) => {
    process.stdout.write(text, () => {
      resolve();
    });
  });
  process.exit(report.ok ? 0 : 1);
}
