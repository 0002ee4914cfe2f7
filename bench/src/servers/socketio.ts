// The Socket.IO 4 anchor: the usual Node choice for chat. WebSocket transport only. A client
// names itself in the handshake's `auth.user` and is put in that user's room; `msg` events
// ({to, text}) are forwarded to the room `to` (a user or a joined chat room) and acknowledged
// to the sender; `join` joins a room. Nothing is stored.
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { serveParent } from '../ipc.js';

interface Msg {
  to: string;
  text: string;
}

const http = createServer();
const io = new Server(http, { transports: ['websocket'], serveClient: false, perMessageDeflate: false });
let loggedIn = 0;

io.on('connection', (socket) => {
  const { user: named } = socket.handshake.auth as { user?: unknown };
  const user = typeof named === 'string' ? named : '';
  void socket.join(`u:${user}`);
  loggedIn++;
  socket.on('disconnect', () => {
    loggedIn--;
  });
  socket.on('join', (room: string, ack: (ok: boolean) => void) => {
    void socket.join(`r:${room}`);
    ack(true);
  });
  socket.on('msg', (msg: Msg, ack: (at: number) => void) => {
    const room = socket.rooms.has(`r:${msg.to}`) ? `r:${msg.to}` : `u:${msg.to}`;
    socket.to(room).emit('msg', { from: user, text: msg.text });
    ack(Date.now());
  });
});

http.listen(0, '127.0.0.1', () => {
  const address = http.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  serveParent({ port }, (request) => {
    switch (request.type) {
      case 'gc':
        globalThis.gc?.();
        globalThis.gc?.();
        return null;
      case 'count':
        return { loggedIn };
      default:
        throw new Error(`unknown request ${request.type}`);
    }
  });
});
process.on('SIGTERM', () => process.exit(0));
