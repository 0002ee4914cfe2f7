import { readFileSync } from 'node:fs';
import { type CryptoKey, type KeyObject, SignJWT, importPKCS8 } from 'jose';
import { ConfigError } from '../config.js';
import type { Http2Client } from './http2-client.js';

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const DEFAULT_TOKEN_URI = 'https://oauth2.googleapis.com/token';
/** Renew this long before the access token expires. */
const EARLY_MS = 5 * 60_000;

/** The fields of a Google service account key file that FCM needs. */
export interface ServiceAccount {
  projectId: string;
  clientEmail: string;
  privateKey: string;
  tokenUri: string;
}

export function readServiceAccount(file: string): ServiceAccount {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`push.fcmServiceAccountFile ${file}: not a readable JSON file`, { cause: err });
  }
  const field = (name: string): string => {
    const value = json[name];
    if (typeof value !== 'string' || value === '') {
      throw new ConfigError(`push.fcmServiceAccountFile ${file}: "${name}" is missing`);
    }
    return value;
  };
  return {
    projectId: field('project_id'),
    clientEmail: field('client_email'),
    privateKey: field('private_key'),
    tokenUri: typeof json.token_uri === 'string' && json.token_uri !== '' ? json.token_uri : DEFAULT_TOKEN_URI,
  };
}

/** The OAuth2 token endpoint said no, or could not be reached. */
export class AccessTokenError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AccessTokenError';
  }
}

/**
 * OAuth2 access tokens for FCM from a service account (RFC 7523 JWT bearer grant): an RS256
 * JWT assertion signed with the account's key is exchanged at the token endpoint; the access
 * token is cached until five minutes before it expires, and concurrent callers share one
 * exchange.
 */
export class FcmAccessToken {
  #token = '';
  #expiresAt = 0;
  #pending: Promise<string> | undefined;
  #key: CryptoKey | KeyObject | undefined;
  /** Exchanges made so far (tests check caching). */
  exchanges = 0;

  constructor(
    private readonly account: ServiceAccount,
    /** A client for the token endpoint's origin. */
    private readonly client: Http2Client,
    private readonly tokenPath: string,
    /** The assertion's audience: the account's token_uri. */
    private readonly audience: string,
  ) {}

  get(): Promise<string> {
    if (this.#token !== '' && Date.now() < this.#expiresAt - EARLY_MS) return Promise.resolve(this.#token);
    return this.#exchange();
  }

  /** FCM refused `token` (401): get a new one unless another request already did. */
  refresh(token: string): Promise<string> {
    if (token !== this.#token && this.#token !== '') return Promise.resolve(this.#token);
    this.#expiresAt = 0;
    return this.#exchange();
  }

  #exchange(): Promise<string> {
    this.#pending ??= this.#fetch().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #fetch(): Promise<string> {
    this.#key ??= await importPKCS8(this.account.privateKey, 'RS256');
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ scope: SCOPE })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .setIssuer(this.account.clientEmail)
      .setAudience(this.audience)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(this.#key);
    const form = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion });
    let res;
    try {
      res = await this.client.request(
        { ':path': this.tokenPath, 'content-type': 'application/x-www-form-urlencoded' },
        form.toString(),
      );
    } catch (err) {
      throw new AccessTokenError('token endpoint unreachable', true, { cause: err });
    }
    this.exchanges++;
    if (res.status !== 200) {
      throw new AccessTokenError(
        `token endpoint answered ${String(res.status)}`,
        res.status === 429 || res.status >= 500,
      );
    }
    let body: { access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(res.body) as typeof body;
    } catch (err) {
      throw new AccessTokenError('token endpoint answered something other than JSON', true, { cause: err });
    }
    if (typeof body.access_token !== 'string' || body.access_token === '') {
      throw new AccessTokenError('token endpoint answered without access_token', true);
    }
    const ttl = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 3600;
    this.#token = body.access_token;
    this.#expiresAt = Date.now() + ttl * 1000;
    return this.#token;
  }
}
