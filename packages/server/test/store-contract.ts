// The Store contract: every adapter (SQLite, PostgreSQL, ...) runs this same suite. It is
// adapter-agnostic: ids are unique per run, so `open` may hand out fresh stores or share one
// database, and nothing assumes the store starts empty.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { ErrorCode, ParleyError, pb } from '@parley/protocol';
import type { AppendInput, AppendResult, NewMember, Store, StoredMessage } from '../src/store/types.js';

export interface StoreContractOptions {
  /** Closes `store` and opens the same data again, ready like `open`'s. Durable stores only; enables restart cases. */
  reopen?: (store: Store) => Promise<Store>;
  /** Runs once after the suite (remove files, drop the database). */
  cleanup?: () => Promise<void>;
}

const { GROUP, DIRECT } = pb.ConversationType;
const { MEMBER, ADMIN, OWNER } = pb.MemberRole;
const { TEXT, RECALL } = pb.MessageType;

const run = randomUUID().slice(0, 8);
let counter = 0;
/** A name no other test, run or adapter sharing the database uses. */
export const uid = (prefix: string): string => `${prefix}-${run}-${String(++counter)}`;

export function message(
  conversationId: string,
  senderId: string,
  clientMessageId: string,
  extra: Partial<AppendInput> = {},
): AppendInput {
  return {
    conversationId,
    messageId: randomUUID(),
    senderId,
    senderDeviceId: `${senderId}-phone`,
    clientMessageId,
    serverTime: 1_000,
    type: TEXT,
    content: new TextEncoder().encode(`${senderId}:${clientMessageId}`),
    mentions: [],
    ...extra,
  };
}

function ok(result: AppendResult | undefined): Extract<AppendResult, { ok: true }> {
  assert.ok(result, 'missing result');
  assert.ok(result.ok, `append failed: ${result.ok ? '' : result.message}`);
  return result;
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(p, (err: unknown) => err instanceof ParleyError && err.code === code);
}

async function group(store: Store, userIds: string[], now = 1_000): Promise<string> {
  const id = uid('g');
  const [owner = 'nobody', ...rest] = userIds;
  const members: NewMember[] = [{ userId: owner, role: OWNER }, ...rest.map((userId) => ({ userId, role: MEMBER }))];
  const { created } = await store.createConversation({
    id,
    type: GROUP,
    name: 'g',
    attributes: '',
    ownerId: owner,
    members,
    now,
  });
  assert.equal(created, true);
  return id;
}

async function send(
  store: Store,
  conv: string,
  sender: string,
  extra: Partial<AppendInput> = {},
): Promise<StoredMessage> {
  const [result] = await store.appendMessages([message(conv, sender, uid('c'), extra)]);
  return ok(result).message;
}

async function unread(store: Store, conv: string, user: string): Promise<number> {
  const state = await store.getConversationState(conv, user);
  assert.ok(state);
  return state.unread;
}

async function member(store: Store, conv: string, user: string) {
  const m = await store.getMember(conv, user);
  assert.ok(m, `no member ${user}`);
  return m;
}

