import { Command, ErrorCode, ParleyError, pb } from '@parley/protocol';
import { ulid } from 'ulid';
import { validId } from '../auth/tokens.js';
import type { ServerContext } from '../context.js';
import { TokenBucket } from '../session/rate-limit.js';
import type { Session } from '../session/session.js';
import { type SendResult, validateContent } from './messages.js';

/** How often a room's online count is pushed while it changes. */
const COUNT_PUSH_MS = 2_000;
/** Remembered client message ids per room, so a resend within a short while is acked once. */
const DEDUP_ENTRIES = 2_048;

interface Room {
  id: string;
  name: string;
  sessions: Set<Session>;
  recent: pb.Message.$Properties[];
  nextSeq: number;
  bucket: TokenBucket;
  acks: Map<string, SendResult>;
  countDirty: boolean;
}

/**
 * Live chat rooms (live-stream style): online members only, kept in memory. No per-member
 * storage and no history beyond a short ring of recent messages; a room disappears when its
 * last member leaves. Joining is open, or needs a join token when `roomsRequireToken` is on.
 */
export class RoomService {
  readonly #rooms = new Map<string, Room>();
  readonly #timer: NodeJS.Timeout;

  constructor(private readonly ctx: ServerContext) {
    this.#timer = setInterval(() => {
      this.#pushCounts();
    }, COUNT_PUSH_MS);
    this.#timer.unref();
  }

  get roomCount(): number {
    return this.#rooms.size;
  }

  onlineCount(roomId: string): number {
    return this.#rooms.get(roomId)?.sessions.size ?? 0;
  }

  async join(session: Session, roomId: string, joinToken: string, recentLimit: number) {
    if (!validId(roomId)) throw new ParleyError(ErrorCode.INVALID_ARGUMENT, 'room id must be 1 to 128 characters');
    const { limits } = this.ctx.config;
    if (limits.roomsRequireToken || joinToken) {
      await this.ctx.tokens.verifyRoomToken(joinToken, session.userId, roomId);
    }
    let room = this.#rooms.get(roomId);
    if (!room) {
      room = {
        id: roomId,
        name: roomId,
        sessions: new Set(),
        recent: [],
        nextSeq: 1,
        bucket: new TokenBucket(limits.roomSendsPerSecond, limits.roomSendsPerSecond * 2, Date.now()),
        acks: new Map(),
        countDirty: false,
      };
      this.#rooms.set(roomId, room);
    }
    room.sessions.add(session);
    room.countDirty = true;
    (session.rooms ??= new Set()).add(roomId);
    const n = Math.min(Math.max(recentLimit, 0), limits.roomRecentMessages);
    return { onlineCount: room.sessions.size, recent: n > 0 ? room.recent.slice(-n) : [], name: room.name };
  }

  leave(session: Session, roomId: string): void {
    const room = this.#rooms.get(roomId);
    session.rooms?.delete(roomId);
    if (!room) return;
    room.sessions.delete(session);
    room.countDirty = true;
    if (room.sessions.size === 0) this.#rooms.delete(roomId);
  }

  leaveAll(session: Session): void {
    if (!session.rooms) return;
    for (const roomId of [...session.rooms]) this.leave(session, roomId);
  }

  isRoom(conversationId: string): boolean {
    return this.#rooms.has(conversationId);
  }

  /** A message to everyone in the room now; nothing is stored. */
  send(session: Session, roomId: string, clientMessageId: string, content: pb.MessageContent.$Properties): SendResult {
    const room = this.#rooms.get(roomId);
    if (!room?.sessions.has(session)) throw new ParleyError(ErrorCode.NOT_MEMBER, 'join the room first');
    const key = `${session.userId}\u0000${clientMessageId}`;
    const earlier = room.acks.get(key);
    if (earlier) return { ...earlier, duplicate: true };
    validateContent(content);
    const size = pb.MessageContent.encode(content).finish().length;
    if (size > this.ctx.config.limits.maxMessageBytes) {
      throw new ParleyError(ErrorCode.MESSAGE_TOO_LARGE, 'message is too large');
    }
    const wait = room.bucket.take(Date.now());
    if (wait > 0) throw new ParleyError(ErrorCode.RATE_LIMITED, 'this room is busy; slow down');
    const message: pb.Message.$Properties = {
      conversationId: roomId,
      seq: room.nextSeq++,
      messageId: ulid(),
      senderId: session.userId,
      senderDeviceId: session.deviceId,
      clientMessageId,
      serverTime: Date.now(),
      content,
      conversationType: pb.ConversationType.ROOM,
    };
    room.recent.push(message);
    if (room.recent.length > this.ctx.config.limits.roomRecentMessages) room.recent.shift();
    const result: SendResult = {
      messageId: message.messageId ?? '',
      seq: message.seq ?? 0,
      serverTime: message.serverTime ?? 0,
      duplicate: false,
    };
    room.acks.set(key, result);
    if (room.acks.size > DEDUP_ENTRIES) {
      const oldest = room.acks.keys().next();
      if (!oldest.done) room.acks.delete(oldest.value);
    }
    const frame = this.ctx.codec.push(Command.MESSAGE, { message });
    for (const s of room.sessions) if (s !== session) s.sendFrame(frame);
    return result;
  }

  close(): void {
    clearInterval(this.#timer);
  }

  #pushCounts(): void {
    for (const room of this.#rooms.values()) {
      if (!room.countDirty) continue;
      room.countDirty = false;
      const frame = this.ctx.codec.push(Command.ROOM_INFO, { roomId: room.id, onlineCount: room.sessions.size });
      for (const s of room.sessions) s.sendFrame(frame);
    }
  }
}
