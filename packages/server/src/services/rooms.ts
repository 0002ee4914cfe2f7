import { Command, ErrorCode, ParleyError, pb } from '@parley/protocol';
import { newUlid } from '../ids.js';
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
  /** The highest message seq this node has seen in the room (seqs are shared by the cluster). */
  lastSeq: number;
  bucket: TokenBucket;
  acks: Map<string, SendResult>;
  countDirty: boolean;
  /** The cluster-wide online count last pushed. */
  pushedCount: number;
}

/**
 * Live chat rooms (live-stream style): online members only, kept in memory. No per-member
 * storage and no history beyond a short ring of recent messages; a room disappears when its
 * last member leaves. Joining is open, or needs a join token when `roomsRequireToken` is on.
 * In a cluster each node keeps the rooms its sessions joined; the bus carries messages to the
 * other nodes with members, shares the seq counter and sums the online counts. The send rate
 * limit is per node.
 */
export class RoomService {
  readonly #rooms = new Map<string, Room>();
  readonly #timer: NodeJS.Timeout;
  #counting = false;

  constructor(private readonly ctx: ServerContext) {
    this.#timer = setInterval(() => {
      void this.#pushCounts();
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
        lastSeq: 0,
        bucket: new TokenBucket(limits.roomSendsPerSecond, limits.roomSendsPerSecond * 2, Date.now()),
        acks: new Map(),
        countDirty: false,
        pushedCount: 0,
      };
      this.#rooms.set(roomId, room);
    }
    room.sessions.add(session);
    room.countDirty = true;
    (session.rooms ??= new Set()).add(roomId);
    this.ctx.bus.roomMembers(roomId, room.sessions.size);
    const remote = (await this.ctx.bus.remoteRoomCounts([roomId])).get(roomId) ?? 0;
    const n = Math.min(Math.max(recentLimit, 0), limits.roomRecentMessages);
    return {
      onlineCount: room.sessions.size + remote,
      recent: n > 0 ? room.recent.slice(-n) : [],
      name: room.name,
    };
  }

  leave(session: Session, roomId: string): void {
    const room = this.#rooms.get(roomId);
    session.rooms?.delete(roomId);
    if (!room) return;
    if (!room.sessions.delete(session)) return;
    room.countDirty = true;
    this.ctx.bus.roomMembers(roomId, room.sessions.size);
    if (room.sessions.size === 0) this.#rooms.delete(roomId);
  }

  leaveAll(session: Session): void {
    if (!session.rooms) return;
    for (const roomId of [...session.rooms]) this.leave(session, roomId);
  }

  isRoom(conversationId: string): boolean {
    return this.#rooms.has(conversationId);
  }

  /** A message to everyone in the room now, on every node; nothing is stored. */
  async send(
    session: Session,
    roomId: string,
    clientMessageId: string,
    content: pb.MessageContent.$Properties,
  ): Promise<SendResult> {
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
    const seq = await this.ctx.bus.nextRoomSeq(roomId, room.lastSeq);
    room.lastSeq = Math.max(room.lastSeq, seq);
    const message: pb.Message.$Properties = {
      conversationId: roomId,
      seq,
      messageId: newUlid(),
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
    this.ctx.bus.sendToRoom(roomId, pb.Message.encode(message).finish(), session.id);
    return result;
  }

  /** A room message sent on another node, for this node's members of the room. */
  deliverFromCluster(roomId: string, bytes: Uint8Array, exceptSessionId: string): void {
    const room = this.#rooms.get(roomId);
    if (!room) return;
    let message: pb.Message;
    try {
      message = pb.Message.decode(bytes);
    } catch (err) {
      this.ctx.logger.warn({ err, room: roomId }, 'dropped a malformed room message from the bus');
      return;
    }
    room.lastSeq = Math.max(room.lastSeq, message.seq);
    room.recent.push(message);
    if (room.recent.length > this.ctx.config.limits.roomRecentMessages) room.recent.shift();
    const frame = this.ctx.codec.push(Command.MESSAGE, { message });
    for (const s of room.sessions) if (s.id !== exceptSessionId) s.sendFrame(frame);
  }

  close(): void {
    clearInterval(this.#timer);
  }

  /** Pushes each room's online count (summed over the cluster) where it changed. */
  async #pushCounts(): Promise<void> {
    if (this.#counting || this.#rooms.size === 0) return;
    this.#counting = true;
    try {
      const remote = await this.ctx.bus.remoteRoomCounts([...this.#rooms.keys()]);
      for (const room of this.#rooms.values()) {
        const total = room.sessions.size + (remote.get(room.id) ?? 0);
        if (!room.countDirty && total === room.pushedCount) continue;
        room.countDirty = false;
        room.pushedCount = total;
        const frame = this.ctx.codec.push(Command.ROOM_INFO, { roomId: room.id, onlineCount: total });
        for (const s of room.sessions) s.sendFrame(frame);
      }
    } finally {
      this.#counting = false;
    }
  }
}
