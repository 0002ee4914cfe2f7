// ParleyClient.close() stops everything: no timer, socket or HTTP call outlives it, so a process
// that closed its clients exits by itself. Checked in a child process (test/helpers/close-child.ts)
// whose long and short links both go into a silently cut network, with short-link calls in flight.
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { NatProxy } from './helpers/nat-proxy.js';

const CHILD = fileURLToPath(new URL('./helpers/close-child.ts', import.meta.url));
/** How long the child may take to exit after its clients closed (what it left running lasts 120 s). */
const EXIT_WITHIN_MS = 20_000;

test('close() with short-link calls hanging in flight or waiting for a token leaves nothing running', async () => {
  // A cut NAT: it accepts every connection and never forwards a byte or closes one.
  const proxy = new NatProxy({ idleTimeoutMs: Infinity, target: { host: '127.0.0.1', port: 9 } });
  const port = await proxy.listen();
  proxy.cut();
  try {
    const child = fork(CHILD, [], {
      execArgv: ['--conditions=@parley/source', '--import', 'tsx'],
      env: { ...process.env, PARLEY_CLOSE_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    // The IPC channel would keep the child up: it is only there for fork(); let it go.
    child.disconnect();
    const exited = await new Promise<number | 'hung'>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve('hung');
      }, EXIT_WITHIN_MS);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve(code ?? -1);
      });
    });
    const report = out.trim().split('\n').at(-1) ?? '';
    assert.notEqual(exited, 'hung', `the child did not exit after closing its clients; it reported ${report}`);
    assert.equal(exited, 0, `the child failed: ${out}`);
    const { left } = JSON.parse(report) as { left: string[] };
    assert.deepEqual(left, [], 'handles or timers still alive after close()');
  } finally {
    await proxy.close();
  }
});
