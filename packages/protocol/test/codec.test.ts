import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Command,
  type CommandWith,
  DEFAULT_MAX_BODY_BYTES,
  ErrorCode,
  Flags,
  type Frame,
  FrameCodec,
  FrameDecoder,
  HEADER_SIZE,
  MAX_SEQ,
  ParleyError,
  ProtocolError,
  type Role,
  commandName,
  decodeMessageFrame,
  deflateBody,
  inflateBody,
  pb,
  roleOf,
  schema,
} from '@parley/protocol';

// ---------------------------------------------------------------------------
// One representative message per body type. Every field gets a non-default value so it
// really travels on the wire; 64-bit fields go past 2^32.
// ---------------------------------------------------------------------------

const samples = new Map<unknown, Record<string, unknown>>();
function sample<P extends object>(type: { encode(message: P): unknown }, value: NoInfer<P>): void {
  samples.set(type, value as Record<string, unknown>);
}

const T = 1_700_000_000_123; // a timestamp in ms
const BIG = 2 ** 40 + 5; // a uint64 past 32 bits
const ok = (message: string) => ({ code: ErrorCode.OK, message });

const attachment: pb.Attachment.$Properties = {
  url: 'https://cdn.example/a.png',
  mimeType: 'image/png',
  size: BIG,
  name: 'a.png',
  width: 640,
  height: 480,
  durationMs: 1500,
  thumbnailUrl: 'https://cdn.example/a.thumb.png',
};
const message: pb.Message.$Properties = {
  conversationId: 'g:team',
  seq: BIG,
  messageId: 'm-1',
  senderId: 'alice',
  senderDeviceId: 'dev-1',
  clientMessageId: 'c-1',
  serverTime: T,
  content: {
    type: pb.MessageType.TEXT,
    text: 'héllo 👋 世界',
    custom: '{"k":1}',
    attachments: [attachment, { url: 'u2' }],
    mentions: ['bob', '@all'],
    system: {
      type: pb.SystemEventType.ROLE_CHANGED,
      actor: 'root',
      users: ['bob'],
      role: pb.MemberRole.ADMIN,
      text: 'n',
    },
    recallTargetSeq: 41,
  },
  recalled: true,
  conversationType: pb.ConversationType.GROUP,
};
const conversation: pb.Conversation.$Properties = {
  conversationId: 'g:team',
  type: pb.ConversationType.GROUP,
  name: 'Team',
  attributes: '{"color":"red"}',
  ownerId: 'alice',
  memberCount: 12,
  lastSeq: BIG,
  createdAt: T - 1000,
  updatedAt: T,
};
const state: pb.ConversationState.$Properties = {
  conversation,
  lastMessage: message,
  unread: 3,
  readSeq: 40,
  deliveredSeq: 41,
  role: pb.MemberRole.OWNER,
  notificationsMuted: true,
  mutedUntil: T + 1000,
  removed: true,
  version: BIG + 1,
  mentionUnread: 1,
};
const presence: pb.PresenceStatus.$Properties = {
  userId: 'bob',
  online: true,
  lastSeen: T,
  platforms: [pb.Platform.IOS, pb.Platform.WEB],
};

