// Builds test-vectors/frames.json: named frames as hex with their header fields and decoded
// bodies, plus byte strings a receiver must refuse, for authors of clients in other languages.
//
//   npm run vectors -w packages/protocol
//
// Every vector is defined below and checked while it is built: frames are encoded with
// FrameCodec, decoded back through FrameDecoder and the codec, and must decode to exactly the
// body written here; error vectors must fail with their code. The output is deterministic
// (fixed ids, times and seqs), so test/vectors.test.ts can compare it with the committed file.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type CommandWith,
  type Frame,
  type PushInput,
  type RequestInput,
  type ResponseInput,
  type Role,
  type StatusInput,
  Command,
  DEFAULT_MAX_BODY_BYTES,
  ErrorCode,
  Flags,
  FrameCodec,
  FrameDecoder,
  HEADER_SIZE,
  ProtocolError,
  commandName,
  deflateBody,
  errorCodeName,
  messageTypeFor,
  pb,
  writeHeader,
} from '@parley/protocol';

// ---------------------------------------------------------------------------
// Output shape (also used by test/vectors.test.ts to read the JSON)
// ---------------------------------------------------------------------------

/** Header fields and decoded body of one frame. */
export interface FrameFields {
  role: Role;
  /** Command name, or null for a number this protocol version does not define. */
  command: string | null;
  commandValue: number;
  seq: number;
  flags: number;
  /** The protobuf message type of the body (package parley.v1). */
  bodyType: string;
  body: Record<string, unknown>;
}

/** One frame. */
export type FrameVector = { name: string; description: string; hex: string } & FrameFields & {
    /** false: decode-only; re-encoding `body` need not give `hex` byte for byte. */
    encodeExact?: false;
  };

/** Several frames in one chunk, to be delivered in order from one read. */
export interface StickyVector {
  name: string;
  description: string;
  hex: string;
  frames: ({ hex: string } & FrameFields)[];
}

/** Bytes a receiver must refuse with `error`. */
export interface ErrorVector {
  name: string;
  description: string;
  hex: string;
  error: string;
  errorCode: number;
  /** "frame": the header is refused; "body": the frame is well-formed but its body is not. */
  stage: 'frame' | 'body';
  /** For stage "body": the role to decode the body as, and the frame's header fields. */
  role?: Role;
  command?: string | null;
  commandValue?: number;
  seq?: number;
  flags?: number;
  /** The receiver's maximum body length the vector assumes, where it matters. */
  maxBodyBytes?: number;
}

export type Vector = FrameVector | StickyVector | ErrorVector;

export interface VectorFile {
  format: string;
  notes: string[];
  vectors: Vector[];
}

// ---------------------------------------------------------------------------
// Definitions
// ---------------------------------------------------------------------------

interface FrameDef {
  name: string;
  description: string;
  role: Role;
  command: number;
  seq: number;
  body: Record<string, unknown>;
  /** Decode-only vectors give their frame bytes instead of having them encoded. */
  bytes?: Uint8Array;
  /** Encoder for this vector when it is not the default one (compression). */
  codec?: FrameCodec;
  encodeExact?: false;
}

interface StickyDef {
  name: string;
  description: string;
  frames: FrameDef[];
}

interface ErrorDef {
  name: string;
  description: string;
  bytes: Uint8Array;
  error: ErrorCode;
  stage: 'frame' | 'body';
  role?: Role;
  maxBodyBytes?: number;
}

const plainCodec = new FrameCodec();
// The server compresses bodies above 4 KiB; a lower threshold keeps the vector short.
const compressingCodec = new FrameCodec({ compressAboveBytes: 256, compressionLevel: 6 });

function request<C extends CommandWith<'request'>>(
  name: string,
  description: string,
  command: C,
  seq: number,
  body: RequestInput<C>,
): FrameDef {
  return { name, description, role: 'request', command, seq, body: body as Record<string, unknown> };
}

function response<C extends CommandWith<'response'>>(
  name: string,
  description: string,
  command: C,
  seq: number,
  body: ResponseInput<C>,
): FrameDef {
  return { name, description, role: 'response', command, seq, body: body as Record<string, unknown> };
}

function push<C extends CommandWith<'push'>>(
  name: string,
  description: string,
  command: C,
  body: PushInput<C>,
): FrameDef {
  return { name, description, role: 'push', command, seq: 0, body: body as Record<string, unknown> };
}

function hexBytes(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, '');
  assert.match(clean, /^(?:[0-9a-f]{2})*$/);
  return Uint8Array.from(clean.match(/../g) ?? [], (b) => parseInt(b, 16));
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** A frame around `body` as given, for vectors whose bytes no encoder here would write. */
function rawFrame(command: number, seq: number, flags: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + body.length);
  writeHeader(out, 0, { command, seq, flags, length: body.length });
  out.set(body, HEADER_SIZE);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

// Fixed values: 2026-01-01T00:00:00Z and friends. Times above 2^32 exercise 64-bit varints.
const T0 = 1767225600000;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const { Platform, AppState, MessageType, SystemEventType, CursorKind, ConversationType, MemberRole } = pb;

const lunch = {
  conversationId: 'g_lunch',
  type: ConversationType.GROUP,
  name: 'Lunch crew',
  attributes: '{"color":"#ff8800"}',
  ownerId: 'alice',
  memberCount: 3,
  lastSeq: 1045,
  createdAt: T0 - 30 * DAY,
  updatedAt: T0 + 3 * MINUTE,
};

const textContent = { type: MessageType.TEXT, text: 'Hi @bob — lunch at 12? 🍜', mentions: ['bob'] };

const msg1042 = {
  conversationId: 'g_lunch',
  seq: 1042,
  messageId: 'm_01KDX3Q8A1',
  senderId: 'alice',
  senderDeviceId: 'iphone-1',
  clientMessageId: '01KDX3Q7ZP8Y4W2N6B5C3V1T0R',
  serverTime: T0 + MINUTE,
  content: textContent,
  conversationType: ConversationType.GROUP,
};

