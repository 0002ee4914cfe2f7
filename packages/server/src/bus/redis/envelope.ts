import { ErrorCode } from '@parley/protocol';
import type { KickMatch } from '../types.js';

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
    };

export type EnvelopeKind = Envelope['kind'];

const KINDS: readonly EnvelopeKind[] = ['users', 'room', 'presence', 'kick'];
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
  }
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
