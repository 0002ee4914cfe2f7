import { Command, Option } from 'commander';
import { benchCommand } from './bench.js';
import { CHAT_HELP, chatCommand } from './chat.js';
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
  .option('--bus <url>', 'memory, or redis://host:port for cluster mode (PARLEY_BUS)')
  .option('--node-id <id>', "this node's name in a cluster; random per start by default (PARLEY_NODE_ID)")
  .option('--config <file>', 'JSON config file (PARLEY_CONFIG)')
  .option(
    '--tls-cert <file>',
    'TLS certificate chain, PEM (PARLEY_TLS_CERT); default: a self-signed development certificate',
  )
  .option('--tls-key <file>', 'TLS private key, PEM (PARLEY_TLS_KEY)')
  .option('--web-dir <dir>', 'the built web app served at / (PARLEY_WEB_DIR); default packages/web/dist')
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

program
  .command('chat')
  .description(
    'interactive terminal chat: conversation list with unread counts, messages with receipts, typing, ' +
      'history, 1:1s and groups (one line per event when stdin or stdout is not a terminal)',
  )
  .requiredOption('--server <host|url>', 'host name, IP address or URL (tcp://, tls://, ws[s]://, http[s]://)')
  .requiredOption('--user <id>', 'who to chat as')
  .addOption(
    new Option('--transport <name>', 'tcp, tls or ws (default: the URL scheme; tcp to this machine, else tls)').choices(
      ['tcp', 'tls', 'ws'],
    ),
  )
  .option('--tcp-port <n>', 'TCP gateway port (default 7100)')
  .option('--tls-port <n>', 'TLS gateway port (default 7101)')
  .option('--http-port <n>', "HTTP and WebSocket port (default 7180, or the URL's)")
  .option('--ws-path <path>', 'WebSocket path (default /ws)')
  .option('--https', 'the HTTP port speaks TLS (https, wss)')
  .option('--token <jwt>', 'user token')
  .option('--token-command <cmd>', 'shell command printing a fresh token, run at login and whenever it expires')
  .option('--data <dir>', "development: the server's data directory, to mint tokens and trust its certificate")
  .option('--config <file>', 'JSON config file for --data (token issuer and audience)')
  .option('--device <id>', 'device id (default: one made on first start and kept in the state directory)')
  .option('--state <dir>', 'where the outbox and conversation list persist (default ~/.local/state/parley/chat/...)')
  .option('--ca <file>', 'extra trusted CA certificate (PEM)')
  .option('--insecure', 'do not check the TLS certificate (development only)')
  .option('--wait <seconds>', 'without a terminal: how long to wait for queued messages when input ends (default 15)')
  .addHelpText(
    'after',
    '\nWithout --token, --token-command or --data, a development server is asked for a token ' +
      '(POST /v1/dev/token).\n\nIn the chat:\n' +
      CHAT_HELP.map((line) => `  ${line}`).join('\n') +
      '\n\nWithout a terminal (pipes, scripts) each line of stdin is a command or a message, and each event is ' +
      'one line of stdout. Exit code 0, or 1 when messages are still queued at the end, 2 for bad flags.',
  )
  .action(chatCommand);

program
  .command('bench')
  .description(
    'benchmarks: Parley beside bare Node, Socket.IO, Mosquitto and ejabberd in the same run; ' +
      'results in bench/results (see BENCHMARKS.md)',
  )
  .argument('[scenario...]', 'connections, one-to-one, fanout, reconnect-storm or all (default: all)')
  .option('--quick', 'each scenario in under a minute')
  .option('--repeat <n>', 'measured rounds per system, interleaved; median and range (default 1 quick, 3 full)')
  .option('--systems <list>', 'comma-separated: parley,bare,socketio,mosquitto,ejabberd (default: all)')
  .option('--set <key=value,...>', "override a scenario's sizes, e.g. pairs=100,rate=500")
  .option('--size <bytes>', 'message text size (default 128)')
  .option('--workers <n>', 'load worker processes (default 2, 1 with --quick)')
  .option('--scale <x>', "multiply the scenarios' default sizes")
  .option('--cpu-prof <dir>', 'write CPU profiles of the Parley server processes')
  .option('--baseline <path>', "also measure another server build (its src/index.ts) as 'Parley baseline'")
  .allowUnknownOption()
  .action(benchCommand);

await program.parseAsync(process.argv);
