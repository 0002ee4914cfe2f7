// The bare Node anchor: a minimal `net` server speaking Parley's framing (@parley/protocol's
// decoder and codec) that stores nothing and checks nothing. LOGIN takes the token as the
// user id; SEND to a user id forwards a MESSAGE push to that user's connections and acks the
// sender; SEND to a joined room id forwards to every other member; PING is answered. It is
// the ceiling any Node server doing the same framing and forwarding can reach.
import { type Socket, createServer } from 'node:net';
import { Command, ErrorCode, Flags, type Frame, FrameCodec, FrameDecoder } from '@parley/protocol';
import { serveParent } from '../ipc.js';
import { BENCH_HEARTBEAT_MS } from './limits.js';

interface Peer {
  socket: Socket;
  user: string;
}

const codec = new FrameCodec();
const users = new Map<string, Set<Peer>>();
const rooms = new Map<string, Set<Peer>>();
let seq = 0;

function onFrame(peer: Peer, frame: Frame): void {
  if ((frame.flags & Flags.RESPONSE) !== 0) return;
  switch (frame.command) {
    case Command.PING:
      if (frame.seq !== 0) peer.socket.write(codec.response(Command.PING, frame.seq, {}));
      return;
    case Command.LOGIN: {
      const login = codec.decodeRequest(Command.LOGIN, frame);
      peer.user = login.token;
      let set = users.get(peer.user);
      if (!set) users.set(peer.user, (set = new Set()));
      set.add(peer);
      peer.socket.write(
        codec.response(Command.LOGIN, frame.seq, {
          userId: peer.user,
          sessionId: `s${String(++seq)}`,
          serverTime: Date.now(),
          heartbeatIntervalMs: BENCH_HEARTBEAT_MS,
        }),
      );
      return;
    }
    case Command.ROOM_JOIN: {
      const { roomId } = codec.decodeRequest(Command.ROOM_JOIN, frame);
      let room = rooms.get(roomId);
      if (!room) rooms.set(roomId, (room = new Set()));
      room.add(peer);
      peer.socket.write(codec.response(Command.ROOM_JOIN, frame.seq, { onlineCount: room.size }));
      return;
    }
    case Command.SEND: {
      const req = codec.decodeRequest(Command.SEND, frame);
      const now = Date.now();
      const messageId = `m${String(++seq)}`;
      const push = codec.push(Command.MESSAGE, {
        message: {
          conversationId: req.conversationId,
          messageId,
          senderId: peer.user,
          clientMessageId: req.clientMessageId,
          serverTime: now,
          content: req.content,
        },
      });
      const targets = rooms.get(req.conversationId) ?? users.get(req.conversationId);
      if (targets) for (const t of targets) if (t !== peer) t.socket.write(push);
      peer.socket.write(codec.response(Command.SEND, frame.seq, { messageId, serverTime: now }));
      return;
    }
    default:
      peer.socket.write(
        codec.errorResponse(frame.command, frame.seq, { code: ErrorCode.UNKNOWN_COMMAND, message: 'bare anchor' }),
      );
  }
}

function forget(peer: Peer): void {
  users.get(peer.user)?.delete(peer);
  if (users.get(peer.user)?.size === 0) users.delete(peer.user);
  for (const room of rooms.values()) room.delete(peer);
}

const server = createServer({ noDelay: true }, (socket) => {
  const peer: Peer = { socket, user: '' };
  const decoder = new FrameDecoder();
  socket.on('data', (chunk: Buffer) => {
    try {
      decoder.push(chunk, (frame) => {
        onFrame(peer, frame);
      });
    } catch {
      socket.destroy();
    }
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    forget(peer);
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  serveParent({ port }, (request) => {
    switch (request.type) {
      case 'gc':
        globalThis.gc?.();
        globalThis.gc?.();
        return null;
      case 'count':
        return { loggedIn: [...users.values()].reduce((n, s) => n + s.size, 0) };
      default:
        throw new Error(`unknown request ${request.type}`);
    }
  });
});
process.on('SIGTERM', () => process.exit(0));
