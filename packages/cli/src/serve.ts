import {
  HttpWebhooks,
  installHttpApi,
  startServer,
  createLogger,
  redactStoreUrl,
  type StartedServer,
} from '@parley/server';
import { configFromFlags, type ConfigFlags } from './flags.js';

/** `parley serve`: runs until SIGINT/SIGTERM, then shuts down gracefully and exits 0. */
export async function serveCommand(flags: ConfigFlags): Promise<void> {
  const config = configFromFlags(flags);
  const logger = createLogger(config.logLevel);
  let server: StartedServer;
  try {
    server = await startServer(config, {
      logger,
      http: installHttpApi,
      webhooks: (ctx) => HttpWebhooks.fromContext(ctx),
    });
  } catch (err) {
    logger.fatal({ err }, 'could not start');
    await new Promise((r) => setTimeout(r, 50));
    process.exit(1);
  }
  const { tcp, tls, http } = server.addresses;
  const where = (a: { address: string; port: number } | undefined) => (a ? `${a.address}:${String(a.port)}` : 'off');
  logger.info(
    { tcp: where(tcp), tls: where(tls), http: where(http), store: redactStoreUrl(config.store) },
    'parley is listening',
  );
  if (server.devCertificate)
    logger.warn({ file: server.devCertificate }, 'TLS uses a self-signed development certificate');
  const lines = [
    '',
    `  Parley is running (${config.mode}).`,
    `  TCP   ${where(tcp)}    TLS ${where(tls)}`,
    `  HTTP  http://${where(http)}   (WebSocket: ws://${where(http)}/ws, metrics: /metrics)`,
    `  Web app:        http://${where(http)}/${config.devTokens ? ' (development sign-in on)' : ''}`,
    `  HTTP API:       http://${where(http)}/openapi.json (admin key below; docs/api.md)`,
    `  A user token:   npm run parley -- token --user alice${flags.data ? ` --data ${flags.data}` : ''}`,
  ];
  if (server.adminKey.created) {
    lines.push(
      `  Admin key (shown once, saved with mode 0600 in ${server.adminKey.path ?? config.dataDir}):`,
      `    ${server.adminKey.value}`,
    );
  }
  process.stderr.write(`${lines.join('\n')}\n\n`);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: goaway to clients, flushing writes and the store');
    server.stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'unclean shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => {
    shutdown('SIGINT');
  });
  process.on('SIGTERM', () => {
    shutdown('SIGTERM');
  });
}
