/**
 * Local HTTP/2 TLS servers standing in for APNs and FCM in tests. They apply the request
 * checks Apple's and Google's documentation describe (method, path, headers, provider and
 * access tokens, payload size) and answer in their formats, and can be told to fail the way
 * the real services do: 403 ExpiredProviderToken, 410 Unregistered, 429, 5xx, GOAWAY.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import {
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
  constants,
  createSecureServer,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type JWTPayload, type KeyObject, decodeProtectedHeader, jwtVerify } from 'jose';
import { loadTlsCredentials } from '../../src/gateway/tls-credentials.js';

export interface StandInOptions {
  maxConcurrentStreams?: number;
  /** Where the self-signed certificate is kept: stand-ins given one directory share one CA file. */
  certDir?: string;
}

export interface ScriptedFailure {
  status: number;
  /** APNs reason or FCM errorCode. */
  reason: string;
  retryAfterSeconds?: number;
}

/** The TLS server, its certificate, the sessions it holds, and a queue of failures to play. */
abstract class StandIn {
  readonly sessions = new Set<ServerHttp2Session>();
  /** HTTP/2 connections accepted so far. */
  connections = 0;
  /** Failures answered, in order, to the next requests that pass the checks. */
  readonly failures: ScriptedFailure[] = [];
  /** Send GOAWAY on the connection right after answering the next accepted request. */
  goAwayNext = false;
  /**
   * Answer the next request's arrival with GOAWAY naming an earlier last stream: the request
   * was refused unprocessed, and the client may send it again on a new connection.
   */
  refuseNext = false;
  protected readonly refused = new WeakSet<object>();
  /** Hold every request this long before looking at it (a slow provider); a request whose client went away meanwhile is not counted. */
  delayMs = 0;
  /** Requests being held (see delayMs). */
  held = 0;

  protected constructor(
    protected readonly server: Http2SecureServer,
    readonly caFile: string,
    private readonly dir: string,
  ) {
    server.on('stream', (stream) => {
      if (!this.refuseNext) return;
      this.refuseNext = false;
      stream.session?.goaway(constants.NGHTTP2_NO_ERROR, Math.max(0, (stream.id ?? 2) - 2));
      // Above the last stream id: never processed.
      this.refused.add(stream);
      stream.close(constants.NGHTTP2_REFUSED_STREAM);
    });
    server.on('session', (session) => {
      this.connections++;
      this.sessions.add(session);
      session.on('close', () => this.sessions.delete(session));
    });
  }

