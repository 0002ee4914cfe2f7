import { ErrorCode, ParleyError } from '@parley/protocol';
import { decodeJwt } from 'jose';
import { z } from 'zod';
import { issueToken, validId } from '../auth/tokens.js';
import type { HttpApiParts } from './api.js';
import { invalidArgument } from './errors.js';
import { PresenceJson, presenceToJson } from './json.js';
import { type AnyRoute, requestSchema, responseSchema, route } from './route.js';

export const Id = z.string().refine(validId, { error: 'must be 1 to 128 characters without control characters' });

const MAX_TTL_SECONDS = 366 * 24 * 3600;

const TokenRequest = requestSchema(
  'TokenRequest',
  z.object({
    userId: Id.describe('The user the token speaks for (its `sub` claim)'),
    deviceId: Id.optional().describe('Pins the token to one device (its `dev` claim)'),
    ttlSeconds: z.number().int().min(1).max(MAX_TTL_SECONDS).optional().describe('Lifetime; default one day'),
    room: z.string().min(1).max(128).optional().describe('Makes a chat-room join token for this room'),
  }),
);
const DevTokenRequest = requestSchema('DevTokenRequest', z.object({ userId: Id, deviceId: Id.optional() }));
const TokenResponse = responseSchema(
  'TokenResponse',
  z.object({
    token: z.string().describe('A JWT (HS256, signed with the app secret) for LOGIN'),
    expiresAt: z.number().int().describe('Expiry, ms since the epoch'),
  }),
);
const KickRequest = requestSchema(
  'KickRequest',
  z.object({
    deviceId: Id.optional().describe("Only this device's session; all the user's sessions when absent"),
    reason: z.string().max(500).optional().describe('Shown to the client in the KICK push'),
  }),
);
const KickResponse = responseSchema(
  'KickResponse',
  z.object({ kicked: z.number().int().describe('Sessions closed on this node') }),
);
responseSchema('Presence', PresenceJson);
const Stats = responseSchema(
  'Stats',
  z.object({
    connections: z.number().int().describe('Open connections, logged in or not'),
    sessions: z.number().int().describe('Logged-in sessions'),
    usersOnline: z.number().int().describe('Users with at least one session on this node'),
    rooms: z.number().int().describe('Live chat rooms'),
    uptimeSeconds: z.number(),
    memory: z.object({
      rss: z.number(),
      heapTotal: z.number(),
      heapUsed: z.number(),
      external: z.number(),
      arrayBuffers: z.number(),
    }),
  }),
);

const USER_PARAM = { userId: 'User id (URL-encoded)' };

/** Tokens, sessions, presence, stats. */
export function userRoutes(parts: HttpApiParts): AnyRoute[] {
  const { ctx, appSecret } = parts;
  const startedAt = Date.now();

  async function token(userId: string, deviceId?: string, ttlSeconds?: number, room?: string) {
    const token = await issueToken({
      secret: appSecret,
      userId,
      ...(deviceId ? { deviceId } : {}),
      ...(ttlSeconds ? { ttlSeconds } : {}),
      ...(room ? { room } : {}),
      ...(ctx.config.tokenIssuer ? { issuer: ctx.config.tokenIssuer } : {}),
      ...(ctx.config.tokenAudience ? { audience: ctx.config.tokenAudience } : {}),
    });
    return { token, expiresAt: (decodeJwt(token).exp ?? 0) * 1000 };
  }

  return [
    route({
      method: 'post',
      path: '/v1/tokens',
      operationId: 'issueToken',
      tag: 'tokens',
      summary: 'Issue a user token',
      description: "What the app's own server does when its user signs in: the client logs in with this token.",
      admin: true,
      body: TokenRequest,
      ok: { description: 'The token', schema: TokenResponse },
      handle: async ({ body }) => ({ json: await token(body.userId, body.deviceId, body.ttlSeconds, body.room) }),
    }),
    route({
      method: 'post',
      path: '/v1/dev/token',
      operationId: 'devToken',
      tag: 'tokens',
      summary: 'Issue a user token without the admin key (development only)',
      description:
        'For signing in to the web app during development. On only when `devTokens` is true, which it is by ' +
        'default in development mode; 404 otherwise (production mode).',
      admin: false,
      body: DevTokenRequest,
      ok: { description: 'The token', schema: TokenResponse },
      errors: { 404: 'Dev tokens are off (production mode)' },
      guard: () => {
        if (ctx.config.devTokens !== true) {
          throw new ParleyError(ErrorCode.NOT_FOUND, 'dev tokens are off (production mode, or devTokens false)');
        }
      },
      handle: async ({ body }) => ({ json: await token(body.userId, body.deviceId) }),
    }),
    route({
      method: 'post',
      path: '/v1/users/{userId}/kick',
      operationId: 'kickUser',
      tag: 'users',
      summary: "Disconnect a user's sessions",
      description:
        'Sends KICK (KICKED_BY_ADMIN) and closes the sessions on this node; clients do not reconnect by themselves.',
      admin: true,
      params: USER_PARAM,
      body: KickRequest,
      ok: { description: 'How many sessions were closed', schema: KickResponse },
      handle: ({ params, body }) => {
        const userId = userParam(params);
        const sessions = ctx.registry
          .sessionsOf(userId)
          .filter((s) => body.deviceId === undefined || s.deviceId === body.deviceId);
        for (const s of [...sessions]) s.kick(ErrorCode.KICKED_BY_ADMIN, body.reason ?? 'disconnected by the app');
        ctx.logger.info({ user: userId, device: body.deviceId, kicked: sessions.length }, 'admin kick');
        return { json: { kicked: sessions.length } };
      },
    }),
    route({
      method: 'get',
      path: '/v1/users/{userId}/presence',
      operationId: 'getPresence',
      tag: 'users',
      summary: "A user's online status",
      admin: true,
      params: USER_PARAM,
      ok: { description: 'The status', schema: PresenceJson },
      handle: async ({ params }) => ({ json: presenceToJson(await ctx.presence.status(userParam(params))) }),
    }),
    route({
      method: 'get',
      path: '/v1/stats',
      operationId: 'getStats',
      tag: 'users',
      summary: 'Counts of connections, sessions, users and rooms on this node',
      admin: true,
      ok: { description: 'The counts', schema: Stats },
      handle: () => {
        const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
        return {
          json: {
            connections: parts.sweeper.size,
            sessions: ctx.registry.sessionCount,
            usersOnline: ctx.registry.userCount,
            rooms: ctx.rooms.roomCount,
            uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
            memory: { rss, heapTotal, heapUsed, external, arrayBuffers },
          },
        };
      },
    }),
  ];
}

export function userParam(params: Record<string, string>, name = 'userId'): string {
  const id = params[name] ?? '';
  if (!validId(id)) throw invalidArgument(`${name} must be 1 to 128 characters without control characters`);
  return id;
}
