import { Command, Option } from 'commander';
import { serveCommand } from './serve.js';
import { tokenCommand } from './token.js';

const program = new Command()
  .name('parley')
  .description('Parley instant messaging: server and tools')
  .showHelpAfterError();

program
  .command('serve')
  .description('run the Parley server (embedded SQLite store and in-process routing by default)')
  .option('--host <host>', 'address to bind (PARLEY_HOST)')
  .option('--tcp-port <n>', 'TCP gateway port, 0 = any free port (PARLEY_TCP_PORT)')
  .option('--tls-port <n>', 'TLS gateway port (PARLEY_TLS_PORT)')
  .option('--http-port <n>', 'HTTP API and WebSocket port (PARLEY_HTTP_PORT)')
  .option('--data <dir>', 'data directory (PARLEY_DATA_DIR)')
  .option('--store <url>', 'sqlite:PATH (PARLEY_STORE)')
  .option('--bus <url>', 'memory (PARLEY_BUS)')
  .option('--config <file>', 'JSON config file (PARLEY_CONFIG)')
  .option(
    '--tls-cert <file>',
    'TLS certificate chain, PEM (PARLEY_TLS_CERT); default: a self-signed development certificate',
  )
  .option('--tls-key <file>', 'TLS private key, PEM (PARLEY_TLS_KEY)')
  .addOption(
    new Option('--mode <mode>', 'development or production (PARLEY_MODE)').choices(['development', 'production']),
  )
  .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (PARLEY_LOG_LEVEL)')
  .option('--no-tls', 'do not start the TLS gateway')
  .option('--no-tcp', 'do not start the plain TCP gateway')
  .action(serveCommand);

program
  .command('token')
  .description('print a development user token signed with the app secret of the data directory')
  .requiredOption('--user <id>', 'user id (the token subject)')
  .option('--device <id>', 'pin the token to one device id')
  .option('--room <id>', 'make it a join token for this chat room')
  .option('--ttl <seconds>', 'lifetime in seconds', '86400')
  .option('--data <dir>', 'data directory holding app-secret (PARLEY_DATA_DIR)')
  .option('--config <file>', 'JSON config file (PARLEY_CONFIG)')
  .action(tokenCommand);

await program.parseAsync(process.argv);