export function storeContract(name: string, open: () => Promise<Store>, options: StoreContractOptions = {}): void {
  /** Runs `fn` on a fresh store handle and closes it (the one `fn` returns, if it reopened). */
  const withStore = (fn: (store: Store) => Promise<Store | undefined>) => async () => {
    const store = await open();
    let current = store;
    try {
      current = (await fn(store)) ?? store;
    } finally {
      await current.close();
    }
  };
  const it = (title: string, fn: (store: Store) => Promise<void>): void => {
    test(
      title,
      withStore(async (s) => {
        await fn(s);
        return undefined;
      }),
    );
  };

  describe(`Store contract: ${name}`, () => {
    after(async () => {
      await options.cleanup?.();
    });

    describe('conversations and members', () => {
      it('creates a group with its members, roles and count', async (store) => {
        const [a, b, c] = [uid('u'), uid('u'), uid('u')];
        const id = await group(store, [a, b, c, b], 500);
        const conv = await store.getConversation(id);
        assert.ok(conv);
        assert.deepEqual(
          { ...conv, version: 0 },
          {
            id,
            type: GROUP,
            name: 'g',
            attributes: '',
            ownerId: a,
            memberCount: 3,
            lastSeq: 0,
            createdAt: 500,
            updatedAt: 500,
            version: 0,
          },
        );
        assert.ok(conv.version > 0);
        assert.deepEqual(await store.listMemberIds(id), [a, b, c].sort());
        const owner = await member(store, id, a);
        assert.equal(owner.role, OWNER);
        assert.equal(owner.removed, false);
        assert.equal((await member(store, id, b)).role, MEMBER);
        assert.equal(await store.getConversation(uid('none')), undefined);
        assert.equal(await store.getMember(id, uid('stranger')), undefined);
      });

      it('creates a DIRECT conversation once; a second create returns it unchanged', async (store) => {
        const [a, b] = [uid('u'), uid('u')];
        const id = uid('d');
        const input = { id, type: DIRECT, name: '', attributes: '', ownerId: '', now: 10 };
        const members = [
          { userId: a, role: MEMBER },
          { userId: b, role: MEMBER },
        ];
        const first = await store.createConversation({ ...input, members });
        assert.equal(first.created, true);
        const second = await store.createConversation({ ...input, members: [...members].reverse(), now: 20 });
        assert.equal(second.created, false);
        assert.deepEqual(second.conversation, first.conversation);
        assert.equal(await store.userVersion(a), first.conversation.version);
      });

      it('refuses to create a group over an existing id', async (store) => {
        const id = await group(store, [uid('u')]);
        await rejectsWith(
          store.createConversation({ id, type: GROUP, name: '', attributes: '', ownerId: '', members: [], now: 1 }),
          ErrorCode.ALREADY_EXISTS,
        );
      });

      it('updateConversation bumps the conversation version; a no-op patch does not', async (store) => {
        const a = uid('u');
        const id = await group(store, [a]);
        const before = await store.getConversation(id);
        assert.ok(before);
        const renamed = await store.updateConversation(id, { name: 'new', attributes: '{"x":1}' }, 2_000);
        assert.equal(renamed.name, 'new');
        assert.equal(renamed.attributes, '{"x":1}');
        assert.equal(renamed.ownerId, a);
        assert.ok(renamed.version > before.version);
        assert.ok(renamed.updatedAt >= 2_000);
        const same = await store.updateConversation(id, { name: 'new' }, 3_000);
        assert.equal(same.version, renamed.version);
        assert.deepEqual(await store.getConversation(id), same);
        assert.ok((await store.userVersion(a)) >= renamed.version);
        await rejectsWith(store.updateConversation(uid('none'), { name: 'x' }, 1), ErrorCode.NOT_FOUND);
      });

      it("updateMember bumps that member's version only", async (store) => {
        const [a, b] = [uid('u'), uid('u')];
        const id = await group(store, [a, b]);
        const conv = await store.getConversation(id);
        const before = await member(store, id, b);
        const updated = await store.updateMember(id, b, { role: ADMIN, notificationsMuted: true, mutedUntil: 9_000 });
        assert.equal(updated.role, ADMIN);
        assert.equal(updated.notificationsMuted, true);
        assert.equal(updated.mutedUntil, 9_000);
        assert.equal(updated.speakMutedUntil, 0);
        assert.ok(updated.version > before.version);
        assert.deepEqual(await store.getMember(id, b), updated);
        assert.equal((await store.getConversation(id))?.version, conv?.version);
        assert.equal((await member(store, id, a)).version, before.version);
        const again = await store.updateMember(id, b, { role: ADMIN });
        assert.equal(again.version, updated.version);
        await rejectsWith(store.updateMember(id, uid('stranger'), { role: ADMIN }), ErrorCode.NOT_FOUND);
        await rejectsWith(store.updateMember(uid('none'), a, { role: ADMIN }), ErrorCode.NOT_FOUND);
      });

      it('lists active members by user id, paged', async (store) => {
        const users = Array.from({ length: 7 }, () => uid('u'));
        const id = await group(store, users);
        await store.removeMembers(id, [users[3]!], 1);
        const active = users.filter((_, i) => i !== 3).sort();
        const seen: string[] = [];
        let after = '';
        for (;;) {
          const page = await store.listMembers(id, after, 2);
          assert.ok(page.length <= 2);
          seen.push(...page.map((m) => m.userId));
          if (page.length < 2) break;
          after = page.at(-1)!.userId;
        }
        assert.deepEqual(seen, active);
        assert.deepEqual(await store.listMemberIds(id), active);
      });
    });

    describe('membership changes', () => {
      it('addMembers adds, skips active members and starts new members at the last seq', async (store) => {
        const [a, b, c] = [uid('u'), uid('u'), uid('u')];
        const id = await group(store, [a]);
        await send(store, id, a);
        await send(store, id, a);
        const before = await store.getConversation(id);
        assert.deepEqual(
          await store.addMembers(
            id,
            [
              { userId: b, role: MEMBER },
              { userId: a, role: MEMBER },
              { userId: c, role: ADMIN },
            ],
            10,
            5_000,
          ),
          [b, c],
        );
        const conv = await store.getConversation(id);
        assert.equal(conv?.memberCount, 3);
        assert.ok(before && conv.version > before.version);
        const added = await member(store, id, c);
        assert.equal(added.role, ADMIN);
        assert.equal(added.joinedAt, 5_000);
        assert.equal(added.readSeq, 2);
        assert.equal(await unread(store, id, c), 0);
        assert.deepEqual(await store.addMembers(id, [{ userId: b, role: MEMBER }], 10, 6_000), []);
        assert.equal((await store.getConversation(id))?.version, conv.version);
        await rejectsWith(store.addMembers(uid('none'), [{ userId: b, role: MEMBER }], 10, 1), ErrorCode.NOT_FOUND);
      });

      it('refuses MEMBER_LIMIT atomically: nobody is added', async (store) => {
        const users = [uid('u'), uid('u'), uid('u')];
        const id = await group(store, users);
        const before = await store.getConversation(id);
        const newcomers = [uid('u'), uid('u')].map((userId) => ({ userId, role: MEMBER }));
        await rejectsWith(store.addMembers(id, newcomers, 4, 1), ErrorCode.MEMBER_LIMIT);
        assert.deepEqual(await store.getConversation(id), before);
        assert.deepEqual(await store.listMemberIds(id), [...users].sort());
        for (const n of newcomers) assert.equal(await store.getMember(id, n.userId), undefined);
        assert.deepEqual(
          await store.addMembers(id, newcomers, 5, 1),
          newcomers.map((n) => n.userId),
        );
      });

      it('removes members, and a re-joined member starts with nothing unread', async (store) => {
        const [a, b] = [uid('u'), uid('u')];
        const id = await group(store, [a, b]);
        await send(store, id, a);
        assert.equal(await unread(store, id, b), 1);
        assert.deepEqual(await store.removeMembers(id, [b, b, uid('stranger')], 2_000), [b]);
        assert.deepEqual(await store.removeMembers(id, [b], 2_000), []);
        const removed = await member(store, id, b);
        assert.equal(removed.removed, true);
        assert.equal((await store.getConversation(id))?.memberCount, 1);
        assert.deepEqual(await store.listMemberIds(id), [a]);
        for (let i = 0; i < 5; i++) await send(store, id, a);
        // Re-joining counts against the cap like any addition.
        await rejectsWith(store.addMembers(id, [{ userId: b, role: MEMBER }], 1, 3_000), ErrorCode.MEMBER_LIMIT);
        assert.deepEqual(await store.addMembers(id, [{ userId: b, role: ADMIN }], 2, 3_000), [b]);
        const back = await member(store, id, b);
        assert.equal(back.removed, false);
        assert.equal(back.role, ADMIN);
        assert.equal(back.readSeq, 6);
        assert.ok(back.version > removed.version);
        assert.equal(await unread(store, id, b), 0);
        assert.equal((await store.getConversation(id))?.memberCount, 2);
        await rejectsWith(store.removeMembers(uid('none'), [a], 1), ErrorCode.NOT_FOUND);
      });

      it('shareConversation is true only for two active members of one conversation', async (store) => {
        const [a, b, c] = [uid('u'), uid('u'), uid('u')];
        const id = await group(store, [a, b]);
        await group(store, [c]);
        assert.equal(await store.shareConversation(a, b), true);
        assert.equal(await store.shareConversation(b, a), true);
        assert.equal(await store.shareConversation(a, c), false);
        await store.removeMembers(id, [b], 1);
        assert.equal(await store.shareConversation(a, b), false);
      });
    });

    describe('appendMessages', () => {
      it('assigns gapless seqs under many concurrent batches', async (store) => {
        const sender = uid('u');
        const convs = [await group(store, [sender]), await group(store, [sender]), await group(store, [sender])];
        const batches = Array.from({ length: 20 }, (_, b) =>
          Array.from({ length: 50 }, (_, i) => message(convs[(b + i) % 3]!, sender, `b${String(b)}-${String(i)}`)),
        );
        const results = (await Promise.all(batches.map((batch) => store.appendMessages(batch)))).flat();
        assert.equal(results.length, 1000);
        const seqs = new Map<string, number[]>(convs.map((c) => [c, []]));
        for (const r of results) {
          const { message: m, duplicate } = ok(r);
          assert.equal(duplicate, false);
          seqs.get(m.conversationId)!.push(m.seq);
        }
        for (const c of convs) {
          const got = seqs.get(c)!.sort((x, y) => x - y);
          assert.deepEqual(
            got,
            Array.from({ length: got.length }, (_, i) => i + 1),
            `seqs of ${c}`,
          );
          assert.equal((await store.getConversation(c))?.lastSeq, got.length);
          const stored = await store.getMessages(c, 1, 0, 1000);
          assert.deepEqual(
            stored.map((m) => m.seq),
            got,
          );
        }
      });

      it('stores every field and returns results in input order', async (store) => {
        const a = uid('u');
        const id = await group(store, [a]);
        const inputs = [1, 2, 3].map((i) =>
          message(id, a, `c${String(i)}`, { serverTime: 5_000 + i, content: new Uint8Array([i, 0, 255]) }),
        );
        const results = await store.appendMessages(inputs);
        results.forEach((r, i) => {
          const m = ok(r).message;
          const input = inputs[i]!;
          assert.deepEqual(
            { ...m, content: [...m.content] },
            {
              conversationId: id,
              seq: i + 1,
              messageId: input.messageId,
              senderId: a,
              senderDeviceId: `${a}-phone`,
              clientMessageId: input.clientMessageId,
              serverTime: input.serverTime,
              type: TEXT,
              content: [...input.content],
              recalled: false,
            },
          );
        });
        const stored = await store.getMessage(id, 2);
        assert.ok(stored);
        assert.deepEqual([...stored.content], [2, 0, 255]);
        assert.equal((await store.getConversation(id))?.updatedAt, 5_003);
      });

      it('moves the conversation version with every message', async (store) => {
        const a = uid('u');
        const id = await group(store, [a]);
        let last = (await store.getConversation(id))?.version ?? 0;
        for (let i = 0; i < 3; i++) {
          const [r] = await store.appendMessages([message(id, a, uid('c'))]);
          const { conversationVersion } = ok(r);
          assert.ok(conversationVersion > last);
          assert.equal((await store.getConversation(id))?.version, conversationVersion);
          last = conversationVersion;
        }
        assert.ok((await store.userVersion(a)) >= last);
      });

      it('stores a resend once: across calls, within one batch, across concurrent batches', async (store) => {
        const [a, b] = [uid('u'), uid('u')];
        const id = await group(store, [a, b]);
        const first = ok((await store.appendMessages([message(id, a, 'same')]))[0]);
        const version = (await store.getConversation(id))?.version;
        for (let i = 0; i < 2; i++) {
          const again = ok((await store.appendMessages([message(id, a, 'same', { content: new Uint8Array([9]) })]))[0]);
          assert.equal(again.duplicate, true);
          assert.deepEqual(again.message, first.message);
          assert.equal(again.conversationVersion, version);
        }
        const inBatch = await store.appendMessages([
          message(id, a, 'twice'),
          message(id, b, 'twice'),
          message(id, a, 'twice'),
        ]);
        const [x, y, z] = inBatch.map(ok);
        assert.equal(x!.duplicate, false);
        assert.equal(y!.duplicate, false, 'another sender may reuse a client id');
        assert.notEqual(y!.message.seq, x!.message.seq);
        assert.equal(z!.duplicate, true);
        assert.deepEqual(z!.message, x!.message);
        const racing = await Promise.all(
          Array.from({ length: 5 }, () => store.appendMessages([message(id, b, 'race')])),
        );
        const raced = racing.flat().map(ok);
        assert.equal(raced.filter((r) => !r.duplicate).length, 1);
        assert.equal(new Set(raced.map((r) => r.message.messageId)).size, 1);
        assert.equal((await store.getConversation(id))?.lastSeq, 4);
        assert.equal((await store.getMessages(id, 1, 0, 100)).length, 4);
      });

      it('fails an item for an unknown conversation alone', async (store) => {
        const a = uid('u');
        const id = await group(store, [a]);
        const results = await store.appendMessages([
          message(id, a, 'x1'),
          message(uid('none'), a, 'x2'),
          message(id, a, 'x3'),
        ]);
        assert.equal(ok(results[0]).message.seq, 1);
        const bad = results[1];
        assert.ok(bad && !bad.ok);
        assert.equal(bad.code, ErrorCode.NOT_FOUND);
        assert.equal(ok(results[2]).message.seq, 2);
        assert.deepEqual(await store.appendMessages([]), []);
      });

      it("excludes one's own messages from unread", async (store) => {
        const [a, b] = [uid('u'), uid('u')];
        const id = await group(store, [a, b]);
        for (let i = 0; i < 3; i++) await send(store, id, a);
        assert.equal(await unread(store, id, a), 0);
        assert.equal(await unread(store, id, b), 3);
        const sender = await member(store, id, a);
        assert.equal(sender.readSeq, 3);
        assert.equal(sender.deliveredSeq, 3);
        await send(store, id, b);
        assert.equal(await unread(store, id, b), 0, 'replying reads everything before');
        assert.equal(await unread(store, id, a), 1);
      });

      it('counts mentions of active members other than the sender, once per message', async (store) => {
        const [a, b, c, gone] = [uid('u'), uid('u'), uid('u'), uid('u')];
        const id = await group(store, [a, b, c, gone]);
        await store.removeMembers(id, [gone], 1);
        await send(store, id, a, { mentions: [b, a, gone, uid('stranger')] }); // 1
        await send(store, id, a); // 2
        await send(store, id, a, { mentions: ['@all', b] }); // 3
        await send(store, id, c, { mentions: [b] }); // 4
        assert.equal((await member(store, id, a)).mentionUnread, 0);
        assert.equal((await member(store, id, b)).mentionUnread, 3);
        assert.equal((await member(store, id, c)).mentionUnread, 0, "c's own message read the @all before it");
        assert.equal((await member(store, id, gone)).mentionUnread, 0);
        const state = await store.getConversationState(id, b);
        assert.equal(state?.member.mentionUnread, 3);
        await store.updateCursor(id, b, 'read', 2);
        assert.equal((await member(store, id, b)).mentionUnread, 2);
        await store.updateCursor(id, b, 'delivered', 4);
        assert.equal((await member(store, id, b)).mentionUnread, 2, 'delivery is not reading');
        await store.updateCursor(id, b, 'read', 4);
        assert.equal((await member(store, id, b)).mentionUnread, 0);
      });

      it('a batch with mentions, recalls and resends ends as if appended one by one', async (store) => {
        const [a, b, c] = [uid('u'), uid('u'), uid('u')];
        const steps = (conv: string): AppendInput[] => [
          message(conv, a, 's1'),
          message(conv, a, 's2', { mentions: [b] }),
          message(conv, b, 's3'),
          message(conv, c, 's4', { mentions: ['@all'] }),
          message(conv, a, 's5'),
          message(conv, a, 's6', { type: RECALL, recallTargetSeq: 4 }),
          message(conv, b, 's7', { mentions: [c, a] }),
          message(conv, c, 's8', { type: RECALL, recallTargetSeq: 7 }),
          message(conv, a, 's2'),
          message(conv, b, 's9'),
          message(conv, c, 's10', { type: RECALL, recallTargetSeq: 12 }),
        ];
        const oneByOne = await group(store, [a, b, c]);
        const single: AppendResult[] = [];
        for (const input of steps(oneByOne)) single.push(...(await store.appendMessages([input])));
        const batched = await group(store, [a, b, c]);
        const batch = await store.appendMessages(steps(batched));
        const shape = (r: AppendResult) =>
          r.ok ? { seq: r.message.seq, duplicate: r.duplicate, client: r.message.clientMessageId } : { code: r.code };
        assert.deepEqual(batch.map(shape), single.map(shape));
        const view = async (conv: string) => ({
          messages: (await store.getMessages(conv, 1, 0, 100)).map((m) => [
            m.seq,
            m.senderId,
            m.recalled,
            m.content.length,
          ]),
          members: await Promise.all(
            [a, b, c].map(async (u) => {
              const m = await member(store, conv, u);
              return [m.readSeq, m.deliveredSeq, m.mentionUnread];
            }),
          ),
          lastSeq: (await store.getConversation(conv))?.lastSeq,
        });
        assert.deepEqual(await view(batched), await view(oneByOne));
        for (const u of [a, b, c]) {
          await store.updateCursor(oneByOne, u, 'read', 3);
          await store.updateCursor(batched, u, 'read', 3);
        }
        assert.deepEqual(await view(batched), await view(oneByOne));
      });

      it('recall marks the target recalled, clears its content and its unread mention', async (store) => {
        const [a, b] = [uid('u'), uid('u')];
        const id = await group(store, [a, b]);
        const target = await send(store, id, a, { mentions: [b] });
        await send(store, id, a);
        assert.equal((await member(store, id, b)).mentionUnread, 1);
        const recall = await send(store, id, a, { type: RECALL, recallTargetSeq: target.seq });
        assert.equal(recall.seq, 3);
        assert.equal(recall.recalled, false);
        const recalled = await store.getMessage(id, target.seq);
        assert.ok(recalled);
        assert.equal(recalled.recalled, true);
        assert.equal(recalled.content.length, 0);
        assert.equal(recalled.messageId, target.messageId);
        assert.equal((await store.getMessage(id, 2))?.recalled, false);
        assert.equal((await member(store, id, b)).mentionUnread, 0);
        const missing = await store.appendMessages([message(id, a, uid('c'), { type: RECALL, recallTargetSeq: 99 })]);
        assert.equal(missing[0]?.ok, false);
        assert.equal((await store.getConversation(id))?.lastSeq, 3);
      });

      if (options.reopen) {
        const reopen = options.reopen;
        test(
          'keeps acked messages and idempotency across a restart',
          withStore(async (store) => {
            const a = uid('u');
            const id = await group(store, [a]);
            const acked = (await store.appendMessages([message(id, a, 'k1'), message(id, a, 'k2')])).map(ok);
            const reopened = await reopen(store);
            const again = ok((await reopened.appendMessages([message(id, a, 'k2')]))[0]);
            assert.equal(again.duplicate, true);
            assert.deepEqual(again.message, acked[1]!.message);
            assert.deepEqual(
              await reopened.getMessages(id, 1, 0, 10),
              acked.map((r) => r.message),
            );
            assert.equal(ok((await reopened.appendMessages([message(id, a, 'k3')]))[0]).message.seq, 3);
            return reopened;
          }),
        );
      }
    });

    describe('reading messages', () => {
      const seeded = async (store: Store) => {
        const a = uid('u');
        const id = await group(store, [a]);
        await store.appendMessages(Array.from({ length: 10 }, (_, i) => message(id, a, `r${String(i)}`)));
        return id;
      };
      const seqs = (ms: StoredMessage[]) => ms.map((m) => m.seq);

      it('getMessages reads an ascending range; to = 0 means no upper bound', async (store) => {
        const id = await seeded(store);
        assert.deepEqual(seqs(await store.getMessages(id, 3, 6, 100)), [3, 4, 5, 6]);
        assert.deepEqual(seqs(await store.getMessages(id, 3, 6, 2)), [3, 4]);
        assert.deepEqual(seqs(await store.getMessages(id, 8, 0, 100)), [8, 9, 10]);
        assert.deepEqual(seqs(await store.getMessages(id, -5, 2, 100)), [1, 2]);
        assert.deepEqual(await store.getMessages(id, 11, 0, 100), []);
        assert.deepEqual(await store.getMessages(id, 6, 3, 100), []);
        assert.deepEqual(await store.getMessages(uid('none'), 1, 0, 100), []);
        assert.equal(await store.getMessage(id, 11), undefined);
      });

      it('getHistory reads descending before a seq; before = 0 means from the latest', async (store) => {
        const id = await seeded(store);
        assert.deepEqual(seqs(await store.getHistory(id, 0, 3)), [10, 9, 8]);
        assert.deepEqual(seqs(await store.getHistory(id, 4, 100)), [3, 2, 1]);
        assert.deepEqual(seqs(await store.getHistory(id, 1, 100)), []);
        assert.deepEqual(seqs(await store.getHistory(id, 100, 2)), [10, 9]);
      });

      it('survives nonsense limits and seqs', async (store) => {
        const id = await seeded(store);
        for (const limit of [0, -3, Number.NaN, 0.5]) {
          const page = await store.getMessages(id, 1, 0, limit);
          assert.ok(page.length >= 1 && page.length <= 10, `limit ${String(limit)}`);
          assert.equal(page[0]?.seq, 1);
        }
        assert.equal((await store.getMessages(id, 1, 0, 1e9)).length, 10);
        assert.equal((await store.getHistory(id, -1, 5)).length, 5);
        assert.equal((await store.getConversation(id))?.lastSeq, 10);
      });
    });

    describe('cursors', () => {
      it('move forward only, clamped to the last seq; unread follows the read cursor', async (store) => {
        const [a, b] = [uid('u'), uid('u')];
        const id = await group(store, [a, b]);
        for (let i = 0; i < 5; i++) await send(store, id, a);
        const start = await member(store, id, b);

        const r1 = await store.updateCursor(id, b, 'read', 3);
        assert.deepEqual({ ...r1, version: 0 }, { seq: 3, unread: 2, moved: true, version: 0 });
        assert.ok(r1.version > start.version);
        assert.equal((await member(store, id, b)).version, r1.version);
        assert.equal((await member(store, id, b)).deliveredSeq, 3, 'reading implies delivery');

        const back = await store.updateCursor(id, b, 'read', 2);
        assert.deepEqual(back, { seq: 3, unread: 2, moved: false, version: r1.version });
        assert.deepEqual(await store.updateCursor(id, b, 'read', -7), {
          seq: 3,
          unread: 2,
          moved: false,
          version: r1.version,
        });

        const far = await store.updateCursor(id, b, 'read', 1_000);
        assert.equal(far.seq, 5);
        assert.equal(far.unread, 0);
        assert.equal(far.moved, true);
        assert.equal((await member(store, id, b)).readSeq, 5);

        await send(store, id, a);
        const d = await store.updateCursor(id, b, 'delivered', 6);
        assert.deepEqual({ ...d, version: 0 }, { seq: 6, unread: 1, moved: true, version: 0 });
        assert.ok(d.version > far.version);
        const after = await member(store, id, b);
        assert.equal(after.deliveredSeq, 6);
        assert.equal(after.readSeq, 5);
        assert.equal(await unread(store, id, b), 1);
      });

      it('refuse unknown conversations and non-members', async (store) => {
        const [a, b] = [uid('u'), uid('u')];
        const id = await group(store, [a, b]);
        await rejectsWith(store.updateCursor(uid('none'), a, 'read', 1), ErrorCode.NOT_FOUND);
        await rejectsWith(store.updateCursor(id, uid('stranger'), 'read', 1), ErrorCode.NOT_MEMBER);
        await store.removeMembers(id, [b], 1);
        await rejectsWith(store.updateCursor(id, b, 'delivered', 1), ErrorCode.NOT_MEMBER);
      });
    });

    describe('sync and lists', () => {
      it('syncConversations pages by version and returns a changed conversation again', async (store) => {
        const [u, other] = [uid('u'), uid('u')];
        const convs: string[] = [];
        for (let i = 0; i < 5; i++) convs.push(await group(store, [other, u]));
        for (const c of convs) await send(store, c, other);

        const seen: string[] = [];
        let since = 0;
        let pages = 0;
        for (;;) {
          const page = await store.syncConversations(u, since, 2);
          pages++;
          assert.ok(page.items.length <= 2);
          const versions = page.items.map((s) => s.version);
          assert.deepEqual(
            versions,
            [...versions].sort((x, y) => x - y),
          );
          for (const s of page.items) {
            assert.ok(s.version > since);
            assert.equal(s.version, Math.max(s.conversation.version, s.member.version));
            assert.equal(s.unread, 1);
            assert.equal(s.lastMessage?.seq, 1);
            assert.equal(s.member.userId, u);
          }
          seen.push(...page.items.map((s) => s.conversation.id));
          assert.equal(page.version, page.items.at(-1)?.version ?? since);
          since = page.version;
          if (!page.hasMore) break;
        }
        assert.equal(pages, 3);
        assert.deepEqual(seen, convs, 'each once, oldest change first');
        assert.equal(await store.userVersion(u), since);
        assert.deepEqual(await store.syncConversations(u, since, 10), { items: [], version: since, hasMore: false });

        const later = await send(store, convs[1]!, other);
        const again = await store.syncConversations(u, since, 10);
        assert.deepEqual(
          again.items.map((s) => s.conversation.id),
          [convs[1]],
        );
        assert.equal(again.items[0]?.lastMessage?.messageId, later.messageId);
        assert.equal(again.items[0].unread, 2);
        const read = await store.updateCursor(convs[1]!, u, 'read', 2);
        const mine = await store.syncConversations(u, again.version, 10);
        assert.deepEqual(
          mine.items.map((s) => [s.conversation.id, s.version, s.unread]),
          [[convs[1], read.version, 0]],
        );
        assert.equal(await store.userVersion(u), read.version);
        assert.equal(await store.userVersion(uid('nobody')), 0);
        assert.deepEqual(await store.syncConversations(uid('nobody'), 0, 10), {
          items: [],
          version: 0,
          hasMore: false,
        });
      });

      it('reports a removal once; later messages do not resurface it', async (store) => {
        const [a, b] = [uid('u'), uid('u')];
        const id = await group(store, [a, b]);
        const before = await send(store, id, a);
        const { version: since } = await store.syncConversations(b, 0, 100);
        await store.removeMembers(id, [b], 2_000);
        const page = await store.syncConversations(b, since, 100);
        assert.equal(page.items.length, 1);
        const state = page.items[0]!;
        assert.equal(state.member.removed, true);
        assert.equal(state.unread, 0);
        assert.equal(state.version, state.member.version);
        await send(store, id, a, { mentions: ['@all'] });
        assert.deepEqual(await store.syncConversations(b, page.version, 100), {
          items: [],
          version: page.version,
          hasMore: false,
        });
        assert.equal(await store.userVersion(b), page.version);
        const viewed = await store.getConversationState(id, b);
        assert.ok(viewed);
        assert.equal(viewed.member.removed, true);
        assert.equal(viewed.lastMessage?.messageId, before.messageId, 'the view stops at the removal');
        assert.equal(viewed.unread, 0);
        const list = await store.listConversations(b, '', 100);
        assert.deepEqual(list.items, []);
      });

      it('listConversations orders by latest activity, then id, with an opaque cursor', async (store) => {
        const [u, other] = [uid('u'), uid('u')];
        const ids: string[] = [];
        for (let i = 0; i < 6; i++) ids.push(await group(store, [other, u], 100 + (i % 3)));
        const left = await group(store, [other, u], 50);
        await store.removeMembers(left, [u], 50);
        await store.appendMessages([message(ids[0]!, other, 'late', { serverTime: 900 })]);
        const expected = [{ id: ids[0]!, at: 900 }, ...ids.slice(1).map((id, i) => ({ id, at: 100 + ((i + 1) % 3) }))]
          .sort((x, y) => y.at - x.at || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0))
          .map((x) => x.id);

        const seen: string[] = [];
        let cursor = '';
        for (;;) {
          const page = await store.listConversations(u, cursor, 4);
          assert.ok(page.items.length <= 4);
          for (const s of page.items) assert.equal(s.member.removed, false);
          seen.push(...page.items.map((s) => s.conversation.id));
          if (!page.nextCursor) break;
          cursor = page.nextCursor;
        }
        assert.deepEqual(seen, expected);
        await rejectsWith(store.listConversations(u, 'not-a-cursor', 4), ErrorCode.INVALID_ARGUMENT);
        const first = (await store.listConversations(u, '', 1)).items[0];
        assert.ok(first);
        assert.equal(first.lastMessage?.clientMessageId, 'late');
        assert.equal(first.unread, 1);
      });

      it('getConversationState is undefined for a user who never joined', async (store) => {
        const a = uid('u');
        const id = await group(store, [a]);
        assert.equal(await store.getConversationState(id, uid('stranger')), undefined);
        assert.equal(await store.getConversationState(uid('none'), a), undefined);
        const state = await store.getConversationState(id, a);
        assert.ok(state);
        assert.equal(state.lastMessage, undefined);
        assert.equal(state.unread, 0);
      });
    });
  });
}