const msg1043 = {
  conversationId: 'g_lunch',
  seq: 1043,
  messageId: 'm_01KDX3R2C7',
  senderId: 'alice',
  serverTime: T0 + MINUTE + 20_000,
  content: {
    type: MessageType.SYSTEM,
    system: { type: SystemEventType.MEMBERS_ADDED, actor: 'alice', users: ['dave'] },
  },
  conversationType: ConversationType.GROUP,
};

const msg1044 = {
  conversationId: 'g_lunch',
  seq: 1044,
  messageId: 'm_01KDX3S0F2',
  senderId: 'bob',
  senderDeviceId: 'pixel-7',
  clientMessageId: '01KDX3RZW1M3K8J5H2G9F6D4S7',
  serverTime: T0 + 2 * MINUTE,
  content: { type: MessageType.TEXT, text: 'Sushi!' },
  conversationType: ConversationType.GROUP,
};

const msg1045 = {
  conversationId: 'g_lunch',
  seq: 1045,
  messageId: 'm_01KDX3T9K4',
  senderId: 'alice',
  senderDeviceId: 'iphone-1',
  clientMessageId: '01KDX3T8XQ2V7B4N1M6C9Z3L5K',
  serverTime: T0 + 3 * MINUTE,
  content: { type: MessageType.RECALL, recallTargetSeq: 1042 },
  conversationType: ConversationType.GROUP,
};

// Message 1042 as stored after the recall: flagged, content removed.
const msg1042Recalled = {
  conversationId: 'g_lunch',
  seq: 1042,
  messageId: 'm_01KDX3Q8A1',
  senderId: 'alice',
  senderDeviceId: 'iphone-1',
  clientMessageId: '01KDX3Q7ZP8Y4W2N6B5C3V1T0R',
  serverTime: T0 + MINUTE,
  recalled: true,
  conversationType: ConversationType.GROUP,
};

const msg1041 = {
  conversationId: 'g_lunch',
  seq: 1041,
  messageId: 'm_01KDX3P1B9',
  senderId: 'carol',
  senderDeviceId: 'web-3f2a',
  clientMessageId: '01KDX3P0N4R8T2Y6U1I5O9P3A7',
  serverTime: T0 - 5 * MINUTE,
  content: { type: MessageType.TEXT, text: 'Anyone hungry?' },
  conversationType: ConversationType.GROUP,
};

const lunchState = {
  conversation: lunch,
  lastMessage: msg1045,
  unread: 3,
  readSeq: 1042,
  deliveredSeq: 1045,
  role: MemberRole.MEMBER,
  version: 61,
  mentionUnread: 1,
};

const bobOnline = {
  userId: 'bob',
  online: true,
  lastSeen: T0 + 10 * MINUTE,
  platforms: [Platform.ANDROID, Platform.WEB],
};
const carolOffline = { userId: 'carol', lastSeen: T0 - 2 * HOUR };

// A history page large enough to compress: similar messages, as a busy group produces.
const compressiblePage = Array.from({ length: 8 }, (_, i) => ({
  conversationId: 'g_lunch',
  seq: 1040 - i,
  messageId: `m_01KDX3N${String(i)}00`,
  senderId: i % 2 === 0 ? 'bob' : 'carol',
  senderDeviceId: i % 2 === 0 ? 'pixel-7' : 'web-3f2a',
  clientMessageId: `01KDX3N${String(i)}00000000000000000000`,
  serverTime: T0 - (10 + i) * MINUTE,
  content: {
    type: MessageType.TEXT,
    text: `Reminder ${String(i + 1)}: the lunch order closes at 11:30, add yours to the list.`,
  },
  conversationType: ConversationType.GROUP,
}));

