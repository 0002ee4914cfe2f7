// `parley netcheck` end to end: the CLI as a child process against a real server started
// here, a fake HTTPDNS service, and a NAT stand-in that forgets idle connections.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type StartedServer, installHttpApi, parseConfig, startServer } from '@parley/server';
import { NatProxy } from '../../client/test/helpers/nat-proxy.js';
import type { NetcheckReport } from '../src/netcheck.js';

const main = new URL('../src/main.ts', import.meta.url).pathname;

/** Runs `parley netcheck ... --json`; resolves with the exit code and the parsed report. */
function netcheck(args: string[]): Promise<{ code: number | null; report: NetcheckReport; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=@parley/source', '--import', 'tsx', main, 'netcheck', ...args, '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        resolve({ code, report: JSON.parse(stdout) as NetcheckReport, stderr });
      } catch (err) {
        reject(new Error(`netcheck printed no JSON (exit ${String(code)}): ${stdout}\n${stderr}`, { cause: err }));
      }
    });
  });
}

describe('parley netcheck', () => {
  let dir: string;
  let server: StartedServer;
  let ports: { tcp: string; tls: string; http: string };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-netcheck-'));
    const config = parseConfig({ dataDir: dir, tcpPort: 0, tlsPort: 0, httpPort: 0, logLevel: 'silent' });
    server = await startServer(config, { http: installHttpApi });
    const { tcp, tls, http } = server.addresses;
    ports = { tcp: String(tcp?.port), tls: String(tls?.port), http: String(http.port) };
  });

  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const at = () => ['--tcp-port', ports.tcp, '--tls-port', ports.tls, '--http-port', ports.http];

  test('every check passes against a healthy server', async () => {
    const { code, report } = await netcheck(['--server', '127.0.0.1', ...at(), '--data', dir, '--pings', '3']);
    assert.equal(code, 0);
    assert.equal(report.tool, 'parley netcheck');
    assert.equal(report.ok, true);
    assert.deepEqual(report.failed, []);
    assert.equal(report.dns.comparison.verdict, 'literal');
    assert.equal(report.auth.source, 'data-dir');
    assert.equal(report.auth.userId, 'netcheck');

    assert.equal(report.tcp.status, 'ok');
    assert.equal(report.tcp.chosen, '127.0.0.1');
    assert.equal(report.tcp.addresses[0]?.status, 'ok');
    assert.equal(typeof report.tcp.addresses[0]?.ms, 'number');

    assert.equal(report.tls.status, 'ok');
    assert.equal(report.tls.protocol, 'TLSv1.3');
    assert.equal(report.tls.chainVerified, true, 'the data dir development certificate is trusted');
    assert.equal(report.tls.hostnameVerified, true);
    assert.match(report.tls.certificate?.subject ?? '', /CN=localhost/);
    assert.ok((report.tls.certificate?.daysLeft ?? 0) > 0);

    assert.equal(report.ws.status, 'ok');
    assert.equal(report.ws.url, `ws://127.0.0.1:${ports.http}/ws`);

    for (const section of [report.tcp, report.tls, report.ws]) {
      const { login, ping } = section.session;
      assert.equal(section.session.status, 'ok');
      assert.equal(login.status, 'ok');
      assert.equal(login.userId, 'netcheck');
      assert.equal(ping.status, 'ok');
      assert.equal(ping.sent, 3);
      assert.equal(ping.lost, 0);
      assert.ok((ping.minMs ?? -1) >= 0 && (ping.minMs ?? 0) <= (ping.avgMs ?? 0));
      assert.ok((ping.avgMs ?? 0) <= (ping.maxMs ?? 0));
    }

    assert.equal(report.endpoints.status, 'ok');
    assert.deepEqual(report.endpoints.endpoints?.tcp, [`127.0.0.1:${ports.tcp}`]);
    assert.equal(report.nat.status, 'skip');
  });

  test('an HTTPDNS answer that differs from system DNS is flagged as possible pollution', async () => {
    const queries: string[] = [];
    const doh: Server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://doh');
      queries.push(`${url.searchParams.get('name') ?? ''}/${url.searchParams.get('type') ?? ''}`);
      const name = url.searchParams.get('name') ?? '';
      const body =
        url.searchParams.get('type') === 'A'
          ? { Status: 0, Answer: [{ name, type: 1, TTL: 60, data: '127.0.0.2' }] }
          : { Status: 0, Answer: [] };
      res.writeHead(200, { 'content-type': 'application/dns-json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => doh.listen(0, '127.0.0.1', resolve));
    try {
      const dohUrl = `http://127.0.0.1:${String((doh.address() as AddressInfo).port)}/resolve`;
      const { code, report } = await netcheck(['--server', 'localhost', ...at(), '--data', dir, '--httpdns', dohUrl]);
      assert.ok(queries.includes('localhost/A'), `queries: ${queries.join(' ')}`);
      assert.ok(report.dns.system.addresses.some((a) => a.address === '127.0.0.1'));
      assert.deepEqual(
        report.dns.httpdns.addresses.map((a) => a.address),
        ['127.0.0.2'],
      );
      const { comparison } = report.dns;
      assert.equal(comparison.verdict, 'mismatch');
      assert.equal(comparison.status, 'warn');
      assert.match(comparison.error ?? '', /possible DNS pollution/);
      assert.deepEqual(comparison.onlyHttpdns, ['127.0.0.2']);
      // Both answers are tried: the HTTPDNS one does not connect, the system one does.
      const polluted = report.tcp.addresses.find((a) => a.address === '127.0.0.2');
      assert.deepEqual(polluted?.from, ['httpdns']);
      assert.notEqual(polluted?.status, 'ok');
      assert.equal(report.tcp.chosen, '127.0.0.1');
      assert.match(comparison.note ?? '', /system DNS addresses connect and the HTTPDNS ones do not/);
      // A mismatch is a warning: the server is reachable, so the essentials pass.
      assert.equal(report.ok, true);
      assert.equal(code, 0);
      assert.equal(report.tls.hostnameVerified, true);
    } finally {
      await new Promise((resolve) => doh.close(resolve));
    }
  });

  test('the NAT probe finds the idle timeout of a path that forgets idle connections', async () => {
    const proxy = new NatProxy({ idleTimeoutMs: 1_500, target: { host: '127.0.0.1', port: Number(ports.tcp) } });
    const proxyPort = await proxy.listen();
    try {
      const started = Date.now();
      const { code, report } = await netcheck([
        '--server',
        '127.0.0.1',
        '--tcp-port',
        String(proxyPort),
        '--no-tls',
        '--no-ws',
        '--http-port',
        ports.http,
        '--data',
        dir,
        '--pings',
        '1',
        '--nat-probe',
        '0.5,1,3',
        '--nat-timeout',
        '1',
      ]);
      const { nat } = report;
      assert.equal(code, 0, 'the NAT result is information, not a failure');
      assert.equal(nat.transport, 'tcp');
      assert.deepEqual(
        nat.probes.map((p) => [p.delayMs, p.outcome]),
        [
          [500, 'answered'],
          [1000, 'answered'],
          [3000, 'dropped'],
        ],
      );
      assert.ok((nat.probes[0]?.elapsedMs ?? 0) >= 490, 'an answer comes after the silence, not before');
      assert.equal(nat.estimateMs, 1000);
      assert.equal(nat.upperBoundMs, 3000);
      assert.equal(nat.status, 'warn');
      assert.match(nat.note ?? '', /between 1 s and 3 s/);
      assert.ok(Date.now() - started < 10_000);
    } finally {
      await proxy.close();
    }
  });

  test('exits 1 when an essential check fails', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = String((closed.address() as AddressInfo).port);
    await new Promise((resolve) => closed.close(resolve));
    const { code, report } = await netcheck([
      '--server',
      '127.0.0.1',
      '--tcp-port',
      port,
      '--http-port',
      port,
      '--no-tls',
      '--no-ws',
    ]);
    assert.equal(code, 1);
    assert.equal(report.ok, false);
    assert.deepEqual(report.failed, ['tcp']);
    assert.match(report.tcp.addresses[0]?.error ?? '', /ECONNREFUSED/);
  });
});