sample(pb.Empty, {});
sample(pb.EmptyResponse, { status: { code: ErrorCode.RATE_LIMITED, message: 'slow down', retryAfterMs: 250 } });
sample(pb.LoginRequest, {
  token: 'eyJhbGciOi.x.y',
  deviceId: 'dev-1',
  platform: pb.Platform.ANDROID,
  clientVersion: 'parley-js/0.1.0',
  heartbeatIntervalMs: 30_000,
  appState: pb.AppState.BACKGROUND,
  resume: { conversationVersion: BIG, previousSessionId: 's-0' },
  locale: 'de-DE',
});
sample(pb.LoginResponse, {
  status: ok('welcome'),
  userId: 'alice',
  sessionId: 's-1',
  serverTime: T,
  limits: {
    maxFrameBytes: 1 << 20,
    maxMessageBytes: 64 << 10,
    sendsPerSecond: 20,
    requestsPerSecond: 50,
    minHeartbeatIntervalMs: 5000,
    maxHeartbeatIntervalMs: 300_000,
    recallWindowMs: 120_000,
  },
  heartbeatIntervalMs: 25_000,
  conversationVersion: BIG,
});
sample(pb.LogoutRequest, { unregisterPush: true });
sample(pb.SessionUpdateRequest, { heartbeatIntervalMs: 0, appState: pb.AppState.FOREGROUND }); // 0 is explicit here
sample(pb.SessionUpdateResponse, { status: ok('updated'), heartbeatIntervalMs: 60_000 });
sample(pb.ProbeRequest, { delayMs: 1_800_000 });
sample(pb.ProbeResponse, { status: ok('answered'), delayedMs: 1_800_004 });
sample(pb.Kick, { reason: ErrorCode.REPLACED_BY_DEVICE, message: 'logged in elsewhere' });
sample(pb.GoAway, {
  reason: ErrorCode.SHUTTING_DOWN,
  reconnectDelayMs: 2000,
  endpoints: ['tcp://10.0.0.2:7100', 'wss://b.example/ws'],
  message: 'draining',
});
sample(pb.SendMessageRequest, {
  conversationId: 'g:team',
  clientMessageId: 'c-1',
  content: message.content ?? null,
  transient: true,
});
sample(pb.SendMessageResponse, { status: ok('sent'), messageId: 'm-1', seq: BIG, serverTime: T, duplicate: true });
sample(pb.MessagePush, { message, conversationVersion: BIG + 2 });
sample(pb.SyncHint, { reason: pb.SyncHintReason.BUS_RECOVERED });
sample(pb.RecallMessageRequest, { conversationId: 'g:team', seq: 40 });
sample(pb.RecallMessageResponse, { status: ok('recalled'), recallSeq: 43 });
sample(pb.CursorUpdateRequest, { conversationId: 'g:team', kind: pb.CursorKind.READ, seq: 42 });
sample(pb.CursorUpdateResponse, { status: ok('moved'), seq: 42, unread: 7 });
sample(pb.CursorPush, {
  conversationId: 'g:team',
  userId: 'bob',
  kind: pb.CursorKind.DELIVERED,
  seq: 42,
  conversationVersion: BIG,
});
sample(pb.TypingRequest, { conversationId: 'd:alice:bob', typing: true });
sample(pb.TypingPush, { conversationId: 'd:alice:bob', userId: 'bob', typing: true });
sample(pb.SyncConversationsRequest, { sinceVersion: BIG, limit: 100 });
sample(pb.SyncConversationsResponse, {
  status: ok('page'),
  conversations: [state, { unread: 1 }],
  version: BIG + 3,
  hasMore: true,
});
sample(pb.SyncMessagesRequest, { conversationId: 'g:team', fromSeq: 1, toSeq: BIG, limit: 50 });
sample(pb.SyncMessagesResponse, { status: ok('page'), messages: [message, { seq: 2 }], hasMore: true, lastSeq: BIG });
sample(pb.HistoryRequest, { conversationId: 'g:team', beforeSeq: 100, limit: 20 });
sample(pb.HistoryResponse, { status: ok('page'), messages: [message], hasMore: true });
sample(pb.CreateConversationRequest, {
  type: pb.ConversationType.DIRECT,
  memberIds: ['bob'],
  name: 'Bob',
  attributes: '{}',
});
sample(pb.ConversationResponse, { status: ok('created'), state, created: true });
sample(pb.GetConversationRequest, { conversationId: 'g:team' });
sample(pb.ListConversationsRequest, { cursor: 'opaque==', limit: 30 });
sample(pb.ListConversationsResponse, { status: ok('page'), conversations: [state], nextCursor: 'next==' });
sample(pb.UpdateConversationRequest, { conversationId: 'g:team', name: '', attributes: '{"x":2}' }); // '' is explicit here
sample(pb.ListMembersRequest, { conversationId: 'g:team', cursor: 'c', limit: 200 });
sample(pb.ListMembersResponse, {
  status: ok('page'),
  members: [{ userId: 'bob', role: pb.MemberRole.MEMBER, joinedAt: T, speakMutedUntil: T + 60_000 }],
  nextCursor: 'n',
});
sample(pb.MembersChangeRequest, { conversationId: 'g:team', userIds: ['carol', 'dave'] });
sample(pb.MembersChangeResponse, { status: ok('changed'), changed: ['carol'], systemSeq: 44 });
sample(pb.LeaveConversationRequest, { conversationId: 'g:team' });
sample(pb.SetMemberRoleRequest, { conversationId: 'g:team', userId: 'bob', role: pb.MemberRole.ADMIN });
sample(pb.SpeakMuteRequest, { conversationId: 'g:team', userId: 'bob', until: T + 3_600_000 });
sample(pb.MuteConversationRequest, { conversationId: 'g:team', muted: true, until: T });
sample(pb.ConversationPush, { state });
sample(pb.JoinRoomRequest, { roomId: 'r:lobby', joinToken: 'tok', recentLimit: 10 });
sample(pb.JoinRoomResponse, { status: ok('joined'), onlineCount: 1234, recent: [message], name: 'Lobby' });
sample(pb.LeaveRoomRequest, { roomId: 'r:lobby' });
sample(pb.RoomInfoPush, { roomId: 'r:lobby', onlineCount: 1300 });
sample(pb.PresenceQueryRequest, { userIds: ['bob', 'carol'] });
sample(pb.PresenceQueryResponse, { status: ok('here'), users: [presence, { userId: 'carol' }] });
sample(pb.PresenceSubscribeRequest, { userIds: ['bob'], unsubscribe: true });
sample(pb.PresenceSubscribeResponse, { status: ok('subscribed'), users: [presence] });
sample(pb.PresencePush, { user: presence });
sample(pb.RegisterPushRequest, {
  provider: pb.PushProvider.APNS,
  token: 'a1b2c3',
  webPushSubscription: '{"endpoint":"https://push.example"}',
  topic: 'com.example.app',
  apnsEnvironment: pb.ApnsEnvironment.SANDBOX,
  locale: 'fr-FR',
});
sample(pb.UnregisterPushRequest, {});
sample(pb.PushSettingsRequest, {
  hidePreview: true,
  dndEnabled: true,
  dndStartMinute: 22 * 60,
  dndEndMinute: 7 * 60,
  timeZone: 'Europe/Berlin',
});

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/** The decoded value restricted to the fields (recursively) that `expected` sets, as plain data. */
function project(actual: unknown, expected: unknown): unknown {
  if (Array.isArray(expected)) {
    return Array.isArray(actual) ? actual.map((a, i): unknown => project(a, expected[i])) : actual;
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object') return actual;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(expected)) {
      out[key] = project((actual as Record<string, unknown>)[key], value);
    }
    return out;
  }
  return actual;
}

