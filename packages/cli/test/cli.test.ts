import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { TokenVerifier } from '@parley/server';

const main = new URL('../src/main.ts', import.meta.url).pathname;
const nodeArgs = ['--conditions=@parley/source', '--import', 'tsx', main];
const run = promisify(execFile);

describe('parley command', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'parley-cli-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('token prints a JWT the server verifies, signed with the data dir secret', async () => {
    const { stdout } = await run(process.execPath, [
      ...nodeArgs,
      'token',
      '--user',
      'alice',
      '--device',
      'd1',
      '--data',
      dir,
    ]);
    const token = stdout.trim();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    const secretFile = join(dir, 'app-secret');
    assert.equal(statSync(secretFile).mode & 0o777, 0o600);
    const { readFileSync } = await import('node:fs');
    const verifier = new TokenVerifier({ secret: readFileSync(secretFile, 'utf8').trim() });
    const id = await verifier.verify(token);
    assert.equal(id.userId, 'alice');
    assert.equal(id.deviceId, 'd1');
  });

  test('token refuses a bad --ttl with a clear message', async () => {
    await assert.rejects(
      run(process.execPath, [...nodeArgs, 'token', '--user', 'a', '--ttl', 'soon', '--data', dir]),
      (err: Error & { stderr?: string }) => (err.stderr ?? '').includes('--ttl must be a positive whole number'),
    );
  });

  test('serve starts on free ports, prints the admin key once, and exits 0 on SIGTERM', async () => {
    const serveDir = join(dir, 'serve');
    const once = async () => {
      const child = spawn(
        process.execPath,
        [
          ...nodeArgs,
          'serve',
          '--data',
          serveDir,
          '--tcp-port',
          '0',
          '--tls-port',
          '0',
          '--http-port',
          '0',
          '--log-level',
          'warn',
        ],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let err = '';
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
      });
      child.stdout.resume();
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`no banner: ${err}`));
        }, 20_000);
        child.stderr.on('data', () => {
          if (err.includes('Parley is running')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      const http = /HTTP {2}http:\/\/([\d.]+:\d+)/.exec(err)?.[1];
      assert.ok(http, err);
      const health = await fetch(`http://${http}/healthz`);
      assert.equal(health.status, 200);
      child.kill('SIGTERM');
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      assert.equal(code, 0);
      return err;
    };
    const first = await once();
    assert.match(first, /Admin key \(shown once/);
    const second = await once();
    assert.doesNotMatch(second, /Admin key/);
    assert.equal(statSync(join(serveDir, 'admin-key')).mode & 0o777, 0o600);
  });
});
