// Fixtures the adapter-specific store tests (store-sqlite, store-postgres) share, beside the
// contract suite they both run: a group to append to, and checks on what an append assigned.
import assert from 'node:assert/strict';
import { pb } from '@parley/protocol';
import type { AppendResult, Store } from '../../src/store/types.js';
import { uid } from '../store-contract.js';

/** A new group of `userIds`, all plain members; returns its id. */
export async function groupOf(store: Store, userIds: string[]): Promise<string> {
  const id = uid('g');
  await store.createConversation({
    id,
    type: pb.ConversationType.GROUP,
    name: '',
    attributes: '',
    ownerId: userIds[0] ?? '',
    members: userIds.map((userId) => ({ userId, role: pb.MemberRole.MEMBER })),
    now: 1,
  });
  return id;
}

/** Asserts the conversation holds seqs 1..lastSeq, each once; returns lastSeq. */
export async function assertGapless(store: Store, conversationId: string): Promise<number> {
  const conv = await store.getConversation(conversationId);
  assert.ok(conv);
  const all = await store.getMessages(conversationId, 1, 0, 10_000);
  assert.deepEqual(
    all.map((m) => m.seq),
    Array.from({ length: conv.lastSeq }, (_, i) => i + 1),
  );
  return conv.lastSeq;
}

/** The seq an append assigned; fails the test if it was refused. */
export function seqOf(r: AppendResult | undefined): number {
  assert.ok(r?.ok, `append failed: ${r && !r.ok ? r.message : 'no result'}`);
  return r.message.seq;
}