function assertFields(actual: unknown, expected: unknown, label: string): void {
  assert.deepStrictEqual(project(actual, expected), expected, label);
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return assert.fail('expected an error');
}

function assertProtocolError(fn: () => unknown, code: ErrorCode): ProtocolError {
  const err = catchError(fn);
  assert.ok(err instanceof ProtocolError, `expected ProtocolError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  return err;
}

function assertParleyError(fn: () => unknown, code: ErrorCode): ParleyError {
  const err = catchError(fn);
  assert.ok(err instanceof ParleyError, `expected ParleyError, got ${String(err)}`);
  assert.ok(!(err instanceof ProtocolError), 'a local misuse is not a ProtocolError');
  assert.equal(err.name, 'ParleyError');
  assert.equal(err.code, code, err.message);
  return err;
}

/** Encodes (command, role) through the typed API; the casts stand for "any command with that role". */
function encodeAs(codec: FrameCodec, command: number, role: Role, seq: number, body: unknown): Uint8Array {
  switch (role) {
    case 'request':
      return codec.request(command as CommandWith<'request'>, seq, body as never);
    case 'response':
      return codec.response(command as CommandWith<'response'>, seq, body as never);
    case 'push':
      return codec.push(command as CommandWith<'push'>, body as never, seq);
  }
}

function decodeAs(codec: FrameCodec, command: number, role: Role, frame: Frame): unknown {
  switch (role) {
    case 'request':
      return codec.decodeRequest(command as CommandWith<'request'>, frame);
    case 'response':
      return codec.decodeResponse(command as CommandWith<'response'>, frame);
    case 'push':
      return codec.decodePush(command as CommandWith<'push'>, frame);
  }
}

const ROLES: readonly Role[] = ['request', 'response', 'push'];
const SENDER = { request: 'client', response: 'server', push: 'server' } as const;

function decodeStream(wire: Uint8Array): Frame[] {
  const frames: Frame[] = [];
  new FrameDecoder().push(wire, (f) => frames.push(f));
  return frames;
}

/** A plain Uint8Array copy (encoders may hand out Node Buffers, which deepStrictEqual tells apart). */
function u8(b: Uint8Array): Uint8Array {
  return Uint8Array.from(b);
}

function text(n: number): string {
  return 'x'.repeat(n);
}

function noise(n: number, seed = 1): string {
  // Printable but incompressible enough that DEFLATE does not shrink it.
  let s = seed;
  let out = '';
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out += String.fromCharCode(33 + ((s >>> 16) % 94));
  }
  return out;
}

// ---------------------------------------------------------------------------

describe('FrameCodec: every command round-trips', () => {
  const codec = new FrameCodec();
  const entries = Object.entries(schema);

  test('the schema covers every command and every body type has a sample', () => {
    assert.deepEqual(
      entries.map(([c]) => Number(c)).sort((a, b) => a - b),
      Object.values(Command).sort((a, b) => a - b),
    );
    for (const [c, parts] of entries) {
      const roles = ROLES.filter((r) => r in parts);
      assert.ok(roles.length > 0, `command ${c} has no body at all`);
      for (const r of roles) {
        assert.ok(
          samples.has((parts as Record<string, unknown>)[r]),
          `no sample for ${String(commandName(Number(c)))} ${r}`,
        );
      }
    }
  });

  for (const [key, parts] of entries) {
    const command = Number(key);
    const name = commandName(command) ?? key;
    for (const role of ROLES) {
      const type = (parts as Partial<Record<Role, unknown>>)[role];
      if (type === undefined) {
        test(`${name}: no ${role} body, so encoding refuses and decoding is UNKNOWN_COMMAND`, () => {
          assertParleyError(() => encodeAs(codec, command, role, 1, {}), ErrorCode.INVALID_ARGUMENT);
          const frame: Frame = {
            command,
            seq: 1,
            flags: role === 'response' ? Flags.RESPONSE : 0,
            body: new Uint8Array(0),
          };
          assertProtocolError(() => decodeAs(codec, command, role, frame), ErrorCode.UNKNOWN_COMMAND);
          assertProtocolError(() => codec.decode(frame, role), ErrorCode.UNKNOWN_COMMAND);
        });
        continue;
      }
      test(`${name} ${role}`, () => {
        const body = samples.get(type);
        assert.ok(body, 'sample present');
        const seq = role === 'push' ? 0 : 0x8000_0001;
        const wire = encodeAs(codec, command, role, seq, body);

        // Through the WebSocket path and the stream path alike.
        const frame = decodeMessageFrame(wire);
        const [streamed, ...extra] = decodeStream(wire);
        assert.equal(extra.length, 0);
        assert.deepEqual(streamed, frame);
        assert.equal(frame.command, command);
        assert.equal(frame.seq, seq);
        assert.equal(frame.flags, role === 'response' ? Flags.RESPONSE : 0);
        assert.equal(wire.length, HEADER_SIZE + frame.body.length);
        if (Object.keys(body).length > 0) assert.ok(frame.body.length > 0, 'fields travel on the wire');
        assert.equal(roleOf(frame, SENDER[role]), role);

        const decoded = decodeAs(codec, command, role, frame);
        assertFields(decoded, body, `${name} ${role}`);
        assert.deepStrictEqual(decodeAs(codec, command, role, frame), decoded, 'decoding is repeatable');
        assertFields(codec.decode(frame, role, command), body, 'generic decode');
        assert.equal((decoded as { $unknowns?: unknown }).$unknowns, undefined, 'no unknown fields');

        if (role === 'response') {
          const status = codec.responseStatus(frame);
          assertFields(status, body.status ?? { code: ErrorCode.OK }, 'responseStatus');
        }
      });
    }
  }
});

describe('FrameCodec: responses and roles', () => {
  const codec = new FrameCodec();

  test('errorResponse for a command this side does not know decodes via responseStatus', () => {
    const wire = codec.errorResponse(0x7e57, 99, {
      code: ErrorCode.UNKNOWN_COMMAND,
      message: 'no such command',
      retryAfterMs: 10,
    });
    const frame = decodeMessageFrame(wire);
    assert.equal(frame.command, 0x7e57);
    assert.equal(frame.seq, 99);
    assert.equal(frame.flags, Flags.RESPONSE);
    assert.equal(roleOf(frame, 'server'), 'response');
    const status = codec.responseStatus(frame);
    assert.ok(status instanceof pb.Status);
    assertFields(status, { code: ErrorCode.UNKNOWN_COMMAND, message: 'no such command', retryAfterMs: 10 }, 'status');
    assertProtocolError(() => codec.decode(frame, 'response'), ErrorCode.UNKNOWN_COMMAND);
  });

  test('errorResponse for a known command decodes as that command’s response', () => {
    const wire = codec.errorResponse(Command.SEND, 5, { code: ErrorCode.NOT_MEMBER, message: 'not a member' });
    const decoded = codec.decodeResponse(Command.SEND, decodeMessageFrame(wire));
    assertFields(
      decoded,
      { status: { code: ErrorCode.NOT_MEMBER, message: 'not a member' }, messageId: '', seq: 0 },
      'SEND',
    );
  });

  test('responseStatus of a response without a status is OK', () => {
    const frame = decodeMessageFrame(codec.response(Command.PING, 3, {}));
    assert.equal(frame.body.length, 0);
    assert.equal(codec.responseStatus(frame).code, ErrorCode.OK);
    const noStatus = decodeMessageFrame(codec.response(Command.SEND, 4, { messageId: 'm' }));
    assert.equal(codec.responseStatus(noStatus).code, ErrorCode.OK);
  });

  test('unset 64-bit fields read as the number 0, like set ones read as numbers', () => {
    // Guards the `long` package: protobufjs would make these defaults Long objects.
    const resp = codec.decodeResponse(Command.SEND, decodeMessageFrame(codec.response(Command.SEND, 1, {})));
    assert.equal(resp.seq, 0);
    assert.equal(resp.serverTime, 0);
    assert.equal(resp.seq + 1, 1);
    const push = codec.decodePush(Command.MESSAGE, decodeMessageFrame(codec.push(Command.MESSAGE, { message: {} })));
    assert.equal(push.conversationVersion, 0);
    const inner = push.message;
    assert.ok(inner);
    assert.equal(inner.seq, 0);
    assert.equal(typeof inner.serverTime, 'number');
    const set = codec.decodeResponse(
      Command.SEND,
      decodeMessageFrame(codec.response(Command.SEND, 1, { seq: 2 ** 53 - 1, serverTime: -5 })),
    );
    assert.equal(set.seq, 2 ** 53 - 1);
    assert.equal(set.serverTime, -5);
  });

  test('roleOf: RESPONSE decides, else the sender does; COMPRESSED does not matter', () => {
    const f = (flags: number): Frame => ({ command: 1, seq: 1, flags, body: new Uint8Array(0) });
    assert.equal(roleOf(f(0), 'client'), 'request');
    assert.equal(roleOf(f(0), 'server'), 'push');
    assert.equal(roleOf(f(Flags.RESPONSE), 'client'), 'response');
    assert.equal(roleOf(f(Flags.RESPONSE), 'server'), 'response');
    assert.equal(roleOf(f(Flags.COMPRESSED), 'client'), 'request');
    assert.equal(roleOf(f(Flags.COMPRESSED), 'server'), 'push');
    assert.equal(roleOf(f(Flags.COMPRESSED | Flags.RESPONSE), 'server'), 'response');
  });
});

describe('FrameCodec: compression', () => {
  const plainLength = (body: pb.SendMessageRequest.$Properties) =>
    decodeMessageFrame(new FrameCodec().request(Command.SEND, 1, body)).body.length;

  test('compresses at compressAboveBytes, not one byte below, and decodes back', () => {
    const body = { conversationId: 'g:team', content: { text: text(4000) } };
    const n = plainLength(body);
    const at = new FrameCodec({ compressAboveBytes: n });
    const frame = decodeMessageFrame(at.request(Command.SEND, 1, body));
    assert.equal(frame.flags & Flags.COMPRESSED, Flags.COMPRESSED);
    assert.ok(frame.body.length < n / 10, `deflated to ${String(frame.body.length)} of ${String(n)}`);
    assert.equal(roleOf(frame, 'client'), 'request');
    assertFields(at.decodeRequest(Command.SEND, frame), body, 'compressed round-trip');
    // The other side decodes it with its own codec, compression settings irrelevant.
    assertFields(new FrameCodec().decodeRequest(Command.SEND, frame), body, 'peer decode');

    const below = new FrameCodec({ compressAboveBytes: n + 1 });
    const plain = decodeMessageFrame(below.request(Command.SEND, 1, body));
    assert.equal(plain.flags & Flags.COMPRESSED, 0);
    assert.equal(plain.body.length, n);
  });

  test('compresses responses and pushes too, keeping the RESPONSE flag', () => {
    const codec = new FrameCodec({ compressAboveBytes: 100 });
    const resp = decodeMessageFrame(
      codec.response(Command.HISTORY, 8, { messages: [{ content: { text: text(2000) } }] }),
    );
    assert.equal(resp.flags, Flags.RESPONSE | Flags.COMPRESSED);
    assert.equal(codec.decodeResponse(Command.HISTORY, resp).messages[0]?.content?.text, text(2000));
    const push = decodeMessageFrame(codec.push(Command.MESSAGE, { message: { content: { text: text(2000) } } }));
    assert.equal(push.flags, Flags.COMPRESSED);
    assert.equal(codec.decodePush(Command.MESSAGE, push).message?.content?.text, text(2000));
  });

  test('is skipped when it would not make the body smaller', () => {
    const codec = new FrameCodec({ compressAboveBytes: 0 });
    for (const n of [1, 5, 20, 40]) {
      const body = { conversationId: noise(n, n) };
      const plain = pb.SendMessageRequest.encode(body).finish();
      assert.ok(
        deflateBody(plain, codec.compressionLevel).length >= plain.length,
        'precondition: deflate does not help',
      );
      const frame = decodeMessageFrame(codec.request(Command.SEND, 1, body));
      assert.equal(frame.flags & Flags.COMPRESSED, 0);
      assert.equal(frame.body.length, plain.length);
    }
    // An empty body never "compresses" either.
    const empty = decodeMessageFrame(codec.request(Command.PING, 2, {}));
    assert.equal(empty.flags, 0);
    assert.equal(empty.body.length, 0);
  });

  test('is off by default', () => {
    const frame = decodeMessageFrame(new FrameCodec().request(Command.SEND, 1, { content: { text: text(100_000) } }));
    assert.equal(frame.flags & Flags.COMPRESSED, 0);
  });

  test('every compression level round-trips', () => {
    const body = { conversationId: 'c', content: { text: text(5000) + noise(500) } };
    for (let level = 0; level <= 9; level++) {
      const codec = new FrameCodec({ compressAboveBytes: 1, compressionLevel: level as 0 });
      assertFields(
        codec.decodeRequest(Command.SEND, decodeMessageFrame(codec.request(Command.SEND, 1, body))),
        body,
        `level ${String(level)}`,
      );
    }
  });
});

describe('FrameCodec: limits and arguments', () => {
  test('a body over maxBodyBytes is MESSAGE_TOO_LARGE; exactly the maximum is fine', () => {
    const body = { content: { text: text(200) } };
    const n = decodeMessageFrame(new FrameCodec().request(Command.SEND, 1, body)).body.length;
    assert.equal(new FrameCodec({ maxBodyBytes: n }).request(Command.SEND, 1, body).length, HEADER_SIZE + n);
    const err = assertParleyError(
      () => new FrameCodec({ maxBodyBytes: n - 1 }).request(Command.SEND, 1, body),
      ErrorCode.MESSAGE_TOO_LARGE,
    );
    assert.equal(err.codeName, 'MESSAGE_TOO_LARGE');
    assert.equal(new FrameCodec().maxBodyBytes, DEFAULT_MAX_BODY_BYTES);
    assertParleyError(
      () => new FrameCodec().push(Command.MESSAGE, { message: { content: { text: text(DEFAULT_MAX_BODY_BYTES) } } }),
      ErrorCode.MESSAGE_TOO_LARGE,
    );
  });

  test('a body that only fits once deflated is still MESSAGE_TOO_LARGE (the peer could not inflate it)', () => {
    const codec = new FrameCodec({ maxBodyBytes: 1000, compressAboveBytes: 100 });
    const body = { content: { text: text(5000) } };
    assertParleyError(() => codec.request(Command.SEND, 1, body), ErrorCode.MESSAGE_TOO_LARGE);
    // What such a frame would do to a receiver with the same limit:
    const deflated = deflateBody(pb.SendMessageRequest.encode(body).finish());
    assert.ok(deflated.length < 1000);
    const frame: Frame = { command: Command.SEND, seq: 1, flags: Flags.COMPRESSED, body: deflated };
    assertProtocolError(() => codec.decodeRequest(Command.SEND, frame), ErrorCode.DECOMPRESS_FAILED);
  });

  test('invalid seq is INVALID_ARGUMENT', () => {
    const codec = new FrameCodec();
    for (const seq of [-1, 1.5, MAX_SEQ + 1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assertParleyError(() => codec.request(Command.PING, seq, {}), ErrorCode.INVALID_ARGUMENT);
      assertParleyError(() => codec.response(Command.PING, seq, {}), ErrorCode.INVALID_ARGUMENT);
      assertParleyError(() => codec.push(Command.KICK, {}, seq), ErrorCode.INVALID_ARGUMENT);
      assertParleyError(
        () => codec.errorResponse(Command.PING, seq, { code: ErrorCode.INTERNAL }),
        ErrorCode.INVALID_ARGUMENT,
      );
    }
    assert.equal(decodeMessageFrame(codec.request(Command.PING, MAX_SEQ, {})).seq, MAX_SEQ);
    assert.equal(decodeMessageFrame(codec.request(Command.PING, 0, {})).seq, 0);
  });

  test('invalid or unknown command is INVALID_ARGUMENT', () => {
    const codec = new FrameCodec();
    for (const command of [-1, 0x10000, 1.5, Number.NaN]) {
      assertParleyError(
        () => codec.errorResponse(command, 1, { code: ErrorCode.INTERNAL }),
        ErrorCode.INVALID_ARGUMENT,
      );
    }
    assertParleyError(() => codec.request(0x7777 as CommandWith<'request'>, 1, {}), ErrorCode.INVALID_ARGUMENT);
    assert.equal(decodeMessageFrame(codec.errorResponse(0xffff, 1, { code: ErrorCode.INTERNAL })).command, 0xffff);
  });

  test('a message the generated encoder cannot write is INVALID_ARGUMENT with the cause, and the codec recovers', () => {
    const codec = new FrameCodec();
    const err = assertParleyError(
      () =>
        codec.request(Command.SEND, 1, { content: { attachments: [null as unknown as pb.Attachment.$Properties] } }),
      ErrorCode.INVALID_ARGUMENT,
    );
    assert.ok(err.cause instanceof Error);
    const body = { conversationId: 'after' };
    const wire = codec.request(Command.SEND, 2, body);
    assert.deepEqual(u8(wire.subarray(HEADER_SIZE)), u8(pb.SendMessageRequest.encode(body).finish()));
  });
});

describe('FrameCodec: bad input', () => {
  const codec = new FrameCodec();

  test('an undecodable body is BAD_BODY with the cause', () => {
    for (const body of [[0x0f], [0x0a, 0x05, 0x61], [0xff, 0xff], [0x12, 0x80]]) {
      const frame: Frame = { command: Command.SEND, seq: 1, flags: 0, body: Uint8Array.from(body) };
      const err = assertProtocolError(() => codec.decodeRequest(Command.SEND, frame), ErrorCode.BAD_BODY);
      assert.ok(err.cause instanceof Error);
      assert.equal(err.codeName, 'BAD_BODY');
    }
    const resp: Frame = { command: Command.SEND, seq: 1, flags: Flags.RESPONSE, body: Uint8Array.of(0x0a, 0x09) };
    assertProtocolError(() => codec.responseStatus(resp), ErrorCode.BAD_BODY);
  });

  test('wrong command or role is UNKNOWN_COMMAND', () => {
    const login = decodeMessageFrame(codec.request(Command.LOGIN, 1, { token: 't' }));
    assertProtocolError(() => codec.decodeRequest(Command.SEND, login), ErrorCode.UNKNOWN_COMMAND);
    assertProtocolError(() => codec.decode(login, 'push'), ErrorCode.UNKNOWN_COMMAND);
    assertProtocolError(() => codec.decode(login, 'request', Command.LOGOUT), ErrorCode.UNKNOWN_COMMAND);
    const unknown: Frame = { command: 0x9999, seq: 1, flags: 0, body: new Uint8Array(0) };
    assertProtocolError(() => codec.decode(unknown, 'request'), ErrorCode.UNKNOWN_COMMAND);
    assertProtocolError(
      () => codec.decodePush(Command.KICK, { ...login, command: Command.KICK, body: Uint8Array.of(0x0f) }),
      ErrorCode.BAD_BODY,
    );
  });

  test('a deflate bomb (5 MB of zeros) is DECOMPRESS_FAILED', () => {
    const bomb = deflateBody(new Uint8Array(5 * 1024 * 1024));
    assert.ok(bomb.length < 10_000);
    const frame: Frame = { command: Command.SEND, seq: 1, flags: Flags.COMPRESSED, body: bomb };
    const err = assertProtocolError(() => codec.decodeRequest(Command.SEND, frame), ErrorCode.DECOMPRESS_FAILED);
    assert.match(err.message, /maximum/);
    assertProtocolError(
      () => codec.responseStatus({ ...frame, flags: Flags.COMPRESSED | Flags.RESPONSE }),
      ErrorCode.DECOMPRESS_FAILED,
    );
    // Right at the limit it inflates; one byte over it does not.
    const exact = deflateBody(new Uint8Array(4096));
    assert.equal(inflateBody(exact, 4096).length, 4096);
    assertProtocolError(() => inflateBody(exact, 4095), ErrorCode.DECOMPRESS_FAILED);
  });

  test('a corrupt, truncated or empty compressed body is DECOMPRESS_FAILED', () => {
    const good = deflateBody(pb.SendMessageRequest.encode({ content: { text: noise(2000) } }).finish());
    const bodies = [
      Uint8Array.of(0xff, 0xff, 0xff, 0xff), // reserved block type
      good.subarray(0, good.length >> 1), // truncated
      new Uint8Array(0), // not even a final block
      Uint8Array.of(0x00), // stored block header cut short
    ];
    for (const body of bodies) {
      const frame: Frame = { command: Command.SEND, seq: 1, flags: Flags.COMPRESSED, body };
      const err = assertProtocolError(() => codec.decodeRequest(Command.SEND, frame), ErrorCode.DECOMPRESS_FAILED);
      assert.equal(err.codeName, 'DECOMPRESS_FAILED');
    }
    // Sanity: the untouched body does decode.
    const frame: Frame = { command: Command.SEND, seq: 1, flags: Flags.COMPRESSED, body: good };
    assert.equal(codec.decodeRequest(Command.SEND, frame).content?.text, noise(2000));
  });
});

describe('FrameCodec: the reused writer', () => {
  test('does not leak bytes between frames, whether it was kept or replaced', () => {
    const codec = new FrameCodec();
    const small = { conversationId: 'c', clientMessageId: 'k' };
    const smallBody = pb.SendMessageRequest.encode(small).finish();
    for (const bigSize of [10_000, 200_000]) {
      // 10 kB keeps the grown writer, 200 kB makes the codec drop it.
      const big = { conversationId: 'big', content: { text: noise(bigSize, bigSize) } };
      const bigWire = codec.request(Command.SEND, 1, big);
      const bigCopy = u8(bigWire);
      const smallWire = codec.request(Command.SEND, 2, small);
      assert.equal(smallWire.length, HEADER_SIZE + smallBody.length);
      assert.deepEqual(u8(smallWire.subarray(HEADER_SIZE)), u8(smallBody));
      const frame = decodeMessageFrame(smallWire);
      assert.equal(frame.seq, 2);
      assertFields(codec.decodeRequest(Command.SEND, frame), small, 'small after big');
      // Frames already returned are never overwritten by later encodes.
      assert.deepEqual(u8(bigWire), bigCopy);
      assertFields(codec.decodeRequest(Command.SEND, decodeMessageFrame(bigWire)), big, 'big still intact');
    }
  });

  test('frames are plain Uint8Arrays of exactly their size, not views into a shared pool', () => {
    const codec = new FrameCodec({ compressAboveBytes: 1000 });
    const frames = [
      codec.request(Command.PING, 1, {}),
      codec.request(Command.TYPING, 2, { conversationId: 'c', typing: true }),
      codec.push(Command.MESSAGE, { message: { content: { text: noise(3000) } } }), // uncompressed, < 4 KiB
      codec.push(Command.MESSAGE, { message: { content: { text: text(3000) } } }), // compressed
      codec.response(Command.HISTORY, 3, { messages: [{ content: { text: noise(100_000) } }] }),
    ];
    for (const frame of frames) {
      assert.equal(Object.getPrototypeOf(frame), Uint8Array.prototype);
      assert.equal(frame.byteOffset, 0);
      assert.equal(frame.buffer.byteLength, frame.length);
      // Uint8Array#slice copies (Buffer#slice would not).
      const copy = frame.slice();
      copy[0] = 0;
      assert.equal(frame[0], 0x50);
    }
  });

  test('consecutive frames are independent buffers', () => {
    const codec = new FrameCodec();
    const wires = Array.from({ length: 20 }, (_, i) =>
      codec.request(Command.TYPING, i + 1, { conversationId: `c${String(i)}`, typing: true }),
    );
    wires.forEach((w, i) => {
      const frame = decodeMessageFrame(w);
      assert.equal(frame.seq, i + 1);
      assert.equal(codec.decodeRequest(Command.TYPING, frame).conversationId, `c${String(i)}`);
    });
  });
});