function frameDefs(): (FrameDef | StickyDef)[] {
  return [
    // --- Session ---
    request(
      'login-request',
      'First frame on a connection: JWT, device, platform IOS (1), heartbeat 30 s, app state FOREGROUND (1), resume hints from the previous session, locale.',
      Command.LOGIN,
      1,
      {
        token:
          'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImRldiI6ImlwaG9uZS0xIiwiZXhwIjoxNzY3MzEyMDAwfQ.c2lnbmF0dXJl',
        deviceId: 'iphone-1',
        platform: Platform.IOS,
        clientVersion: 'parley-swift/0.1.0',
        heartbeatIntervalMs: 30_000,
        appState: AppState.FOREGROUND,
        resume: { conversationVersion: 41, previousSessionId: 's_7Yq2Lr' },
        locale: 'en-GB',
      },
    ),
    response(
      'login-response',
      'Successful login (status OK is omitted: an absent status means OK): user and session ids, server time for skew estimation, the server limits, the accepted heartbeat and the user version (57 > 41: the client should sync).',
      Command.LOGIN,
      1,
      {
        userId: 'alice',
        sessionId: 's_9Kd3Vx',
        serverTime: T0 + 5,
        limits: {
          maxFrameBytes: DEFAULT_MAX_BODY_BYTES,
          maxMessageBytes: 65_536,
          sendsPerSecond: 10,
          requestsPerSecond: 50,
          minHeartbeatIntervalMs: 10_000,
          maxHeartbeatIntervalMs: 300_000,
          recallWindowMs: 120_000,
        },
        heartbeatIntervalMs: 30_000,
        conversationVersion: 57,
      },
    ),
    request('ping-request', 'Heartbeat: header only, 14 bytes, empty body.', Command.PING, 2, {}),
    response('ping-response', 'Answer to a ping: header only, 14 bytes, same seq.', Command.PING, 2, {}),
    request(
      'ping-request-max-seq',
      'A request with the largest seq, 2^32-1 (seq is unsigned; the next request wraps to 1).',
      Command.PING,
      0xffffffff,
      {},
    ),
    request(
      'session-update-request',
      'The app went to the background: longer heartbeat, app state BACKGROUND (2). heartbeat_interval_ms is a proto3 optional field.',
      Command.SESSION_UPDATE,
      3,
      { heartbeatIntervalMs: 240_000, appState: AppState.BACKGROUND },
    ),
    response('session-update-response', 'The heartbeat interval the server accepted.', Command.SESSION_UPDATE, 3, {
      heartbeatIntervalMs: 240_000,
    }),
    request(
      'probe-request',
      'Network diagnosis on a fresh session: answer after 4 minutes (240000 ms) of silence on this connection.',
      Command.PROBE,
      38,
      { delayMs: 240_000 },
    ),
    response(
      'probe-response',
      'The answer to probe-request, sent after the requested silence: how long the server actually waited.',
      Command.PROBE,
      38,
      { delayedMs: 240_003 },
    ),
    push(
      'kick-push',
      'The server ends the session: the same device logged in on another connection (REPLACED_BY_DEVICE, 2007). Do not reconnect.',
      Command.KICK,
      { reason: ErrorCode.REPLACED_BY_DEVICE, message: 'device iphone-1 logged in on another connection' },
    ),
    push(
      'goaway-push',
      'The node is draining (SHUTTING_DOWN, 5004): reconnect after 2 s plus jitter, to one of the endpoints.',
      Command.GOAWAY,
      {
        reason: ErrorCode.SHUTTING_DOWN,
        reconnectDelayMs: 2000,
        endpoints: ['tcp://10.0.0.2:7100', 'tcp://10.0.0.3:7100'],
        message: 'node draining for deploy',
      },
    ),

    // --- Messages ---
    request(
      'send-text-request',
      'A TEXT (1) message mentioning bob. The text is UTF-8 with non-ASCII characters (an em dash, an emoji): string lengths on the wire are in bytes.',
      Command.SEND,
      4,
      { conversationId: 'g_lunch', clientMessageId: '01KDX3Q7ZP8Y4W2N6B5C3V1T0R', content: textContent },
    ),
    request(
      'send-attachment-request',
      'An ATTACHMENT (3) message: a reference to an image the app stores, with a caption; size is a uint64.',
      Command.SEND,
      5,
      {
        conversationId: 'd_alice_bob',
        clientMessageId: '01KDX3QA5E7R9T1Y3U5I7O9P1A',
        content: {
          type: MessageType.ATTACHMENT,
          text: 'the menu',
          attachments: [
            {
              url: 'https://files.example.com/u/alice/menu.jpg',
              mimeType: 'image/jpeg',
              size: 2_345_678,
              name: 'menu.jpg',
              width: 1536,
              height: 2048,
              thumbnailUrl: 'https://files.example.com/u/alice/menu.thumb.jpg',
            },
          ],
        },
      },
    ),
    request('send-custom-request', 'A CUSTOM (2) message: app-defined JSON carried as a string.', Command.SEND, 6, {
      conversationId: 'g_lunch',
      clientMessageId: '01KDX3QB2D4F6G8H0J2K4L6Z8X',
      content: {
        type: MessageType.CUSTOM,
        custom: '{"kind":"poll","question":"Pizza or sushi?","options":["pizza","sushi"]}',
      },
    }),
    response(
      'send-response',
      'The ack of send-text-request, sent once the message is durable: message id, conversation seq, server time.',
      Command.SEND,
      4,
      { messageId: 'm_01KDX3Q8A1', seq: 1042, serverTime: T0 + MINUTE },
    ),
    response(
      'send-response-duplicate',
      'The ack of a resend of the same client_message_id (here with request seq 7): the first ack again, with duplicate = true.',
      Command.SEND,
      7,
      { messageId: 'm_01KDX3Q8A1', seq: 1042, serverTime: T0 + MINUTE, duplicate: true },
    ),
    push('message-push', 'A new message for a recipient, with the recipient user version after it.', Command.MESSAGE, {
      message: msg1042,
      conversationVersion: 58,
    }),
    request('recall-request', 'Recall message 1042.', Command.RECALL, 8, { conversationId: 'g_lunch', seq: 1042 }),
    response('recall-response', 'The recall was recorded as the RECALL message with seq 1045.', Command.RECALL, 8, {
      recallSeq: 1045,
    }),

    // --- Receipts and typing ---
    request(
      'cursor-delivered-request',
      'Everything up to seq 1045 was received: kind DELIVERED (1).',
      Command.CURSOR,
      9,
      { conversationId: 'g_lunch', kind: CursorKind.DELIVERED, seq: 1045 },
    ),
    response('cursor-delivered-response', 'The delivered cursor after the update.', Command.CURSOR, 9, {
      seq: 1045,
    }),
    request('cursor-read-request', 'Everything up to seq 1043 was read: kind READ (2).', Command.CURSOR, 10, {
      conversationId: 'g_lunch',
      kind: CursorKind.READ,
      seq: 1043,
    }),
    response(
      'cursor-read-response',
      'The read cursor after the update and the unread count left (own messages not counted).',
      Command.CURSOR,
      10,
      { seq: 1043, unread: 2 },
    ),
    push(
      'cursor-push',
      "Another member's read cursor moved (sent to the other members and the reader's other devices).",
      Command.CURSOR,
      { conversationId: 'g_lunch', userId: 'bob', kind: CursorKind.READ, seq: 1045, conversationVersion: 62 },
    ),
    request(
      'typing-request',
      'One-way request (seq 0): the server sends no response, not even an error.',
      Command.TYPING,
      0,
      { conversationId: 'g_lunch', typing: true },
    ),
    request(
      'typing-stop-request',
      'The user stopped typing (typing = false is omitted). With a non-zero seq the server answers with an EmptyResponse.',
      Command.TYPING,
      37,
      { conversationId: 'g_lunch' },
    ),
    response('typing-stop-response', 'OK.', Command.TYPING, 37, {}),
    push('typing-push', 'bob is typing.', Command.TYPING, { conversationId: 'g_lunch', userId: 'bob', typing: true }),

    // --- Sync and history ---
    request(
      'sync-conversations-request',
      'Conversations changed since user version 41, up to 100 per page.',
      Command.SYNC_CONVERSATIONS,
      11,
      { sinceVersion: 41, limit: 100 },
    ),
    response(
      'sync-conversations-response',
      "Two changed conversations, oldest change first: one the caller left (removed = true: drop it locally) and one with its last message, unread and mention counts and the caller's cursors. version is the since_version of the next page; has_more = false is omitted.",
      Command.SYNC_CONVERSATIONS,
      11,
      {
        conversations: [
          { conversation: { conversationId: 'g_old', type: ConversationType.GROUP }, removed: true, version: 59 },
          lunchState,
        ],
        version: 61,
      },
    ),
    request(
      'sync-messages-request',
      'Messages from seq 1043 to the latest (to_seq 0 is omitted), at most 50.',
      Command.SYNC_MESSAGES,
      12,
      { conversationId: 'g_lunch', fromSeq: 1043, limit: 50 },
    ),
    response(
      'sync-messages-response',
      'Ascending: a SYSTEM (4) message MEMBERS_ADDED (2), a TEXT message, and a RECALL (5) message targeting 1042.',
      Command.SYNC_MESSAGES,
      12,
      { messages: [msg1043, msg1044, msg1045], lastSeq: 1045 },
    ),
    request('history-request', 'Two messages before seq 1043, newest first.', Command.HISTORY, 13, {
      conversationId: 'g_lunch',
      beforeSeq: 1043,
      limit: 2,
    }),
    response(
      'history-response',
      'Newest first. Message 1042 was recalled: recalled = true and its content is gone. has_more = true.',
      Command.HISTORY,
      13,
      { messages: [msg1042Recalled, msg1041], hasMore: true },
    ),
    push(
      'sync-hint-push',
      'The node’s cluster bus is back after an outage (BUS_RECOVERED, 1): pushes may have been missed, so sync as after a reconnect.',
      Command.SYNC_HINT,
      { reason: pb.SyncHintReason.BUS_RECOVERED },
    ),

    // --- Conversations and members ---
    request(
      'conv-create-request',
      'Create a GROUP (2) conversation with two members besides the caller.',
      Command.CONV_CREATE,
      14,
      {
        type: ConversationType.GROUP,
        memberIds: ['bob', 'carol'],
        name: 'Ski trip ⛷',
        attributes: '{"color":"#0077ff"}',
      },
    ),
    response(
      'conv-create-response',
      'The new conversation as the caller sees it: role OWNER (3), its first message is the SYSTEM CONVERSATION_CREATED (1) event; created = true.',
      Command.CONV_CREATE,
      14,
      {
        state: {
          conversation: {
            conversationId: 'g_ski',
            type: ConversationType.GROUP,
            name: 'Ski trip ⛷',
            attributes: '{"color":"#0077ff"}',
            ownerId: 'alice',
            memberCount: 3,
            lastSeq: 1,
            createdAt: T0 + 4 * MINUTE,
            updatedAt: T0 + 4 * MINUTE,
          },
          lastMessage: {
            conversationId: 'g_ski',
            seq: 1,
            messageId: 'm_01KDX3V0A0',
            senderId: 'alice',
            serverTime: T0 + 4 * MINUTE,
            content: {
              type: MessageType.SYSTEM,
              system: { type: SystemEventType.CONVERSATION_CREATED, actor: 'alice', users: ['bob', 'carol'] },
            },
            conversationType: ConversationType.GROUP,
          },
          readSeq: 1,
          deliveredSeq: 1,
          role: MemberRole.OWNER,
          version: 63,
        },
        created: true,
      },
    ),
    request('conv-get-request', 'One conversation by id.', Command.CONV_GET, 15, { conversationId: 'g_lunch' }),
    response('conv-get-response', "The caller's view of the conversation.", Command.CONV_GET, 15, {
      state: lunchState,
    }),
    request(
      'conv-list-request',
      'First page (no cursor) of the conversation list, 20 per page.',
      Command.CONV_LIST,
      16,
      { limit: 20 },
    ),
    response(
      'conv-list-response',
      'One conversation and the opaque cursor of the next page (empty on the last page).',
      Command.CONV_LIST,
      16,
      { conversations: [lunchState], nextCursor: 'eyJ0IjoxNzY3MjI1NzgwMDAwfQ' },
    ),
    request(
      'conv-update-request',
      'Rename, and clear the attributes: name and attributes are proto3 optional fields, so attributes = "" is sent (field 3, length 0) and means "set to empty", while an absent field keeps its value.',
      Command.CONV_UPDATE,
      17,
      { conversationId: 'g_lunch', name: 'Lunch crew 🍱', attributes: '' },
    ),
    response('conv-update-response', 'The updated conversation.', Command.CONV_UPDATE, 17, {
      state: {
        conversation: { ...lunch, name: 'Lunch crew 🍱', attributes: undefined, updatedAt: T0 + 5 * MINUTE },
        role: MemberRole.MEMBER,
        version: 64,
      },
    }),
    request('members-add-request', 'Add two users.', Command.MEMBERS_ADD, 18, {
      conversationId: 'g_lunch',
      userIds: ['dave', 'erin'],
    }),
    response(
      'members-add-response',
      'Only dave was added (erin was a member already); the change is recorded as SYSTEM message 1043.',
      Command.MEMBERS_ADD,
      18,
      { changed: ['dave'], systemSeq: 1043 },
    ),
    request('members-remove-request', 'Remove a user.', Command.MEMBERS_REMOVE, 19, {
      conversationId: 'g_lunch',
      userIds: ['dave'],
    }),
    response('members-remove-response', 'dave was removed; SYSTEM message 1046.', Command.MEMBERS_REMOVE, 19, {
      changed: ['dave'],
      systemSeq: 1046,
    }),
    request('members-list-request', 'First page of members, 2 per page.', Command.MEMBERS_LIST, 20, {
      conversationId: 'g_lunch',
      limit: 2,
    }),
    response(
      'members-list-response',
      'Two members: the OWNER (3), and a MEMBER (1) muted from speaking for an hour; then the next-page cursor.',
      Command.MEMBERS_LIST,
      20,
      {
        members: [
          { userId: 'alice', role: MemberRole.OWNER, joinedAt: T0 - 30 * DAY },
          { userId: 'bob', role: MemberRole.MEMBER, joinedAt: T0 - 29 * DAY, speakMutedUntil: T0 + HOUR },
        ],
        nextCursor: 'carol',
      },
    ),
    request('conv-leave-request', 'The caller leaves a group.', Command.CONV_LEAVE, 21, { conversationId: 'g_old' }),
    response(
      'conv-leave-response',
      'OK: an EmptyResponse with status OK is an empty body.',
      Command.CONV_LEAVE,
      21,
      {},
    ),
    request('member-role-request', 'Make bob an ADMIN (2).', Command.MEMBER_ROLE, 22, {
      conversationId: 'g_lunch',
      userId: 'bob',
      role: MemberRole.ADMIN,
    }),
    response('member-role-response', 'OK.', Command.MEMBER_ROLE, 22, {}),
    request(
      'member-speak-mute-request',
      'An admin stops carol from speaking for one hour (until is a Unix time in ms; 0 would lift the mute).',
      Command.MEMBER_SPEAK_MUTE,
      23,
      { conversationId: 'g_lunch', userId: 'carol', until: T0 + HOUR },
    ),
    response('member-speak-mute-response', 'OK.', Command.MEMBER_SPEAK_MUTE, 23, {}),
    request(
      'conv-mute-request',
      "The caller mutes the conversation's notifications until unmuted (until 0 is omitted).",
      Command.CONV_MUTE,
      24,
      { conversationId: 'g_lunch', muted: true },
    ),
    response('conv-mute-response', 'OK.', Command.CONV_MUTE, 24, {}),
    push(
      'conversation-push',
      "A conversation changed outside the message stream: here the caller's role became ADMIN (2) and notifications are muted.",
      Command.CONVERSATION,
      {
        state: {
          conversation: lunch,
          unread: 3,
          readSeq: 1042,
          deliveredSeq: 1045,
          role: MemberRole.ADMIN,
          notificationsMuted: true,
          version: 65,
        },
      },
    ),

    // --- Chat rooms ---
    request(
      'room-join-request',
      'Join a token-gated chat room and get the 2 most recent messages.',
      Command.ROOM_JOIN,
      25,
      { roomId: 'r_launch', joinToken: 'eyJhbGciOiJIUzI1NiJ9.eyJyb29tIjoicl9sYXVuY2gifQ.cm9vbXNpZw', recentLimit: 2 },
    ),
    response(
      'room-join-response',
      'Online count, recent messages oldest first (conversation type ROOM, 3), room name.',
      Command.ROOM_JOIN,
      25,
      {
        onlineCount: 1532,
        recent: [
          {
            conversationId: 'r_launch',
            seq: 88_120,
            messageId: 'm_01KDX3W1R1',
            senderId: 'erin',
            senderDeviceId: 'web-77c1',
            clientMessageId: '01KDX3W0Q9E8W7Q6A5S4D3F2G1',
            serverTime: T0 + 6 * MINUTE,
            content: { type: MessageType.TEXT, text: 'T-minus 10!' },
            conversationType: ConversationType.ROOM,
          },
          {
            conversationId: 'r_launch',
            seq: 88_124,
            messageId: 'm_01KDX3W2S2',
            senderId: 'frank',
            senderDeviceId: 'ipad-2',
            clientMessageId: '01KDX3W1Z9X8C7V6B5N4M3L2K1',
            serverTime: T0 + 6 * MINUTE + 1500,
            content: { type: MessageType.TEXT, text: '🚀🚀🚀' },
            conversationType: ConversationType.ROOM,
          },
        ],
        name: 'Launch day',
      },
    ),
    request('room-leave-request', 'Leave the room.', Command.ROOM_LEAVE, 26, { roomId: 'r_launch' }),
    response('room-leave-response', 'OK.', Command.ROOM_LEAVE, 26, {}),
    push('room-info-push', "A room's online count changed.", Command.ROOM_INFO, {
      roomId: 'r_launch',
      onlineCount: 1533,
    }),

    // --- Presence ---
    request('presence-query-request', 'Presence of two users.', Command.PRESENCE_QUERY, 27, {
      userIds: ['bob', 'carol'],
    }),
    response(
      'presence-query-response',
      'bob is online on ANDROID (2) and WEB (3) (a packed repeated enum: field 4, length 2, bytes 02 03); carol is offline, last seen two hours ago.',
      Command.PRESENCE_QUERY,
      27,
      { users: [bobOnline, carolOffline] },
    ),
    request(
      'presence-subscribe-request',
      "Subscribe to bob's online/offline changes.",
      Command.PRESENCE_SUBSCRIBE,
      28,
      {
        userIds: ['bob'],
      },
    ),
    response(
      'presence-subscribe-response',
      'The current state of the subscribed users.',
      Command.PRESENCE_SUBSCRIBE,
      28,
      { users: [bobOnline] },
    ),
    push('presence-push', 'bob went offline (online = false is omitted).', Command.PRESENCE, {
      user: { userId: 'bob', lastSeen: T0 + 12 * MINUTE },
    }),
    {
      name: 'presence-push-unpacked',
      description:
        'Decode-only: bob online on ANDROID and WEB, with the repeated enum written unpacked (one tag per element: 20 02 20 03) as proto2-style encoders do. proto3 decoders must accept both forms; encoders write the packed form.',
      role: 'push',
      command: Command.PRESENCE,
      seq: 0,
      // PresencePush { user (1): PresenceStatus { user_id (1) "bob", online (2) true, platforms (4) 2, platforms (4) 3 } }
      bytes: rawFrame(Command.PRESENCE, 0, 0, hexBytes('0a0b 0a03626f62 1001 2002 2003')),
      body: { user: { userId: 'bob', online: true, platforms: [Platform.ANDROID, Platform.WEB] } },
      encodeExact: false,
    },

    // --- Push notifications ---
    request(
      'push-register-request',
      'Register this device for APNs (1), PRODUCTION (2) environment.',
      Command.PUSH_REGISTER,
      29,
      {
        provider: pb.PushProvider.APNS,
        token: '5f2b7c1d9e8a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c',
        topic: 'com.example.parley',
        apnsEnvironment: pb.ApnsEnvironment.PRODUCTION,
        locale: 'en-GB',
      },
    ),
    response('push-register-response', 'OK.', Command.PUSH_REGISTER, 29, {}),
    request(
      'push-settings-request',
      'Hide message previews; do not disturb from 22:00 (1320) to 07:00 (420) Berlin time, a window across midnight.',
      Command.PUSH_SETTINGS,
      30,
      { hidePreview: true, dndEnabled: true, dndStartMinute: 1320, dndEndMinute: 420, timeZone: 'Europe/Berlin' },
    ),
    response('push-settings-response', 'OK.', Command.PUSH_SETTINGS, 30, {}),
    request(
      'push-unregister-request',
      "Remove this device's push registration: an empty message, header only.",
      Command.PUSH_UNREGISTER,
      31,
      {},
    ),
    response('push-unregister-response', 'OK.', Command.PUSH_UNREGISTER, 31, {}),
    request('logout-request', 'End the session and also remove the push registration.', Command.LOGOUT, 32, {
      unregisterPush: true,
    }),
    response('logout-response', 'OK; the server then closes the connection.', Command.LOGOUT, 32, {}),

    // --- Errors answered as responses (the connection stays) ---
    response(
      'error-response-rate-limited',
      'A SEND refused with RATE_LIMITED (4001): retry after 1500 ms. An error response carries only the status.',
      Command.SEND,
      33,
      { status: { code: ErrorCode.RATE_LIMITED, message: 'more than 10 sends per second', retryAfterMs: 1500 } },
    ),
    {
      name: 'error-response-unknown-command',
      description:
        'The answer to a request with command 0x7777, which version 1 does not define: a ResponseHead with UNKNOWN_COMMAND (1007) under the same command number and seq. Read it as ResponseHead (every response body starts with Status status = 1).',
      role: 'response',
      command: 0x7777,
      seq: 34,
      body: { status: { code: ErrorCode.UNKNOWN_COMMAND, message: 'no request body is defined for command 0x7777' } },
    },

    // --- Transport-level cases ---
    {
      ...response(
        'history-response-compressed',
        'A response whose body is raw DEFLATE (RFC 1951, no zlib/gzip wrapper): flags 0x03 = RESPONSE | COMPRESSED. Decode-only: other DEFLATE implementations and levels write other bytes; inflate, then decode as HistoryResponse.',
        Command.HISTORY,
        35,
        { messages: compressiblePage, hasMore: true },
      ),
      codec: compressingCodec,
      encodeExact: false,
    },
    {
      name: 'login-request-unknown-field',
      description:
        'Decode-only: a LoginRequest with an extra field 100 (string "future") that this version does not know. Receivers skip unknown fields (proto3), so it decodes as if the field were absent.',
      role: 'request',
      command: Command.LOGIN,
      seq: 1,
      // device_id (2) "ipad-9", platform (3) IOS, field 100 wire type 2 (tag a2 06) "future"
      bytes: rawFrame(Command.LOGIN, 1, 0, hexBytes('1206697061642d39 1801 a20606667574757265')),
      body: { deviceId: 'ipad-9', platform: Platform.IOS },
      encodeExact: false,
    },
    {
      name: 'sticky-send-response-and-message-push',
      description:
        'Two frames in one chunk (one TCP read): the ack of a SEND followed by a MESSAGE push. A stream decoder must deliver both, in order.',
      frames: [
        response('send-response', 'The ack.', Command.SEND, 36, {
          messageId: 'm_01KDX3S0F2',
          seq: 1044,
          serverTime: T0 + 2 * MINUTE,
        }),
        push('message-push', 'A message from bob.', Command.MESSAGE, { message: msg1044, conversationVersion: 60 }),
      ],
    },
  ];
}

