import { Command, Option } from 'commander';
import { netcheckCommand } from './netcheck.js';
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

program
  .command('netcheck')
  .description(
    'diagnose the network path to a server: DNS (system against HTTPDNS), TCP per address, TLS, WebSocket, ' +
      'login and ping round trips, the endpoint list, and the NAT idle timeout',
  )
  .requiredOption('--server <host|url>', 'host name, IP address or URL (http[s]://, ws[s]://, tcp://, tls://)')
  .option('--tcp-port <n>', 'TCP gateway port (default 7100)')
  .option('--tls-port <n>', 'TLS gateway port (default 7101)')
  .option('--http-port <n>', "HTTP and WebSocket port (default 7180, or the URL's)")
  .option('--ws-path <path>', 'WebSocket path (default /ws)')
  .option('--https', 'the HTTP port speaks TLS (https, wss)')
  .option('--no-tcp', 'skip the TCP checks')
  .option('--no-tls', 'skip the TLS checks')
  .option('--no-ws', 'skip the WebSocket checks')
  .option('--httpdns <url>', 'DNS-over-HTTPS JSON endpoint to compare system DNS with, e.g. https://dns.google/resolve')
  .option('--token <jwt>', 'user token for the login checks')
  .option('--user <id>', 'user to get a token for, with --data or from a development server (default netcheck)')
  .option('--data <dir>', "the server's data directory: mint a development token and trust its certificate")
  .option('--config <file>', 'JSON config file for --data (token issuer and audience)')
  .option('--nat-probe <seconds>', 'silences to probe the NAT idle timeout with, e.g. 30,60,120,240')
  .option('--nat-timeout <seconds>', 'how long past each silence to wait for its answer (default 10)')
  .option('--pings <n>', 'ping round trips per transport (default 5)')
  .option('--timeout <seconds>', 'time limit of each lookup, connect and request (default 5)')
  .option('--ca <file>', 'extra trusted CA certificate (PEM)')
  .option('--insecure', 'report certificate problems but go on (logins included)')
  .option('--json', 'print one JSON object instead of the text report')
  .addHelpText(
    'after',
    '\nExit code 0 when DNS and every transport that is on (connect, login, ping) passed, 1 otherwise.',
  )
  .action(netcheckCommand);

await program.parseAsync(process.argv);
