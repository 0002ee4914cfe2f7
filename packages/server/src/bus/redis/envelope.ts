import { ErrorCode } from '@parley/protocol';
import type { KickMatch, SessionTarget } from '../types.js';

/**
 * What one node publishes to another's channel. On the wire: one kind byte, a 4-byte
 * big-endian header length, the header as JSON, then the payload bytes untouched (an encoded
 * frame, or pb.Message bytes for rooms), so a frame is encoded once on the sending node.
 */
export type Envelope =
  | { kind: 'users'; from: string; userIds: string[]; payload: Uint8Array }
  | { kind: 'room'; from: string; roomId: string; exceptSessionId: string; payload: Uint8Array }
  | { kind: 'presence'; from: string; userId: string }
  | {
      kind: 'kick';
      from: string;
      userId: string;
      match: KickMatch;
      before: number;
      reason: ErrorCode;
      message: string;
    }
  /** An admin request; the node answers on the asker's channel with the same id. */
  | { kind: 'ask'; from: string; id: string; ask: AdminAsk }
  /** The answer to an ask; its value is checked by the asker, which knows what it asked. */
  | { kind: 'answer'; from: string; id: string; value: unknown }
  /** The sender's bus was down and is back: its pushes to this node's sessions may have been skipped. */
  | { kind: 'resync'; from: string };

/** What one node asks another to do for the admin API. */
export type AdminAsk =
  | { op: 'kick'; target: SessionTarget; reason: ErrorCode; message: string }
  | { op: 'stats' }
  | { op: 'sessions'; userId: string };

export type EnvelopeKind = Envelope['kind'];

// Append only: a kind's byte is its index.
const KINDS: readonly EnvelopeKind[] = ['users', 'room', 'presence', 'kick', 'ask', 'answer', 'resync'];
const EMPTY = new Uint8Array(0);

export function encodeEnvelope(envelope: Envelope): Buffer {
  const { kind, payload, ...header } = { payload: EMPTY, ...envelope };
  const json = Buffer.from(JSON.stringify(header));
  const out = Buffer.allocUnsafe(5 + json.length + payload.length);
  out[0] = KINDS.indexOf(kind);
  out.writeUInt32BE(json.length, 1);
  json.copy(out, 5);
  out.set(payload, 5 + json.length);
  return out;
}

/** Decodes an envelope; throws EnvelopeError on anything malformed (never trusts a peer blindly). */
export function decodeEnvelope(bytes: Buffer): Envelope {
  if (bytes.length < 5) throw new EnvelopeError('envelope shorter than its header');
  const kind = KINDS[bytes[0] ?? 255];
  if (!kind) throw new EnvelopeError(`unknown envelope kind ${String(bytes[0])}`);
  const headerLength = bytes.readUInt32BE(1);
  if (5 + headerLength > bytes.length) throw new EnvelopeError('envelope header runs past its end');
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.subarray(5, 5 + headerLength).toString('utf8'));
  } catch (err) {
    throw new EnvelopeError('envelope header is not JSON', { cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null) throw new EnvelopeError('envelope header is not an object');
  const header = parsed as Record<string, unknown>;
  if (typeof header.from !== 'string') throw new EnvelopeError('envelope header lacks its sender');
  const payload = bytes.subarray(5 + headerLength);
  const from = header.from;
  switch (kind) {
    case 'users': {
      const userIds: unknown = header.userIds;
      if (!Array.isArray(userIds) || !userIds.every((u): u is string => typeof u === 'string')) {
        throw new EnvelopeError('users envelope without user ids');
      }
      return { kind, from, userIds, payload };
    }
    case 'room':
      if (typeof header.roomId !== 'string' || typeof header.exceptSessionId !== 'string') {
        throw new EnvelopeError('room envelope without its room');
      }
      return { kind, from, roomId: header.roomId, exceptSessionId: header.exceptSessionId, payload };
    case 'presence':
      if (typeof header.userId !== 'string') throw new EnvelopeError('presence envelope without its user');
      return { kind, from, userId: header.userId };
    case 'kick': {
      const match = header.match as Record<string, unknown> | null;
      const validMatch =
        typeof match === 'object' &&
        match !== null &&
        (typeof match.deviceId === 'string' || typeof match.platform === 'number');
      if (
        typeof header.userId !== 'string' ||
        !validMatch ||
        typeof header.before !== 'number' ||
        !isErrorCode(header.reason) ||
        typeof header.message !== 'string'
      ) {
        throw new EnvelopeError('malformed kick envelope');
      }
      return {
        kind,
        from,
        userId: header.userId,
        match: match as KickMatch,
        before: header.before,
        reason: header.reason,
        message: header.message,
      };
    }
    case 'ask':
      if (typeof header.id !== 'string') throw new EnvelopeError('ask envelope without its id');
      return { kind, from, id: header.id, ask: parseAsk(header.ask) };
    case 'answer':
      if (typeof header.id !== 'string') throw new EnvelopeError('answer envelope without its id');
      return { kind, from, id: header.id, value: header.value };
    case 'resync':
      return { kind, from };
  }
}

function parseAsk(value: unknown): AdminAsk {
  const ask = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  switch (ask.op) {
    case 'stats':
      return { op: 'stats' };
    case 'sessions':
      if (typeof ask.userId !== 'string') break;
      return { op: 'sessions', userId: ask.userId };
    case 'kick': {
      const t = (typeof ask.target === 'object' && ask.target !== null ? ask.target : {}) as Record<string, unknown>;
      const optional = (v: unknown) => v === undefined || typeof v === 'string';
      if (
        typeof t.userId !== 'string' ||
        !optional(t.deviceId) ||
        !optional(t.sessionId) ||
        !isErrorCode(ask.reason) ||
        typeof ask.message !== 'string'
      ) {
        break;
      }
      const target: SessionTarget = { userId: t.userId };
      if (typeof t.deviceId === 'string') target.deviceId = t.deviceId;
      if (typeof t.sessionId === 'string') target.sessionId = t.sessionId;
      return { op: 'kick', target, reason: ask.reason, message: ask.message };
    }
  }
  throw new EnvelopeError('malformed ask envelope');
}

function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'number' && (Object.values(ErrorCode) as unknown[]).includes(value);
}

export class EnvelopeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EnvelopeError';
  }
}
