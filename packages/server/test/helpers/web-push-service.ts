/**
 * `web-push-testing` (npm), a local RFC 8030 push service that checks VAPID and decrypts
 * RFC 8291 payloads, run in this process on a free port. Its subscriptions are what a
 * browser's pushManager.subscribe() would return.
 */
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

interface PushApiModel {
  notifyUrl: string;
}
interface TestingServer {
  _server: Server;
  _app: { listen(port: number, host: string): Server };
  setRequestHandlers(): void;
}

const require = createRequire(import.meta.url);

export interface TestSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
  clientHash: string;
}

export class WebPushService {
  private constructor(
    private readonly server: TestingServer,
    readonly url: string,
  ) {}

  static async start(): Promise<WebPushService> {
    const TestingServerClass = require('web-push-testing/src/server.js') as new (
      model: PushApiModel,
      port: number,
    ) => TestingServer;
    const { PushApiModel } = require('web-push-testing/src/PushApiModel.js') as {
      PushApiModel: new () => PushApiModel;
    };
    const model = new PushApiModel();
    const server = new TestingServerClass(model, 0);
    // What startServer() does, minus its console message and process.exit on errors.
    server._server = server._app.listen(0, '127.0.0.1');
    server.setRequestHandlers();
    await new Promise<void>((resolve, reject) => {
      server._server.once('listening', resolve);
      server._server.once('error', reject);
    });
    const port = (server._server.address() as AddressInfo).port;
    const url = `http://127.0.0.1:${String(port)}`;
    // The model builds endpoints from the port it was given (0): point them at the real one.
    model.notifyUrl = `${url}/notify/`;
    return new WebPushService(server, url);
  }

  async subscribe(applicationServerKey: string): Promise<TestSubscription> {
    const res = await this.post('/subscribe', { userVisibleOnly: 'true', applicationServerKey });
    return (res as { data: TestSubscription }).data;
  }

  async expire(clientHash: string): Promise<void> {
    await this.post(`/expire-subscription/${clientHash}`, {});
  }

  /** The decrypted payloads the subscription received. */
  async messages(clientHash: string): Promise<string[]> {
    const res = (await this.post('/get-notifications', { clientHash })) as { data: { messages: string[] } };
    return res.data.messages;
  }

  private async post(path: string, body: unknown): Promise<unknown> {
    const res = await fetch(`${this.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`web-push-testing ${path}: ${String(res.status)} ${text}`);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server._server.closeAllConnections();
      this.server._server.close(() => {
        resolve();
      });
    });
  }
}
