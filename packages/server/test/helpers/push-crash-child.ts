/**
 * A Parley server in its own process, for crash tests: reads its configuration (JSON) from
 * PARLEY_TEST_CONFIG, starts, and prints one JSON line with its ports and app secret. The
 * test kills it with SIGKILL: no shutdown code runs.
 */
import { installHttpApi, parseConfig, startServer } from '../../src/index.js';

const config = parseConfig(JSON.parse(process.env.PARLEY_TEST_CONFIG ?? '{}'));
const server = await startServer(config, { http: installHttpApi });
process.stdout.write(
  `${JSON.stringify({
    tcp: server.addresses.tcp?.port,
    http: server.addresses.http.port,
    secret: server.appSecret,
  })}\n`,
);
