import { readFileSync } from 'node:fs';
import { ErrorCode, ParleyError } from '@parley/protocol';
import { SignJWT, errors as joseErrors, importSPKI, jwtVerify, type CryptoKey, type JWTPayload } from 'jose';

/** Who a verified token speaks for. */
export interface TokenIdentity {
  userId: string;
  /** The `dev` claim, when the app's server pinned the token to one device. */
  deviceId: string | undefined;
  /** Expiry, ms since the epoch. */
  expiresAt: number;
}

export interface TokenVerifierOptions {
  /** HS256 secret shared with the app's server. */
  secret: string;
  /** Optional ES256 public key (PEM, SPKI) also accepted. */
  publicKeyPem?: string;
  issuer?: string;
  audience?: string;
}

const MAX_ID_LENGTH = 128;

/**
 * Verifies user tokens: JWTs the app's own server signs with the app secret (HS256) or its
 * ES256 key. Claims: `sub` user id (required), `exp` (required), `dev` device id (optional).
 */
export class TokenVerifier {
  readonly #secret: Uint8Array;
  readonly #publicKey: Promise<CryptoKey | undefined>;
  readonly #issuer: string | undefined;
  readonly #audience: string | undefined;

  constructor(options: TokenVerifierOptions) {
    this.#secret = new TextEncoder().encode(options.secret);
    this.#publicKey = options.publicKeyPem ? importSPKI(options.publicKeyPem, 'ES256') : Promise.resolve(undefined);
    this.#issuer = options.issuer || undefined;
    this.#audience = options.audience || undefined;
  }

  static fromFiles(options: Omit<TokenVerifierOptions, 'publicKeyPem'> & { publicKeyFile?: string }): TokenVerifier {
    const publicKeyPem = options.publicKeyFile ? readFileSync(options.publicKeyFile, 'utf8') : undefined;
    return new TokenVerifier({ ...options, ...(publicKeyPem ? { publicKeyPem } : {}) });
  }

  /**
   * Checks a chat-room join token: the same kind of JWT with a `room` claim naming the room,
   * issued to this user. Throws PERMISSION_DENIED when it does not fit.
   */
  async verifyRoomToken(token: string, userId: string, roomId: string): Promise<void> {
    let identity: TokenIdentity & { room?: unknown };
    try {
      identity = await this.verify(token);
    } catch (err) {
      throw new ParleyError(ErrorCode.PERMISSION_DENIED, 'this room needs a valid join token', { cause: err });
    }
    if (identity.userId !== userId || identity.room !== roomId) {
      throw new ParleyError(ErrorCode.PERMISSION_DENIED, 'the join token is for another user or room');
    }
  }

  /** Resolves the identity or throws ParleyError TOKEN_EXPIRED / TOKEN_INVALID. */
  async verify(token: string): Promise<TokenIdentity & { room?: unknown }> {
    if (token.length === 0 || token.length > 8192) throw invalid('token is empty or too long');
    const alg = algOf(token);
    const publicKey = await this.#publicKey;
    let payload: JWTPayload;
    try {
      const options = {
        algorithms: [alg === 'ES256' && publicKey ? 'ES256' : 'HS256'],
        requiredClaims: ['sub', 'exp'],
        ...(this.#issuer ? { issuer: this.#issuer } : {}),
        ...(this.#audience ? { audience: this.#audience } : {}),
      };
      const key = alg === 'ES256' && publicKey ? publicKey : this.#secret;
      ({ payload } = await jwtVerify(token, key, options));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) {
        throw new ParleyError(ErrorCode.TOKEN_EXPIRED, 'token has expired; get a new one from the app server', {
          cause: err,
        });
      }
      throw invalid('token signature or claims are not valid', err);
    }
    const userId = payload.sub ?? '';
    const dev: unknown = payload.dev;
    if (!validId(userId)) throw invalid('token subject must be a user id of 1 to 128 characters');
    if (dev !== undefined && (typeof dev !== 'string' || !validId(dev)))
      throw invalid('token dev claim is not a valid device id');
    return { userId, deviceId: dev, expiresAt: (payload.exp ?? 0) * 1000, room: payload.room };
  }
}

/** Issues an HS256 user token, as the app's server would (used by `parley token` and the dev endpoint). */
export async function issueToken(options: {
  secret: string;
  userId: string;
  deviceId?: string;
  /** Makes a chat-room join token for this room. */
  room?: string;
  ttlSeconds?: number;
  issuer?: string;
  audience?: string;
}): Promise<string> {
  if (!validId(options.userId))
    throw new ParleyError(ErrorCode.INVALID_ARGUMENT, 'user id must be 1 to 128 characters');
  let jwt = new SignJWT({
    ...(options.deviceId ? { dev: options.deviceId } : {}),
    ...(options.room ? { room: options.room } : {}),
  })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(options.userId)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (options.ttlSeconds ?? 24 * 3600));
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  if (options.audience) jwt = jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(options.secret));
}

/** User and device ids: 1..128 characters, no control characters. */
export function validId(id: string): boolean {
  // eslint-disable-next-line no-control-regex
  return id.length > 0 && id.length <= MAX_ID_LENGTH && !/[\u0000-\u001f\u007f]/.test(id);
}

function algOf(token: string): string {
  try {
    const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as {
      alg?: unknown;
    };
    return typeof header.alg === 'string' ? header.alg : '';
  } catch {
    return '';
  }
}

function invalid(message: string, cause?: unknown): ParleyError {
  return new ParleyError(ErrorCode.TOKEN_INVALID, message, cause === undefined ? undefined : { cause });
}
