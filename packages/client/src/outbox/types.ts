import type { pb } from '@parley/protocol';

/**
 * Where an outgoing message stands:
 * - `sending`: stored locally, not acknowledged yet (queued, in flight, or waiting for a link).
 * - `sent`: the server acknowledged it: it is durable and has a `seq`.
 * - `delivered`: another member's device has received it (a DELIVERED cursor at or past its seq).
 * - `read`: another member has read it (a READ cursor at or past its seq).
 * - `failed`: the server refused it for good (`error` says why); `retry()` sends it again.
 *
 * Receipt rule, the same for 1:1 and groups: the state follows the highest cursor of any member
 * other than the sender (in a 1:1 conversation that member is the peer; in a group it is the
 * first member to receive or read it). The sender's own cursors (its other devices) never count.
 */
export type OutboxState = 'sending' | 'sent' | 'delivered' | 'read' | 'failed';

/** The stored form of an outgoing message (plain JSON). */
export interface OutboxRecord {
  /** The local id: the message's `client_message_id` too, unique per sender (a ULID). */
  localId: string;
  conversationId: string;
  content: pb.MessageContent.$Properties;
  state: OutboxState;
  /** Local clock when `send()` was called (ms since the epoch). */
  createdAt: number;
  /** Send order within this outbox: messages of one conversation go out in this order. */
  order: number;
  /** Send attempts that ended without an answer or with a retryable error. */
  attempts: number;
  /** Set once acknowledged. */
  seq?: number;
  messageId?: string;
  serverTime?: number;
  /** Set when `failed`: the wire error code and its message. */
  error?: { code: number; message: string };
}

/** An outgoing message as the app sees it. */
export type OutboxMessage = Readonly<OutboxRecord>;

/**
 * Persistence of the outbox: records are written before they are sent and rewritten on every
 * state change. Implementations must apply calls in the order they were made.
 * {@link KeyValueOutboxStore} adapts any `KeyValueStore` (memory, a file in Node, IndexedDB).
 */
export interface OutboxStore {
  /** Every stored record, in any order. */
  load(): Promise<OutboxRecord[]>;
  /** Inserts or replaces the record with this `localId`. */
  put(record: OutboxRecord): Promise<void>;
  delete(localId: string): Promise<void>;
}

export interface OutboxEvents {
  /** A message was added or changed state (`sending` → `sent` → `delivered` → `read`, or `failed`). */
  change: (message: OutboxMessage, previous: OutboxState | undefined) => void;
  /** A storage write failed (the message stays in memory and is still sent). */
  error: (error: Error) => void;
}