  protected static async listen(
    handler: (req: Http2ServerRequest, res: Http2ServerResponse) => void,
    options: StandInOptions = {},
  ): Promise<{ server: Http2SecureServer; caFile: string; dir: string }> {
    const dir = mkdtempSync(join(tmpdir(), 'parley-standin-'));
    const tls = await loadTlsCredentials({ certFile: '', keyFile: '', dataDir: options.certDir ?? dir });
    const server = createSecureServer({
      cert: tls.cert,
      key: tls.key,
      settings: { maxConcurrentStreams: options.maxConcurrentStreams ?? 1000 },
    });
    server.on('request', handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { server, caFile: tls.devCertificate ?? '', dir };
  }

  get url(): string {
    return `https://127.0.0.1:${String((this.server.address() as AddressInfo).port)}`;
  }

  get ca(): string {
    return readFileSync(this.caFile, 'utf8');
  }

  /** Waits out delayMs; false when the client is gone by then. */
  protected async hold(res: Http2ServerResponse): Promise<boolean> {
    if (this.delayMs <= 0) return true;
    this.held++;
    const until = Date.now() + this.delayMs;
    while (Date.now() < until && !res.stream.destroyed && this.delayMs > 0) {
      await new Promise((r) => setTimeout(r, 20));
    }
    this.held--;
    return !res.stream.destroyed;
  }

  protected answer(
    req: Http2ServerRequest,
    res: Http2ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<void> {
    if (res.closed || res.destroyed || res.stream.destroyed) return Promise.resolve();
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, { ...(text ? { 'content-type': 'application/json' } : {}), ...headers });
    res.end(text);
    if (status === 200 && this.goAwayNext) {
      this.goAwayNext = false;
      const session = req.stream.session;
      // Like APNs going down for maintenance: no new streams on this connection.
      res.stream.on('close', () => {
        session?.goaway(constants.NGHTTP2_NO_ERROR, req.stream.id, Buffer.from('{"reason":"Shutdown"}'));
        setTimeout(() => session?.close(), 50);
      });
    }
    return Promise.resolve();
  }

  async close(): Promise<void> {
    for (const s of this.sessions) s.destroy();
    await new Promise<void>((resolve) =>
      this.server.close(() => {
        resolve();
      }),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function readAll(req: Http2ServerRequest, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    }
  } catch {
    // The client reset the stream (or it was refused): nothing to answer.
    return undefined;
  }
  return size > limit ? undefined : Buffer.concat(chunks);
}

// APNs ----------------------------------------------------------------------------------------

export interface ApnsRequest {
  deviceToken: string;
  headers: Record<string, string>;
  payload: {
    aps: { alert?: { title?: string; body?: string }; badge?: number; sound?: string; 'thread-id'?: string };
    [key: string]: unknown;
  };
  jwt: string;
}

const PUSH_TYPES = new Set([
  'alert',
  'background',
  'location',
  'voip',
  'complication',
  'fileprovider',
  'mdm',
  'liveactivity',
  'pushtotalk',
  'widgets',
]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The APNs provider API (POST /3/device/<token>) with token-based authentication. */
export class ApnsStandIn extends StandIn {
  /** Accepted notifications, in arrival order. */
  readonly delivered: ApnsRequest[] = [];
  /** Every request that reached the checks (accepted or not). */
  requests = 0;
  /** Device tokens that answer 410 Unregistered. */
  readonly unregistered = new Set<string>();
  /** Provider tokens (JWTs) that answer 403 ExpiredProviderToken. */
  readonly expiredJwts = new Set<string>();
  /** Distinct provider tokens seen. */
  readonly jwtsSeen = new Set<string>();
  /** Most streams open at once on one connection. */
  maxOpenStreams = 0;
  #open = 0;

  private constructor(
    server: Http2SecureServer,
    caFile: string,
    dir: string,
    private readonly auth: { teamId: string; keyId: string; publicKey: KeyObject; topic: string },
  ) {
    super(server, caFile, dir);
  }

  static async start(
    auth: { teamId: string; keyId: string; publicKey: KeyObject; topic: string },
    options: StandInOptions = {},
  ): Promise<ApnsStandIn> {
    const ref: { self?: ApnsStandIn } = {};
    const { server, caFile, dir } = await StandIn.listen((req, res) => {
      void ref.self?.handle(req, res);
    }, options);
    ref.self = new ApnsStandIn(server, caFile, dir, auth);
    return ref.self;
  }

  /** Marks every provider token seen so far as expired (they were issued "over an hour ago"). */
  expireProviderTokens(): void {
    for (const t of this.jwtsSeen) this.expiredJwts.add(t);
  }

  private async handle(req: Http2ServerRequest, res: Http2ServerResponse): Promise<void> {
    this.#open++;
    this.maxOpenStreams = Math.max(this.maxOpenStreams, this.#open);
    try {
      const fail = (status: number, reason: string, extra: Record<string, unknown> = {}) =>
        this.answer(
          req,
          res,
          status,
          { reason, ...extra },
          { 'apns-id': String(req.headers['apns-id'] ?? randomUUID()) },
        );
      const body = await readAll(req, 64 * 1024);
      if (this.refused.has(req.stream) || req.stream.destroyed) return;
      if (!(await this.hold(res))) return;
      this.requests++;
      if (req.method !== 'POST') {
        await fail(405, 'MethodNotAllowed');
        return;
      }
      const match = /^\/3\/device\/([^/]*)$/.exec(req.url);
      if (!match) {
        await fail(404, 'BadPath');
        return;
      }
      const deviceToken = match[1] ?? '';
      if (deviceToken === '') {
        await fail(400, 'MissingDeviceToken');
        return;
      }
      if (!/^[0-9a-f]{64,200}$/i.test(deviceToken)) {
        await fail(400, 'BadDeviceToken');
        return;
      }

      const auth = req.headers.authorization ?? '';
      const jwt = /^bearer (.+)$/.exec(auth)?.[1];
      if (!jwt) {
        await fail(403, 'MissingProviderToken');
        return;
      }
      const problem = await this.checkJwt(jwt);
      if (problem) {
        await fail(403, problem);
        return;
      }

      const topic = req.headers['apns-topic'];
      if (!topic) {
        await fail(400, 'MissingTopic');
        return;
      }
      if (topic !== this.auth.topic) {
        await fail(400, 'DeviceTokenNotForTopic');
        return;
      }
      const pushType = String(req.headers['apns-push-type'] ?? '');
      if (!PUSH_TYPES.has(pushType)) {
        await fail(400, 'InvalidPushType');
        return;
      }
      const priority = req.headers['apns-priority'];
      if (priority !== undefined && !['1', '5', '10'].includes(String(priority))) {
        await fail(400, 'BadPriority');
        return;
      }
      const expiration = req.headers['apns-expiration'];
      if (expiration !== undefined && !/^\d+$/.test(String(expiration))) {
        await fail(400, 'BadExpirationDate');
        return;
      }
      const collapse = req.headers['apns-collapse-id'];
      if (collapse !== undefined && Buffer.byteLength(String(collapse)) > 64) {
        await fail(400, 'BadCollapseId');
        return;
      }
      const apnsId = req.headers['apns-id'];
      if (apnsId !== undefined && !UUID.test(String(apnsId))) {
        await fail(400, 'BadMessageId');
        return;
      }

      if (!body || body.length > 4096) {
        await fail(413, 'PayloadTooLarge');
        return;
      }
      if (body.length === 0) {
        await fail(400, 'PayloadEmpty');
        return;
      }
      let payload: ApnsRequest['payload'];
      try {
        payload = JSON.parse(body.toString('utf8')) as ApnsRequest['payload'];
        if (typeof payload.aps !== 'object') throw new Error('no aps');
      } catch {
        await fail(400, 'BadPayload');
        return;
      }
      if (this.unregistered.has(deviceToken.toLowerCase())) {
        await fail(410, 'Unregistered', { timestamp: Date.now() });
        return;
      }
      const scripted = this.failures.shift();
      if (scripted) {
        await this.answer(
          req,
          res,
          scripted.status,
          { reason: scripted.reason },
          scripted.retryAfterSeconds === undefined ? {} : { 'retry-after': String(scripted.retryAfterSeconds) },
        );
        return;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (!k.startsWith(':') && typeof v === 'string') headers[k] = v;
      this.delivered.push({ deviceToken: deviceToken.toLowerCase(), headers, payload, jwt });
      await this.answer(req, res, 200, undefined, { 'apns-id': String(apnsId ?? randomUUID()) });
    } finally {
      this.#open--;
    }
  }

  /** The reason the provider token is refused, or undefined when it is good. */
  private async checkJwt(jwt: string): Promise<string | undefined> {
    let header;
    try {
      header = decodeProtectedHeader(jwt);
    } catch {
      return 'InvalidProviderToken';
    }
    if (header.alg !== 'ES256') return 'InvalidProviderToken';
    if (header.kid !== this.auth.keyId) return 'InvalidProviderToken';
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(jwt, this.auth.publicKey, { algorithms: ['ES256'] }));
    } catch {
      return 'InvalidProviderToken';
    }
    if (payload.iss !== this.auth.teamId) return 'InvalidProviderToken';
    const now = Math.floor(Date.now() / 1000);
    if (typeof payload.iat !== 'number' || payload.iat > now + 60) return 'InvalidProviderToken';
    this.jwtsSeen.add(jwt);
    if (now - payload.iat > 3600 || this.expiredJwts.has(jwt)) return 'ExpiredProviderToken';
    return undefined;
  }
}

// FCM -----------------------------------------------------------------------------------------

export interface FcmRequest {
  message: {
    token: string;
    notification?: { title?: string; body?: string };
    data?: Record<string, string>;
    android?: { collapse_key?: string; notification?: { tag?: string; notification_count?: number } };
    [key: string]: unknown;
  };
}

/** FCM HTTP v1 (messages:send) and the OAuth2 token endpoint (JWT bearer grant). */
export class FcmStandIn extends StandIn {
  readonly delivered: FcmRequest[] = [];
  /** Access tokens issued and still good. */
  readonly accessTokens = new Set<string>();
  /** Token exchanges answered. */
  exchanges = 0;
  /** Registration tokens that answer 404 UNREGISTERED. */
  readonly unregistered = new Set<string>();

  private constructor(
    server: Http2SecureServer,
    caFile: string,
    dir: string,
    private readonly account: { projectId: string; clientEmail: string; publicKey: KeyObject; tokenPath: string },
  ) {
    super(server, caFile, dir);
  }

  static async start(
    account: { projectId: string; clientEmail: string; publicKey: KeyObject },
    options: StandInOptions = {},
  ): Promise<FcmStandIn> {
    const ref: { self?: FcmStandIn } = {};
    const { server, caFile, dir } = await StandIn.listen((req, res) => {
      void ref.self?.handle(req, res);
    }, options);
    ref.self = new FcmStandIn(server, caFile, dir, { ...account, tokenPath: '/token' });
    return ref.self;
  }

  get tokenUri(): string {
    return `${this.url}${this.account.tokenPath}`;
  }

  /** Every access token issued so far stops working (401 UNAUTHENTICATED). */
  revokeAccessTokens(): void {
    this.accessTokens.clear();
  }

  private googleError(
    req: Http2ServerRequest,
    res: Http2ServerResponse,
    status: number,
    rpcStatus: string,
    errorCode?: string,
    headers: Record<string, string> = {},
  ): Promise<void> {
    return this.answer(
      req,
      res,
      status,
      {
        error: {
          code: status,
          message: `stand-in: ${errorCode ?? rpcStatus}`,
          status: rpcStatus,
          ...(errorCode
            ? { details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }] }
            : {}),
        },
      },
      headers,
    );
  }

  private async handle(req: Http2ServerRequest, res: Http2ServerResponse): Promise<void> {
    const body = await readAll(req, 64 * 1024);
    if (req.method !== 'POST') return this.googleError(req, res, 405, 'METHOD_NOT_ALLOWED');
    if (req.url === this.account.tokenPath) return this.token(req, res, body);
    const match = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(req.url);
    if (!match) return this.googleError(req, res, 404, 'NOT_FOUND');
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer || !this.accessTokens.has(bearer)) return this.googleError(req, res, 401, 'UNAUTHENTICATED');
    if (match[1] !== this.account.projectId) return this.googleError(req, res, 403, 'PERMISSION_DENIED');
    if (!body) return this.googleError(req, res, 400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT');
    let parsed: FcmRequest;
    try {
      parsed = JSON.parse(body.toString('utf8')) as FcmRequest;
    } catch {
      return this.googleError(req, res, 400, 'INVALID_ARGUMENT');
    }
    const m = parsed.message as FcmRequest['message'] | undefined;
    const targets = ['token', 'topic', 'condition'].filter((k) => m && typeof m[k] === 'string');
    if (!m || targets.length !== 1) return this.googleError(req, res, 400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT');
    // Data values must be strings; the whole message at most 4096 bytes.
    if (m.data && Object.values(m.data).some((v) => typeof v !== 'string')) {
      return this.googleError(req, res, 400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT');
    }
    if (body.length > 4096) return this.googleError(req, res, 400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT');
    if (this.unregistered.has(m.token)) return this.googleError(req, res, 404, 'NOT_FOUND', 'UNREGISTERED');
    const scripted = this.failures.shift();
    if (scripted) {
      const rpc =
        scripted.status === 429 ? 'RESOURCE_EXHAUSTED' : scripted.status >= 500 ? 'UNAVAILABLE' : 'INVALID_ARGUMENT';
      return this.googleError(
        req,
        res,
        scripted.status,
        rpc,
        scripted.reason,
        scripted.retryAfterSeconds === undefined ? {} : { 'retry-after': String(scripted.retryAfterSeconds) },
      );
    }
    this.delivered.push(parsed);
    return this.answer(req, res, 200, { name: `projects/${this.account.projectId}/messages/${randomUUID()}` });
  }

  private async token(req: Http2ServerRequest, res: Http2ServerResponse, body: Buffer | undefined): Promise<void> {
    const form = new URLSearchParams(body?.toString('utf8') ?? '');
    const refuse = (description: string) =>
      this.answer(req, res, 400, { error: 'invalid_grant', error_description: description });
    if (String(req.headers['content-type']) !== 'application/x-www-form-urlencoded') return refuse('form expected');
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return refuse('bad grant_type');
    try {
      const { payload } = await jwtVerify(form.get('assertion') ?? '', this.account.publicKey, {
        algorithms: ['RS256'],
        issuer: this.account.clientEmail,
        audience: this.tokenUri,
      });
      if (
        !(typeof payload.scope === 'string' ? payload.scope : '')
          .split(' ')
          .includes('https://www.googleapis.com/auth/firebase.messaging')
      ) {
        await refuse('scope');
        return;
      }
      if (typeof payload.iat !== 'number' || typeof payload.exp !== 'number' || payload.exp - payload.iat > 3600) {
        await refuse('lifetime');
        return;
      }
    } catch {
      return refuse('Invalid JWT Signature.');
    }
    this.exchanges++;
    const accessToken = `ya29.${randomBytes(24).toString('base64url')}`;
    this.accessTokens.add(accessToken);
    return this.answer(req, res, 200, { access_token: accessToken, expires_in: 3599, token_type: 'Bearer' });
  }
}
