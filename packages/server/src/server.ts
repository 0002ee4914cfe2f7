import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FrameCodec } from '@parley/protocol';
import { TokenVerifier } from './auth/tokens.js';
import { localNode } from './bus/local-node.js';
import { openBus } from './bus/open.js';
import type { Bus } from './bus/types.js';
import type { Config } from './config.js';
import type { ServerContext } from './context.js';
import type { Connection } from './gateway/connection.js';
import { startGateways, type Gateways } from './gateway/gateway.js';
import { createLogger, type Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { loadOrCreateSecret } from './secrets.js';
import { ConversationService } from './services/conversations.js';
import { GroupCommitter } from './services/group-commit.js';
import { MessageService } from './services/messages.js';
import { PushService } from './push/service.js';
import type { PushStore } from './push/types.js';
import { PresenceService } from './services/presence.js';
import { RoomService } from './services/rooms.js';
import { noWebhooks, type Webhooks } from './services/webhooks-types.js';
import { SessionRegistry } from './session/registry.js';
import { Session } from './session/session.js';
import { Sweeper } from './session/sweeper.js';
import { openStore } from './store/open.js';
import { zlibCompression } from './zlib-compression.js';
import type { Store } from './store/types.js';

export interface ServerAddresses {
  tcp: AddressInfo | undefined;
  tls: AddressInfo | undefined;
  http: AddressInfo;
}

export interface StartedServer {
  readonly ctx: ServerContext;
  readonly addresses: ServerAddresses;
  /** The admin key for the HTTP API, and whether it was made by this start. */
  readonly adminKey: { value: string; created: boolean; path: string | undefined };
  /** The HS256 secret user tokens are signed with. */
  readonly appSecret: string;
  /** Where the self-signed development certificate was made, when it was made now or earlier. */
  readonly devCertificate: string | undefined;
  readonly sweeper: Sweeper;
  /**
   * Graceful stop: refuse new logins and connections, send GOAWAY to every client, let
   * queued writes flush, finish pending appends, close the store. Idempotent.
   */
  stop(): Promise<void>;
}

export interface ServerOptions {
  logger?: Logger;
  /** Overrides for tests: an already open store or bus. */
  store?: Store;
  bus?: Bus;
  /** The push queue's store, for store adapters other than SQLite (which keeps it in its own file). */
  pushStore?: PushStore;
  webhooks?: (ctx: ServerContext) => Webhooks;
  /** Builds the HTTP request handler (the REST API); a bare health endpoint is used without it. */
  http?: (
    server: HttpServer,
    started: Omit<StartedServer, 'stop' | 'addresses'> & { boundAddresses: ServerAddresses | undefined },
  ) => Promise<void> | void;
}

/** Starts a Parley server: store, gateways, HTTP. Resolves once every listener is bound. */
export async function startServer(config: Config, options: ServerOptions = {}): Promise<StartedServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const appSecret = loadOrCreateSecret(config.dataDir, 'app-secret', config.appSecret);
  const adminKey = loadOrCreateSecret(config.dataDir, 'admin-key', config.adminKey);
  const store = options.store ?? (await openStore(config.store, config.dataDir));
  await store.migrate();
  const metrics = new Metrics();
  const registry = new SessionRegistry();
  const codec = new FrameCodec({
    maxBodyBytes: config.limits.maxFrameBytes,
    compressAboveBytes: config.limits.compressAboveBytes,
    compression: zlibCompression,
  });

  // The context is assembled in two steps because services take the context itself.
  const ctx = {
    config,
    store,
    bus: options.bus ?? openBus(config, { registry, logger, metrics }),
    registry,
    metrics,
    logger,
    codec,
    tokens: TokenVerifier.fromFiles({
      secret: appSecret.value,
      publicKeyFile: config.tokenPublicKey || undefined,
      issuer: config.tokenIssuer,
      audience: config.tokenAudience,
    }),
    commits: new GroupCommitter(store, metrics),
    draining: false,
  } as Partial<ServerContext> as ServerContext;
  Object.assign(ctx, {
    messages: new MessageService(ctx),
    conversations: new ConversationService(ctx),
    rooms: new RoomService(ctx),
    presence: new PresenceService(ctx),
    push: await PushService.create({
      config: config.push,
      dataDir: config.dataDir,
      store,
      pushStore: options.pushStore,
      registry,
      bus: ctx.bus,
      metrics,
      logger,
    }),
    webhooks: noWebhooks,
  });
  if (options.webhooks) Object.assign(ctx, { webhooks: options.webhooks(ctx) });

  const sweeper = new Sweeper(ctx);
  // Before any session exists: a cluster bus subscribes to this node's channel here.
  await ctx.bus.start(localNode(ctx, sweeper));
  const accept = (connection: Connection) => {
    const session = new Session(ctx, connection);
    sweeper.add(session);
    return session;
  };

  const http = createHttpServer();
  const partial = {
    ctx,
    adminKey,
    appSecret: appSecret.value,
    devCertificate: undefined as string | undefined,
    sweeper,
    /** Filled in once every listener is bound (the HTTP API reads it per request). */
    boundAddresses: undefined as ServerAddresses | undefined,
  };
  if (options.http) await options.http(http, partial);
  else
    http.on('request', (req, res) => {
      if (req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      } else {
        res.writeHead(404).end();
      }
    });

  let gateways: Gateways;
  try {
    gateways = await startGateways({ config, accept, metrics, logger, httpServer: http });
    await listen(http, config.httpPort, config.host);
  } catch (err) {
    await ctx.bus.close();
    await store.close();
    throw err;
  }
  partial.devCertificate = gateways.devCertificate;
  const addresses: ServerAddresses = { tcp: gateways.tcp, tls: gateways.tls, http: http.address() as AddressInfo };
  partial.boundAddresses = addresses;
  ctx.push.start();

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      ctx.draining = true;
      await gateways.stopAccepting();
      const delay = config.shutdown.goawayDelayMs;
      for (const session of sweeper.sessions()) session.goAway(delay, 'server is shutting down');
      await waitForDrain(sweeper, config.shutdown.drainTimeoutMs);
      for (const session of sweeper.sessions()) session.connection.destroy();
      sweeper.close();
      ctx.rooms.close();
      await ctx.commits.drain();
      await ctx.push.close();
      await ctx.webhooks.close();
      await ctx.bus.close();
      await new Promise<void>((resolve) => {
        http.close(() => {
          resolve();
        });
        http.closeAllConnections();
      });
      await store.close();
    })());

  return { ...partial, addresses, stop };
}

function listen(server: HttpServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(
              `HTTP port ${String(port)} on ${host} is in use; choose another with --http-port or PARLEY_HTTP_PORT`,
              {
                cause: err,
              },
            )
          : err,
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

async function waitForDrain(sweeper: Sweeper, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    sweeper.sweep(Date.now());
    if (sweeper.size === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}