function errorDefs(): ErrorDef[] {
  const enc = new TextEncoder();
  // A real-looking TLS 1.3 ClientHello start: record header (16 03 01, length), handshake
  // header (01, length), legacy version 03 03, then the 32-byte random (fixed here).
  const clientHello = concat(
    hexBytes('160301 00f8 01 0000f4 0303'),
    Uint8Array.from({ length: 32 }, (_, i) => i),
  );
  const ping = hexBytes('504c 01 00 0003 00000002 00000000');
  const versionTwo = Uint8Array.from(ping);
  versionTwo[2] = 2;
  const reservedFlag = Uint8Array.from(ping);
  reservedFlag[3] = 0x80;
  const compressed = compressingCodec.response(Command.HISTORY, 35, { messages: compressiblePage, hasMore: true });
  const compressedBody = compressed.subarray(HEADER_SIZE);
  return [
    {
      name: 'http-request-on-tcp',
      description:
        'An HTTP request on the TCP port (a browser or curl). Refused at the first byte: "G" (0x47) is not 0x50. A stream decoder may refuse before all the bytes have arrived.',
      bytes: enc.encode('GET /ws HTTP/1.1\r\nHost: chat.example.com:7100\r\nUpgrade: websocket\r\n\r\n'),
      error: ErrorCode.BAD_MAGIC,
      stage: 'frame',
    },
    {
      name: 'http-post-on-tcp',
      description:
        'An HTTP POST: its first byte "P" is the first magic byte, so it is refused at the second byte ("O" is not "L").',
      bytes: enc.encode('POST /v1/messages HTTP/1.1\r\nHost: chat.example.com:7100\r\nContent-Length: 0\r\n\r\n'),
      error: ErrorCode.BAD_MAGIC,
      stage: 'frame',
    },
    {
      name: 'tls-client-hello-on-plain-port',
      description:
        'The start of a TLS ClientHello on the plain TCP port: a TLS record starts with 0x16 (handshake), refused at the first byte.',
      bytes: clientHello,
      error: ErrorCode.BAD_MAGIC,
      stage: 'frame',
    },
    {
      name: 'unsupported-version-2',
      description: 'A ping with header version 2: refused at the third byte.',
      bytes: versionTwo,
      error: ErrorCode.UNSUPPORTED_VERSION,
      stage: 'frame',
    },
    {
      name: 'reserved-flag-0x80',
      description: 'A ping with reserved flag bit 7 set (flags 0x80): refused at the fourth byte.',
      bytes: reservedFlag,
      error: ErrorCode.BAD_FLAGS,
      stage: 'frame',
    },
    {
      name: 'body-length-2gib',
      description:
        'A SEND header announcing a 2 GiB body (0x80000000), above the default maximum of 1 MiB: refused as soon as the 14-byte header is complete, before any body byte is buffered.',
      bytes: hexBytes('504c 01 00 0101 00000007 80000000'),
      error: ErrorCode.FRAME_TOO_LARGE,
      stage: 'frame',
      maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
    },
    {
      name: 'bad-body-truncated-varint',
      description:
        'A well-formed LOGIN request frame whose body ends inside a varint: field 5 (heartbeat_interval_ms, tag 28) = 30000 is b0 ea 01, cut after b0 ea.',
      bytes: rawFrame(Command.LOGIN, 1, 0, hexBytes('28 b0ea')),
      error: ErrorCode.BAD_BODY,
      stage: 'body',
      role: 'request',
    },
    {
      name: 'bad-body-length-past-end',
      description:
        'A SEND request whose body announces a 16-byte conversation_id (tag 0a, length 10) but carries only 3 bytes.',
      bytes: rawFrame(Command.SEND, 4, 0, hexBytes('0a10 675f6c')),
      error: ErrorCode.BAD_BODY,
      stage: 'body',
      role: 'request',
    },
    {
      name: 'bad-body-wrong-wire-type-past-end',
      description:
        'A LOGIN request whose field 5 (heartbeat_interval_ms, a varint) arrives with wire type 2 (tag 2a) and a length of 10 running past the end. A decoder that skips a wrong-wire-type field as unknown still fails, as the field overruns the body.',
      bytes: rawFrame(Command.LOGIN, 1, 0, hexBytes('2a0a 0102')),
      error: ErrorCode.BAD_BODY,
      stage: 'body',
      role: 'request',
    },
    {
      name: 'decompress-corrupt',
      description:
        'A SEND request flagged COMPRESSED (0x01) whose body is not DEFLATE: the first block header (byte ff: BFINAL 1, BTYPE 11) uses the reserved block type.',
      bytes: rawFrame(Command.SEND, 4, Flags.COMPRESSED, hexBytes('ffffffff')),
      error: ErrorCode.DECOMPRESS_FAILED,
      stage: 'body',
      role: 'request',
    },
    {
      name: 'decompress-truncated',
      description:
        'The compressed body of history-response-compressed cut to its first half (and the header length adjusted): the DEFLATE stream ends early.',
      bytes: rawFrame(
        Command.HISTORY,
        35,
        Flags.RESPONSE | Flags.COMPRESSED,
        compressedBody.subarray(0, compressedBody.length >> 1),
      ),
      error: ErrorCode.DECOMPRESS_FAILED,
      stage: 'body',
      role: 'response',
    },
    {
      name: 'decompress-past-maximum',
      description:
        'A SEND request whose 1 KiB compressed body inflates to 1 MiB + 1 bytes (zeros), past the default maximum of 1 MiB that applies to the inflated size too (a "deflate bomb"). Stop inflating at the maximum.',
      bytes: rawFrame(Command.SEND, 4, Flags.COMPRESSED, deflateBody(new Uint8Array(DEFAULT_MAX_BODY_BYTES + 1), 9)),
      error: ErrorCode.DECOMPRESS_FAILED,
      stage: 'body',
      role: 'request',
      maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
    },
  ];
}

