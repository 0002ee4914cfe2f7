// `parley chat` without a terminal: stdin and stdout are pipes, as in scripts. Each input line
// is a command or a message; each event is one line of output. Also the flag checks.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ChatMessage, ParleyClient } from '@parley/client';
import { issueToken } from '@parley/server';
import { ChatServer, runPiped, tempDir, waitFor } from './helpers/chat-harness.js';

describe('parley chat with piped stdin', { timeout: 600_000 }, () => {
  let server: ChatServer;
  let alice: ParleyClient;
  let state: string;
  const aliceSaw: ChatMessage[] = [];

  before(async () => {
    server = await ChatServer.start();
    state = tempDir('parley-chat-pipe-');
    alice = await server.sdkClient('alice');
    alice.on('message', (m) => aliceSaw.push(m));
  });

  after(async () => {
    await alice.close();
    await server.dispose();
    rmSync(state, { recursive: true, force: true });
  });

  const bobArgs = () => server.chatArgs('bob', join(state, 'bob'));

  test('a script opens a 1:1, sends, and waits until the message is acknowledged', async () => {
    const { code, stdout, stderr } = await runPiped(bobArgs(), '/dm alice\nhello from a script\n//slash stays\n');
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    assert.match(stdout, /^\* parley chat: bob on tcp:\/\/127\.0\.0\.1:\d+ · \/help for commands$/m);
    assert.match(stdout, /^\* online · tcp:\/\//m);
    assert.match(stdout, /^\* opened alice$/m);
    assert.match(stdout, /^\[alice\] you: hello from a script · sent$/m);
    assert.match(stdout, /^\[alice\] you: \/slash stays · sent$/m);
    const got = await waitFor('alice to get both', () => (aliceSaw.length >= 2 ? aliceSaw : undefined));
    assert.deepEqual(
      got.map((m) => m.content.text),
      ['hello from a script', '/slash stays'],
    );
  });

  test('replies arrive as lines; /list shows unread counts; bad input is reported and the run goes on', async () => {
    const direct = aliceSaw[0]?.conversationId ?? '';
    alice.send(direct, 'reply from alice');
    await waitFor('alice reply acked', () => alice.outbox.list(direct).every((m) => m.state !== 'sending'));
    const input = ['/list', '/frobnicate', '/open 42', '/open nobody', 'no conversation yet', '/retry', '/quit'].join(
      '\n',
    );
    const { code, stdout } = await runPiped(bobArgs(), `${input}\n`);
    assert.equal(code, 0, stdout);
    assert.match(stdout, /^\[alice\] \d\d:\d\d alice: reply from alice$/m);
    assert.match(stdout, /^ {2}1\. alice\s+1 unread\s+\d\d:\d\d {2}alice: reply from alice$/m);
    assert.match(stdout, /^! unknown command \/frobnicate: type \/help for the list$/m);
    assert.match(stdout, /^! no conversation 42: the list has 1 to 1$/m);
    assert.match(stdout, /^! no conversation matches "nobody": \/dm nobody starts a 1:1$/m);
    assert.match(stdout, /^! no conversation open: \/open N or NAME, \/dm USER, or \/help$/m);
    assert.match(stdout, /^! no conversation open: \/open N first$/m);
  });

  test('opening shows recent history; an empty message is refused', async () => {
    const { code, stdout } = await runPiped(bobArgs(), '/open alice\n   \n/help\n');
    assert.equal(code, 0, stdout);
    assert.match(stdout, /^-- alice · 1:1/m);
    assert.match(stdout, /^\d\d:\d\d you: hello from a script · (delivered|read)$/m);
    assert.match(stdout, /^\d\d:\d\d alice: reply from alice$/m);
    assert.match(stdout, /^! empty message: nothing sent$/m);
    assert.match(stdout, /\/group NAME USER \[USER\.\.\] create a group/);
  });

  test('a message queued while the server is down survives a restart of the chat and is sent later', async () => {
    const before = aliceSaw.length;
    await server.down();
    const offline = await runPiped([...bobArgs(), '--wait', '1'], '/open alice\nqueued while down\n');
    assert.equal(offline.code, 1, offline.stdout);
    assert.match(offline.stdout, /^\[alice\] you: queued while down · sending$/m);
    assert.match(offline.stdout, /^! 1 message still queued in .*: sent on the next start$/m);

    await server.up();
    const online = await runPiped(bobArgs(), '');
    assert.equal(online.code, 0, online.stdout);
    assert.match(online.stdout, /^\[alice\] you: queued while down · sent$/m);
    const got = await waitFor('alice to get the queued message', () =>
      aliceSaw.slice(before).find((m) => m.content.text === 'queued while down'),
    );
    assert.equal(got.senderId, 'bob');
    assert.equal(aliceSaw.filter((m) => m.content.text === 'queued while down').length, 1);
  });

  test('with the long link unreachable, a message goes out over the HTTP short link', async () => {
    const closed = await freePort(); // nothing listens here: every long-link attempt is refused
    const args = bobArgs().map((a, i, all) => (all[i - 1] === '--tcp-port' ? String(closed) : a));
    const { code, stdout } = await runPiped([...args, '--wait', '60'], '/open alice\nover the short link\n');
    assert.equal(code, 0, stdout);
    assert.match(stdout, /^\* offline · sending over HTTP/m);
    assert.match(stdout, /^\[alice\] you: over the short link · sent$/m);
    await waitFor('alice to get it', () => aliceSaw.find((m) => m.content.text === 'over the short link'));
    assert.equal(aliceSaw.filter((m) => m.content.text === 'over the short link').length, 1);
  });

  test('TLS (trusting the data dir certificate) and WebSocket (a development token) work the same', async () => {
    for (const [transport, server_] of [
      ['tls', `tls://localhost:${String(server.tlsPort)}`],
      ['ws', `ws://127.0.0.1:${String(server.httpPort)}/ws`],
    ] as const) {
      // TLS trusts the development certificate of --data; WebSocket gets its token from /v1/dev/token.
      const token = transport === 'tls' ? ['--data', server.dataDir] : [];
      const args = ['chat', '--server', server_, '--user', `${transport}-user`, ...token];
      const { code, stdout } = await runPiped(
        [...args, '--state', join(state, transport), '--http-port', String(server.httpPort)],
        `/dm alice\nover ${transport}\n`,
      );
      assert.equal(code, 0, stdout);
      assert.match(stdout, new RegExp(`^\\* online · ${transport}://`, 'm'));
      assert.match(stdout, new RegExp(`^\\[alice\\] you: over ${transport} · sent$`, 'm'));
    }
    await waitFor('alice to get both', () =>
      ['over tls', 'over ws'].every((t) => aliceSaw.some((m) => m.content.text === t)) ? true : undefined,
    );
  });

  test('--token-command is run for the token, and again when it has expired', async () => {
    const dir = tempDir('parley-chat-token-');
    try {
      // The command hands out an expired token first, then a good one: the chat logs in
      // with the second without a failure the user sees.
      const secret = server.server?.appSecret ?? '';
      const expired = join(dir, 'expired');
      const good = join(dir, 'good');
      const calls = join(dir, 'calls');
      writeFileSync(expired, await issueToken({ secret, userId: 'carol', ttlSeconds: 1 }));
      writeFileSync(good, await issueToken({ secret, userId: 'carol', ttlSeconds: 600 }));
      await new Promise((resolve) => setTimeout(resolve, 2_100)); // past the first token's expiry
      const file = join(dir, 'token.sh');
      writeFileSync(
        file,
        `echo x >> '${calls}'; if [ "$(wc -l < '${calls}')" -eq 1 ]; then cat '${expired}'; else cat '${good}'; fi\n`,
      );
      const args = ['chat', '--server', `tcp://127.0.0.1:${String(server.tcpPort)}`, '--user', 'carol'];
      const { code, stdout } = await runPiped(
        [
          ...args,
          '--token-command',
          `sh '${file}'`,
          '--state',
          join(dir, 'state'),
          '--http-port',
          String(server.httpPort),
        ],
        '/dm alice\nfrom carol\n',
      );
      assert.equal(code, 0, stdout);
      assert.match(stdout, /^\[alice\] you: from carol · sent$/m);
      assert.equal(readFileSync(calls, 'utf8').trim().split('\n').length, 2, 'run again for a fresh token');
      assert.doesNotMatch(stdout, /^!/m, 'the refresh is silent');
      const failing = await runPiped(
        [...args, '--token-command', 'echo nope >&2; exit 3', '--state', join(dir, 'state2'), '--wait', '0'],
        '',
      );
      assert.match(failing.stdout, /^! the token provider failed: --token-command exited with code 3: nope/m);
      assert.equal(failing.stdout.match(/--token-command exited/g)?.length, 2, 'said once, and in the status line');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a second chat on the same state directory is refused while the first runs', async () => {
    const first = runPiped(bobArgs(), '/list\n', { keepOpenMs: 8_000 });
    await waitFor('the first to take the lock', () => existsSync(join(state, 'bob', 'lock')));
    const second = await runPiped(bobArgs(), '');
    assert.equal(second.code, 2);
    assert.match(second.stderr, /another parley chat \(pid \d+\) uses .*bob: quit it, or pass a different --state/);
    assert.equal((await first).code, 0);
    assert.equal(existsSync(join(state, 'bob', 'lock')), false, 'released on exit');
  });

  test('bad flags exit with code 2 and say why', async () => {
    const base = ['chat', '--server', '127.0.0.1', '--user', 'dave', '--state', join(state, 'dave')];
    const cases: [string[], RegExp][] = [
      [['--token', 'x', '--data', state], /give one of --token, --token-command and --data/],
    ];
    for (const [flags, message] of cases) {
      const { code, stderr } = await runPiped([...base, ...flags], '');
      assert.equal(code, 2, `${flags.join(' ')}: ${stderr}`);
      assert.match(stderr, message);
    }
    const wrongUser = await runPiped(
      [...base, '--token', await issueToken({ secret: 'x'.repeat(32), userId: 'erin', ttlSeconds: 60 })],
      '',
    );
    assert.equal(wrongUser.code, 2);
    assert.match(wrongUser.stderr, /--token is for user erin, not dave/);
    const transport = await runPiped([...base, '--transport', 'pigeon'], '');
    assert.notEqual(transport.code, 0);
    assert.match(transport.stderr, /Allowed choices are tcp, tls, ws/);
  });
});

/** A port nothing listens on (taken from the kernel, then released). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return typeof address === 'object' && address ? address.port : 0;
}
