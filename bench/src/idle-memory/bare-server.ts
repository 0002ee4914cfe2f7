// The baseline: what holding a connection costs in Node with no Parley in it. The same framing
// (a FrameDecoder per stream socket, or one frame per WebSocket message), a LOGIN answered with
// a LoginResponse, and nothing else: no token check, no session, no registry, no storage.
// Written the plain way a bare server would be (closures per socket). Started with --expose-gc.
// Arguments: transport (tcp|tls|ws) and the Parley data dir, whose TLS certificate it reuses.
import { type Server as HttpServer, createServer as createHttpServer } from 'node:http';
import { type AddressInfo, type Server, type Socket, createServer as createNetServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Command, type Frame, FrameCodec, FrameDecoder, decodeMessageFrame } from '@parley/protocol';
import { WebSocketServer } from 'ws';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serveParent } from '../ipc.js';
import { type ServerCount, type Transport, lastSettle, sampleMemory, settle } from './memory.js';

const transport = process.argv[2] as Transport | undefined;
const dataDir = process.argv[3];
if (transport === undefined || dataDir === undefined) throw new Error('usage: bare-server.ts tcp|tls|ws DATA_DIR');

const codec = new FrameCodec();
const count: ServerCount = { open: 0, loggedIn: 0 };

/** The one request the baseline understands; returns the response to send, if any. */
function answer(frame: Frame): Uint8Array | undefined {
  if (frame.command !== Command.LOGIN) return undefined;
  const request = codec.decodeRequest(Command.LOGIN, frame);
  count.loggedIn++;
  return codec.response(Command.LOGIN, frame.seq, {
    userId: 'bare',
    sessionId: 'bare',
    serverTime: Date.now(),
    heartbeatIntervalMs: request.heartbeatIntervalMs,
  });
}

function onStream(socket: Socket): void {
  count.open++;
  const decoder = new FrameDecoder();
  let loggedIn = false;
  const onFrame = (frame: Frame): void => {
    if (loggedIn) return;
    const response = answer(frame);
    if (response === undefined) return;
    loggedIn = true;
    socket.write(response);
  };
  socket.setNoDelay(true);
  socket.on('data', (chunk: Buffer) => {
    try {
      decoder.push(chunk, onFrame);
    } catch {
      socket.destroy();
    }
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    count.open--;
    if (loggedIn) count.loggedIn--;
  });
}

function listen(server: Server | HttpServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve((server.address() as AddressInfo).port);
    });
  });
}

let server: Server | HttpServer;
if (transport === 'tcp') {
  server = createNetServer({ noDelay: true }, onStream);
} else if (transport === 'tls') {
  // The development certificate the Parley server made in its data dir (it keeps it in
  // `<dataDir>/tls/`), so both servers do the same TLS work.
  const [cert, key] = await Promise.all([
    readFile(join(dataDir, 'tls', 'dev-cert.pem')),
    readFile(join(dataDir, 'tls', 'dev-key.pem')),
  ]);
  const tls = createTlsServer({ cert, key, minVersion: 'TLSv1.3' }, onStream);
  tls.on('tlsClientError', (_err, socket) => {
    socket.destroy();
  });
  server = tls;
} else {
  const http = createHttpServer();
  server = http;
  const wss = new WebSocketServer({ server: http, path: '/ws', perMessageDeflate: false, clientTracking: false });
  wss.on('connection', (ws) => {
    count.open++;
    let loggedIn = false;
    ws.on('message', (data: Buffer, isBinary) => {
      if (loggedIn || !isBinary) return;
      try {
        const response = answer(decodeMessageFrame(data));
        if (response === undefined) return;
        loggedIn = true;
        ws.send(response);
      } catch {
        ws.terminate();
      }
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      count.open--;
      if (loggedIn) count.loggedIn--;
    });
  });
}
const port = await listen(server);

serveParent({ port }, async (request) => {
  switch (request.type) {
    case 'measure':
      await settle(Number(request.quietMs), Number(request.maxMs));
      return { ...(await sampleMemory()), trajectory: lastSettle };
    case 'count':
      return count;
    case 'stop':
      setImmediate(() => process.exit(0));
      return null;
    default:
      throw new Error(`unknown request ${request.type}`);
  }
});
