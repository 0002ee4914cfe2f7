// Socket.IO 4 (WebSocket transport only, acknowledgements on every message).
import { io } from 'socket.io-client';
import type { BenchClient, ClientEvents, Connect, ConnectOptions, Endpoint } from './driver.js';

const CONNECT_TIMEOUT_MS = 120_000;

export const connectSocketIo: Connect = (endpoint: Endpoint, options: ConnectOptions, events: ClientEvents) => {
  const port = endpoint.ports[options.server % endpoint.ports.length]!;
  const socket = io(`http://${endpoint.host}:${String(port)}`, {
    transports: ['websocket'],
    auth: { user: options.user },
    reconnection: false,
    forceNew: true,
    timeout: CONNECT_TIMEOUT_MS,
    localAddress: options.localAddress,
    perMessageDeflate: false,
  } as unknown as Parameters<typeof io>[1]);
  let destroyed = false;
  const client: BenchClient = {
    direct: (peer) => Promise.resolve(peer),
    expectFrom: () => undefined,
    joinRoom: async (room) => {
      await socket.timeout(CONNECT_TIMEOUT_MS).emitWithAck('join', room);
      return room;
    },
    send: (target, text, onAck) => {
      socket.timeout(CONNECT_TIMEOUT_MS).emit('msg', { to: target, text }, (err: Error | null) => {
        onAck(err === null);
      });
    },
    // Socket.IO's server pings every client itself (pingInterval).
    ping: () => undefined,
    catchUp: () => Promise.resolve(),
    destroy: () => {
      destroyed = true;
      socket.disconnect();
    },
  };
  socket.on('msg', (msg: { text: string }) => {
    events.onMessage({ text: msg.text });
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => {
      socket.on('disconnect', () => {
        if (!destroyed) events.onDrop();
      });
      resolve(client);
    });
    socket.once('connect_error', (err) => {
      socket.disconnect();
      reject(err);
    });
  });
};