// ---------------------------------------------------------------------------
// Building and checking
// ---------------------------------------------------------------------------

const FORMAT =
  'Each frame is a 14-byte big-endian header, then `length` body bytes. Header: magic u16 = 0x504c ("PL"), version u8 = 1, ' +
  'flags u8 (bit 0 COMPRESSED: the body is raw DEFLATE, RFC 1951; bit 1 RESPONSE; bits 2-7 reserved, must be 0), ' +
  'command u16, seq u32, length u32. The body is a proto3 message of package parley.v1 (proto/parley.proto) chosen by ' +
  'command and role: RESPONSE flag set = response; otherwise a request if sent by the client, a push if sent by the server.';

const NOTES = [
  'hex: the bytes exactly as Parley writes them. Re-encoding `body` as `bodyType` must give the same bytes unless the vector has "encodeExact": false (decode-only).',
  'body: the decoded message with the protobuf JSON mapping\'s lowerCamelCase field names. Fields at their default value (0, "", false, empty list, absent message) are omitted, as proto3 does not send them; proto3 `optional` fields that are present appear even when they hold the default.',
  'A response without `status` is OK: status { code: OK } is the default and is not sent.',
  '64-bit integer fields (conversation seqs, versions, Unix times in milliseconds, sizes) are JSON numbers; every value is below 2^53.',
  'Enum fields are their numeric values, as declared in parley.proto (e.g. platform 1 = IOS).',
  '"frames": several frames in one chunk; a stream decoder must deliver all of them, in order, from one read.',
  'Error vectors: the bytes must be refused with `error` (`errorCode`). stage "frame": the header is refused, with the default maximum body length of 1 MiB; a stream decoder may refuse as soon as the offending byte arrives. stage "body": the frame itself is well-formed, but its body cannot be inflated or decoded as the message for (command, role).',
];

