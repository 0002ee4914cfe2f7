// The readable report: sections of aligned rows (status, what, time, detail).
import type { Check, NetcheckReport, SessionCheck } from './report.js';

type Row = [status: string, label: string, time: string, detail: string];
type Line = Row | { heading: string };

function ms(value: number | undefined): string {
  if (value === undefined) return '';
  if (value >= 10_000) return `${(value / 1000).toFixed(1)} s`;
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ms`;
}

function seconds(value: number): string {
  return `${String(value / 1000)} s`;
}

/** A check's rows: status, label, time and `what` with its error; its note on a line of its own. */
function row(check: Check, label: string, what = '', time = check.ms): Row[] {
  const main = [what, check.error].filter((x) => x !== undefined && x !== '').join('; ');
  const rows: Row[] = [[check.status, label, ms(time), main]];
  if (check.note !== undefined && check.note !== '') {
    if (main === '') (rows[0] as Row)[3] = check.note;
    else rows.push(['', '', '', check.note]);
  }
  return rows;
}

function sessionRows(session: SessionCheck): Row[] {
  if (session.status === 'skip') return row(session, 'session');
  const { login, ping } = session;
  const rows: Row[] = [];
  if (login.status !== 'skip') {
    const skew =
      login.clockSkewMs === undefined
        ? ''
        : `, clock ${login.clockSkewMs >= 0 ? '+' : ''}${String(login.clockSkewMs)} ms`;
    const what =
      login.status === 'ok'
        ? `as ${login.userId ?? '?'}, heartbeat ${seconds(login.heartbeatIntervalMs ?? 0)}${skew}`
        : '';
    rows.push(...row(login, 'login', what));
  }
  const stats =
    ping.minMs === undefined
      ? ''
      : `min/avg/max ${String(ping.minMs)}/${String(ping.avgMs)}/${String(ping.maxMs)} ms, ${String(ping.lost)} of ${String(ping.sent)} lost`;
  rows.push(...row(ping, `ping x${String(ping.sent)}`, stats, ping.avgMs));
  return rows;
}

function lines(r: NetcheckReport): Line[] {
  const out: Line[] = [];
  const { dns } = r;
  out.push({ heading: 'DNS' });
  const list = (a: { address: string }[]) => a.map((x) => x.address).join(', ');
  out.push(...row(dns.system, 'system DNS', list(dns.system.addresses)));
  out.push(...row(dns.httpdns, 'HTTPDNS', list(dns.httpdns.addresses)));
  if (dns.comparison.status !== 'skip') {
    const diff =
      dns.comparison.verdict === 'match'
        ? ''
        : `only system: ${dns.comparison.onlySystem.join(', ') || '-'}; only HTTPDNS: ${dns.comparison.onlyHttpdns.join(', ') || '-'}`;
    out.push(...row(dns.comparison, 'comparison', diff));
  }

  out.push({ heading: 'Credentials' });
  out.push(
    ...row(r.auth, 'token', r.auth.userId === undefined ? r.auth.source : `${r.auth.source}, user ${r.auth.userId}`),
  );

  const { tcp, tls, ws } = r;
  out.push({ heading: tcp.port === undefined ? 'TCP (off)' : `TCP port ${String(tcp.port)}` });
  if (tcp.status === 'skip') out.push(...row(tcp, 'connect'));
  else {
    for (const a of tcp.addresses) out.push(...row(a, a.address, a.status === 'ok' ? `from ${a.from.join(', ')}` : ''));
    if (tcp.addresses.length === 0 || tcp.note !== undefined) out.push(...row(tcp, 'connect'));
    out.push(...sessionRows(tcp.session));
  }

  out.push({ heading: tls.port === undefined ? 'TLS (off)' : `TLS port ${String(tls.port)}` });
  if (tls.status === 'skip') out.push(...row(tls, 'handshake'));
  else {
    const negotiated =
      tls.protocol === undefined ? '' : `${tls.protocol} ${tls.cipher ?? ''}, TCP connect ${ms(tls.connectMs)}`;
    out.push(...row(tls, 'handshake', negotiated));
    const cert = tls.certificate;
    if (cert) {
      const trusted = tls.chainVerified === true ? 'trusted' : `not trusted (${tls.chainError ?? '?'})`;
      out.push(['', 'certificate', '', `${cert.subject}; issuer ${cert.issuer}; ${trusted}`]);
      out.push(['', 'valid until', '', `${cert.validTo} (${String(cert.daysLeft)} days)`]);
      const name = r.target.host;
      out.push([
        '',
        'name',
        '',
        tls.hostnameVerified === true ? `${name} matches ${cert.altNames}` : (tls.hostnameError ?? ''),
      ]);
    }
    out.push(...sessionRows(tls.session));
  }

  out.push({ heading: ws.url === undefined && ws.status === 'skip' ? 'WebSocket (off)' : 'WebSocket' });
  out.push(...row(ws, 'upgrade', ws.url ?? ''));
  if (ws.status !== 'skip') out.push(...sessionRows(ws.session));

  out.push({ heading: 'HTTP' });
  const ep = r.endpoints.endpoints;
  const advertised = ep
    ? `tcp ${ep.tcp.join(' ') || '-'}; tls ${ep.tls.join(' ') || '-'}; ws ${ep.ws.join(' ') || '-'}`
    : '';
  out.push(...row(r.endpoints, 'GET /v1/endpoints', advertised));

  const { nat } = r;
  out.push({
    heading:
      nat.transport === undefined
        ? 'NAT idle timeout'
        : `NAT idle timeout (${nat.transport}, a fresh connection per delay)`,
  });
  if (nat.probes.length === 0) out.push(...row(nat, 'probe'));
  for (const p of nat.probes) {
    const status = p.outcome === 'answered' ? 'ok' : p.outcome === 'error' ? 'fail' : 'warn';
    const what = p.outcome === 'answered' ? 'answered' : `${p.outcome}${p.error === undefined ? '' : `: ${p.error}`}`;
    out.push([status, `silence ${seconds(p.delayMs)}`, ms(p.elapsedMs), what]);
  }
  if (nat.probes.length > 0) out.push(...row({ ...nat, ms: undefined }, 'estimate'));
  return out;
}

/** The report as aligned text for a terminal. */
export function renderText(r: NetcheckReport): string {
  const all = lines(r);
  const rows = all.filter((l): l is Row => Array.isArray(l));
  const width = (i: 0 | 1 | 2) => Math.max(0, ...rows.map((x) => x[i].length));
  const [w0, w1, w2] = [width(0), width(1), width(2)];
  const target = [
    r.target.host,
    r.target.tcpPort === undefined ? undefined : `tcp ${String(r.target.tcpPort)}`,
    r.target.tlsPort === undefined ? undefined : `tls ${String(r.target.tlsPort)}`,
    r.target.httpPort === undefined ? undefined : `${r.target.httpTls ? 'https' : 'http'} ${String(r.target.httpPort)}`,
  ].filter((x) => x !== undefined);
  const text = [`parley netcheck: ${target.join(', ')}  (${r.startedAt})`];
  for (const line of all) {
    if (!Array.isArray(line)) {
      text.push('', line.heading);
      continue;
    }
    const [status, label, time, what] = line;
    text.push(`  ${status.padEnd(w0)}  ${label.padEnd(w1)}  ${time.padStart(w2)}  ${what}`.trimEnd());
  }
  text.push('');
  text.push(
    r.ok
      ? `Result: OK (essential checks passed, ${ms(r.durationMs)})`
      : `Result: FAILED (${r.failed.join(', ')}; ${ms(r.durationMs)})`,
  );
  return `${text.join('\n')}\n`;
}
