// Development sign-in: the server's POST /v1/dev/token (on in development mode only) gives a
// token for any user name. A real deployment gets tokens from the app's own server instead.
import { IndexedDbKeyValueStore, ParleyClient, pb, ulid, webSocketTransport } from '@parley/client';

const USER_KEY = 'parley.user';

/** A sign-in that the server refused, with the reason to show. */
export class SignInError extends Error {
  override readonly name = 'SignInError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

interface TokenAnswer {
  token?: string;
  error?: { code?: string; message?: string };
}

/** Asks the server's development endpoint for a token. */
export async function devToken(userId: string, deviceId: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch('/v1/dev/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId, deviceId }),
    });
  } catch {
    throw new SignInError('The server cannot be reached. Check your connection and try again.', 0);
  }
  const answer = (await res.json().catch(() => ({}))) as TokenAnswer;
  if (res.status === 404) {
    throw new SignInError('Development sign-in is off on this server (it runs in production mode).', 404);
  }
  if (!res.ok || !answer.token) {
    throw new SignInError(answer.error?.message ?? `Sign-in failed (HTTP ${String(res.status)}).`, res.status);
  }
  return answer.token;
}

/** One id per browser and user, so the server sees one device across reloads. */
function deviceIdFor(userId: string): string {
  const key = `parley.device.${userId}`;
  let id = localStorage.getItem(key);
  if (!id) {
    id = `web-${ulid()}`;
    localStorage.setItem(key, id);
  }
  return id;
}

export function savedUser(): string | undefined {
  return localStorage.getItem(USER_KEY) ?? undefined;
}

export function forgetUser(): void {
  localStorage.removeItem(USER_KEY);
}

/** Checks the name with the server (a first token), then makes the user's client. */
export async function signIn(userId: string): Promise<ParleyClient> {
  const deviceId = deviceIdFor(userId);
  let first: string | undefined = await devToken(userId, deviceId);
  localStorage.setItem(USER_KEY, userId);
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  return new ParleyClient({
    transport: webSocketTransport({ url }),
    token: async () => {
      const token = first ?? (await devToken(userId, deviceId));
      first = undefined;
      return token;
    },
    deviceId,
    platform: pb.Platform.WEB,
    // One IndexedDB database per user: the outbox, the sync cursor and the list survive reloads.
    storage: new IndexedDbKeyValueStore({ database: `parley:${userId}` }),
  });
}
