// A cluster node in a process of its own, for tests that kill a node with SIGKILL (no cleanup).
// Argument: the config as JSON. Prints one line of JSON with its TCP port once listening.
import { parseConfig, startServer } from '../../src/index.js';

const config = parseConfig(JSON.parse(process.argv[2] ?? '{}'));
const server = await startServer(config);
process.stdout.write(`${JSON.stringify({ tcpPort: server.addresses.tcp?.port })}\n`);
