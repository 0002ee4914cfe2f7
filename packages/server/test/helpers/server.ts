import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pb } from '@parley/protocol';
import {
  type ConfigInput,
  type ServerOptions,
  type StartedServer,
  installHttpApi,
  issueToken,
  parseConfig,
  startServer,
} from '../../src/index.js';
import { TestClient } from './test-client.js';

export type Transport = 'tcp' | 'tls' | 'ws';

/** A real server on free ports in a temporary data dir, with helpers to log users in. */
export class TestServer {
  private constructor(
    readonly server: StartedServer,
    readonly dataDir: string,
    private readonly ownsDir: boolean,
    readonly input: ConfigInput,
  ) {}

  static async start(
    overrides: Partial<ConfigInput> = {},
    options: ServerOptions = {},
    dataDir?: string,
  ): Promise<TestServer> {
    const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'parley-test-'));
    const input: ConfigInput = {
      dataDir: dir,
      tcpPort: 0,
      tlsPort: 0,
      httpPort: 0,
      logLevel: 'silent',
      ...overrides,
      limits: { ...overrides.limits },
      shutdown: { goawayDelayMs: 10, drainTimeoutMs: 500, ...overrides.shutdown },
    };
    const server = await startServer(parseConfig(input), { http: installHttpApi, ...options });
    return new TestServer(server, dir, dataDir === undefined, input);
  }

  /** Starts a new server on the same data dir (a restart). */
  async restart(): Promise<TestServer> {
    await this.server.stop();
    return TestServer.start(this.input, {}, this.dataDir);
  }

  token(userId: string, options: { deviceId?: string; ttlSeconds?: number } = {}): Promise<string> {
    return issueToken({ secret: this.server.appSecret, userId, ...options });
  }

  port(transport: Transport): number {
    const { tcp, tls, http } = this.server.addresses;
    const a = transport === 'tcp' ? tcp : transport === 'tls' ? tls : http;
    if (!a) throw new Error(`${transport} gateway is off`);
    return a.port;
  }

  connect(transport: Transport = 'tcp'): Promise<TestClient> {
    return TestClient.connect({
      transport,
      host: '127.0.0.1',
      port: this.port(transport),
      ...(transport === 'tls' ? { tls: { ca: this.caCertificate() } } : {}),
    });
  }

  /** Connects and logs in as `userId` (device defaults to a fresh id). */
  async login(
    userId: string,
    transport: Transport = 'tcp',
    options: { deviceId?: string; platform?: pb.Platform; heartbeatIntervalMs?: number } = {},
  ): Promise<TestClient> {
    const client = await this.connect(transport);
    await client.login(await this.token(userId), { platform: pb.Platform.DESKTOP, ...options });
    return client;
  }

  caCertificate(): string {
    const file = this.server.devCertificate;
    if (!file) throw new Error('no development certificate');
    return readFileSync(file, 'utf8');
  }

  async stop(): Promise<void> {
    await this.server.stop();
    if (this.ownsDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}