const pbNames = new Map<unknown, string>(Object.entries(pb).map(([name, value]) => [value, name]));

function bodyTypeName(command: number, role: Role): string {
  const type = messageTypeFor(command, role) ?? (role === 'response' ? pb.ResponseHead : undefined);
  const name = pbNames.get(type);
  assert.ok(name !== undefined, `no body type for command ${String(command)} as ${role}`);
  return name;
}

function encode(def: FrameDef): Uint8Array {
  const codec = def.codec ?? plainCodec;
  switch (def.role) {
    case 'request':
      return codec.request(def.command as CommandWith<'request'>, def.seq, def.body);
    case 'response':
      if (messageTypeFor(def.command, 'response') === undefined) {
        return codec.errorResponse(def.command, def.seq, (def.body as { status: StatusInput }).status);
      }
      return codec.response(def.command as CommandWith<'response'>, def.seq, def.body);
    case 'push':
      return codec.push(def.command as CommandWith<'push'>, def.body, def.seq);
  }
}

function decodeFrames(bytes: Uint8Array): Frame[] {
  const frames: Frame[] = [];
  const decoder = new FrameDecoder();
  decoder.push(bytes, (frame) => frames.push(frame));
  assert.equal(decoder.bufferedBytes, 0, 'bytes left over after the last frame');
  return frames;
}

