import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * JSON logs to stdout; pretty when stdout is a terminal and pino-pretty is installed.
 * Never log tokens or message bodies.
 */
export function createLogger(level: string, options: { pretty?: boolean } = {}): Logger {
  const pretty = options.pretty ?? process.stdout.isTTY;
  if (pretty) {
    return pino({
      level,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' },
      },
    });
  }
  return pino({ level, base: undefined });
}
