import { type CryptoKey, type KeyObject, SignJWT, importPKCS8 } from 'jose';

/** Apple asks for a fresh token at least hourly and no more than once every 20 minutes. */
const REFRESH_AFTER_MS = 45 * 60_000;

/**
 * The APNs provider token: an ES256 JWT (`kid` = key id, `iss` = team id, `iat`), signed with
 * the .p8 key, cached and reused for every request until it is 45 minutes old (never minted
 * per request: APNs answers TooManyProviderTokenUpdates to that).
 */
export class ApnsProviderToken {
  #token = '';
  #issuedAt = 0;
  #minting: Promise<string> | undefined;
  /** Tokens minted so far (tests check reuse). */
  minted = 0;

  private constructor(
    private readonly key: CryptoKey | KeyObject,
    private readonly teamId: string,
    private readonly keyId: string,
    private readonly clock: () => number = Date.now,
  ) {}

  static async fromPem(pem: string, teamId: string, keyId: string, clock?: () => number): Promise<ApnsProviderToken> {
    return new ApnsProviderToken(await importPKCS8(pem, 'ES256'), teamId, keyId, clock);
  }

  /** The current token, minting one when there is none or it is due for refresh. */
  async get(): Promise<string> {
    const now = this.clock();
    if (this.#token !== '' && now - this.#issuedAt < REFRESH_AFTER_MS) return this.#token;
    return this.#mint(now);
  }

  /**
   * APNs answered ExpiredProviderToken to `token`: mint a new one, unless another request
   * already replaced it (concurrent failures with one token mint once).
   */
  async refresh(token: string): Promise<string> {
    if (token !== this.#token && this.#token !== '') return this.#token;
    return this.#mint(this.clock());
  }

  #mint(now: number): Promise<string> {
    this.#minting ??= this.#sign(now).finally(() => {
      this.#minting = undefined;
    });
    return this.#minting;
  }

  async #sign(now: number): Promise<string> {
    const token = await new SignJWT({ iss: this.teamId, iat: Math.floor(now / 1000) })
      .setProtectedHeader({ alg: 'ES256', kid: this.keyId })
      .sign(this.key);
    this.#token = token;
    this.#issuedAt = now;
    this.minted++;
    return token;
  }
}