function decodeBody(frame: Frame, role: Role): unknown {
  if (role === 'response' && messageTypeFor(frame.command, 'response') === undefined) {
    return { status: plainCodec.responseStatus(frame) };
  }
  return plainCodec.decode(frame, role);
}

/**
 * A decoded message as plain JSON: own enumerable fields only (the generated classes keep
 * defaults on the prototype and delete fields decoded at their default), empty repeated
 * fields dropped, 64-bit values as numbers. The generated code returns 64-bit fields as
 * Long objects when the `long` package is loaded, hence the conversion.
 */
function toJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toJson);
  if (value instanceof Uint8Array) throw new Error('bytes fields have no JSON form in these vectors');
  if (isLong(value)) {
    const n = value.toNumber();
    assert.ok(Number.isSafeInteger(n), `64-bit value ${String(n)} is above 2^53`);
    return n;
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(value)) {
      if (Array.isArray(field) && field.length === 0) continue;
      out[key] = toJson(field);
    }
    return out;
  }
  return value;
}

interface LongLike {
  low: number;
  high: number;
  unsigned: boolean;
  toNumber(): number;
}

function isLong(value: unknown): value is LongLike {
  return (
    value !== null &&
    typeof value === 'object' &&
    'low' in value &&
    'high' in value &&
    'unsigned' in value &&
    typeof (value as { toNumber?: unknown }).toNumber === 'function'
  );
}

