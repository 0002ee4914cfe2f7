// The child side of ServerProcess (server-process.ts): a real Parley server in its own process,
// configured from PARLEY_TEST_CONFIG (a ConfigInput as JSON), answering a few questions about
// its sessions and store over the IPC channel. Killed with SIGKILL by the tests; it exits by
// itself if the parent goes away, so a crashed test run leaves no server behind.
import { installHttpApi, parseConfig, startServer } from '@parley/server';
import type { ChildAnswer, ChildQuestion } from './server-process.js';

const server = await startServer(parseConfig(JSON.parse(process.env.PARLEY_TEST_CONFIG ?? '{}') as object), {
  http: installHttpApi,
});

/** Largest count seen per "user\0device" since the parent last asked (sampled every few ms). */
const maxima = new Map<string, { registered: number; active: number }>();
const watched = new Set<string>();

function counts(userId: string, deviceId: string): { registered: number; active: number } {
  // Sessions the registry routes to (what fan-out reaches) and logged-in sessions whose socket
  // is still open (a replaced session counts here until its connection is gone).
  const registered = server.ctx.registry.sessionsOf(userId).filter((s) => s.deviceId === deviceId).length;
  let active = 0;
  for (const s of server.sweeper.sessions()) {
    if (s.userId === userId && s.deviceId === deviceId && (s.state as number) === 2) active++; // SessionState.Active
  }
  return { registered, active };
}

setInterval(() => {
  for (const key of watched) {
    const [userId = '', deviceId = ''] = key.split('\u0000');
    const now = counts(userId, deviceId);
    const max = maxima.get(key) ?? { registered: 0, active: 0 };
    maxima.set(key, { registered: Math.max(max.registered, now.registered), active: Math.max(max.active, now.active) });
  }
}, 2);

process.on('message', (question: ChildQuestion) => {
  void answer(question).then(
    (value) => process.send?.({ id: question.id, ok: true, value } satisfies ChildAnswer),
    (err: unknown) => process.send?.({ id: question.id, ok: false, value: String(err) } satisfies ChildAnswer),
  );
});
process.on('disconnect', () => process.exit(1));

async function answer(q: ChildQuestion): Promise<unknown> {
  switch (q.kind) {
    case 'watch':
      watched.add(`${q.userId}\u0000${q.deviceId}`);
      return null;
    case 'sessions': {
      const key = `${q.userId}\u0000${q.deviceId}`;
      const now = counts(q.userId, q.deviceId);
      const max = maxima.get(key) ?? now;
      maxima.delete(key);
      return { now, max };
    }
    case 'messages': {
      const messages = await server.ctx.store.getMessages(q.conversationId, 1, 0, 100_000);
      return messages.map((m) => ({ seq: m.seq, senderId: m.senderId, clientMessageId: m.clientMessageId }));
    }
  }
}

const { tcp, tls, http } = server.addresses;
process.send?.({ id: 0, ok: true, value: { tcp: tcp?.port, tls: tls?.port, http: http?.port } } satisfies ChildAnswer);