/** Drops undefined fields (spread leftovers) so definitions compare as JSON would. */
function clean(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}

function frameFields(def: FrameDef, frame: Frame): FrameFields {
  assert.equal(frame.command, def.command, `${def.name}: command`);
  assert.equal(frame.seq, def.seq, `${def.name}: seq`);
  const isResponse = (frame.flags & Flags.RESPONSE) !== 0;
  assert.equal(isResponse, def.role === 'response', `${def.name}: RESPONSE flag against role ${def.role}`);
  const body = clean(def.body) as Record<string, unknown>;
  // The frame must decode to exactly the body written in the definition: a field there at
  // its default (which the encoder leaves out) or a typo would show up here.
  assert.deepStrictEqual(toJson(decodeBody(frame, def.role)), body, `${def.name}: decoded body`);
  return {
    role: def.role,
    command: commandName(frame.command) ?? null,
    commandValue: frame.command,
    seq: frame.seq,
    flags: frame.flags,
    bodyType: bodyTypeName(frame.command, def.role),
    body,
  };
}

function buildFrame(def: FrameDef): { bytes: Uint8Array; fields: FrameFields } {
  const encoded = encode(def);
  const bytes = def.bytes ?? encoded;
  if (def.encodeExact !== false) {
    assert.equal(def.bytes, undefined, `${def.name}: given bytes must be decode-only`);
  } else if (def.bytes !== undefined) {
    assert.notEqual(toHex(bytes), toHex(encoded), `${def.name}: decode-only bytes equal the encoding`);
  }
  const frames = decodeFrames(bytes);
  assert.equal(frames.length, 1, `${def.name}: one frame`);
  const frame = frames[0] as Frame;
  if (def.codec !== undefined) assert.ok((frame.flags & Flags.COMPRESSED) !== 0, `${def.name}: not compressed`);
  return { bytes, fields: frameFields(def, frame) };
}

function buildFrameVector(def: FrameDef): FrameVector {
  const { bytes, fields } = buildFrame(def);
  const { body, bodyType, ...header } = fields;
  return {
    name: def.name,
    description: def.description,
    hex: toHex(bytes),
    ...header,
    ...(def.encodeExact === false ? { encodeExact: false as const } : {}),
    bodyType,
    body,
  };
}

function buildStickyVector(def: StickyDef): StickyVector {
  const built = def.frames.map(buildFrame);
  const chunk = concat(...built.map((b) => b.bytes));
  const frames = decodeFrames(chunk);
  assert.equal(frames.length, def.frames.length, `${def.name}: frame count`);
  return {
    name: def.name,
    description: def.description,
    hex: toHex(chunk),
    frames: def.frames.map((frameDef, i) => ({
      hex: toHex((built[i] as { bytes: Uint8Array }).bytes),
      ...frameFields(frameDef, frames[i] as Frame),
    })),
  };
}

function expectError(name: string, code: ErrorCode, run: () => void): void {
  assert.throws(
    run,
    (err: unknown) => err instanceof ProtocolError && err.code === code,
    `${name}: expected ProtocolError ${errorCodeName(code)}`,
  );
}

function buildErrorVector(def: ErrorDef): ErrorVector {
  const vector: ErrorVector = {
    name: def.name,
    description: def.description,
    hex: toHex(def.bytes),
    error: errorCodeName(def.error),
    errorCode: def.error,
    stage: def.stage,
  };
  if (def.stage === 'frame') {
    expectError(def.name, def.error, () => decodeFrames(def.bytes));
  } else {
    const role = def.role;
    assert.ok(role !== undefined, `${def.name}: body-stage vectors need a role`);
    const frames = decodeFrames(def.bytes);
    assert.equal(frames.length, 1, `${def.name}: one frame`);
    const frame = frames[0] as Frame;
    expectError(def.name, def.error, () => plainCodec.decode(frame, role));
    Object.assign(vector, {
      role,
      command: commandName(frame.command) ?? null,
      commandValue: frame.command,
      seq: frame.seq,
      flags: frame.flags,
    });
  }
  if (def.maxBodyBytes !== undefined) vector.maxBodyBytes = def.maxBodyBytes;
  return vector;
}

/** Builds (and checks) every vector. Deterministic: the same output on every run. */
export function buildVectors(): VectorFile {
  const vectors: Vector[] = [
    ...frameDefs().map((def) => ('frames' in def ? buildStickyVector(def) : buildFrameVector(def))),
    ...errorDefs().map(buildErrorVector),
  ];
  const names = new Set(vectors.map((v) => v.name));
  assert.equal(names.size, vectors.length, 'vector names must be unique');
  return { format: FORMAT, notes: NOTES, vectors };
}

/** The text of frames.json. */
export function renderVectors(): string {
  return `${JSON.stringify(buildVectors(), null, 2)}\n`;
}

/** Where the committed vectors live. */
export const VECTORS_FILE = fileURLToPath(new URL('../test-vectors/frames.json', import.meta.url));

const runDirectly = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (runDirectly) {
  const text = renderVectors();
  writeFileSync(VECTORS_FILE, text);
  const count = (JSON.parse(text) as VectorFile).vectors.length;
  console.log(`wrote ${String(count)} vectors to ${VECTORS_FILE}`);
}
