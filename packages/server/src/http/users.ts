import { ErrorCode, ParleyError } from '@parley/protocol';
import { decodeJwt } from 'jose';
import { z } from 'zod';
import { issueToken, validId } from '../auth/tokens.js';
import type { HttpApiParts } from './api.js';
import { invalidArgument } from './errors.js';
import { ClusterKickJson, ClusterQuery, ClusterStatsJson, clusterStatsJson, clusterStatusJson } from './cluster.js';
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
    sessionId: Id.optional().describe('Only this session (an id from GET /v1/users/{userId}/sessions)'),
    reason: z.string().max(500).optional().describe('Shown to the client in the KICK push'),
  }),
);
const KickResponse = responseSchema(
  'KickResponse',
  z.object({
    kicked: z
      .number()
      .int()
      .describe('Sessions closed: on every node that answered in cluster mode, else on this node'),
    cluster: ClusterKickJson.optional(),
  }),
);
responseSchema('Presence', PresenceJson);
const Stats = responseSchema(
  'Stats',
  z.object({
    nodeId: z.string().describe('This node'),
    connections: z.number().int().describe('Open connections on this node, logged in or not'),
    connectionsByTransport: z
      .record(z.string(), z.number().int())
      .describe('Open connections on this node per transport'),
    sessions: z.number().int().describe('Logged-in sessions on this node'),
    usersOnline: z.number().int().describe('Users with at least one session on this node'),
    rooms: z.number().int().describe('Live chat rooms on this node'),
    uptimeSeconds: z.number(),
    memory: z.object({
      rss: z.number(),
      heapTotal: z.number(),
      heapUsed: z.number(),
      external: z.number(),
      arrayBuffers: z.number(),
    }),
    cluster: ClusterStatsJson.optional(),
  }),
);
const SessionJson = z.object({
  nodeId: z.string(),
  sessionId: z.string(),
  deviceId: z.string(),
  platform: z.number().int().describe('Platform enum value of the wire protocol (1 iOS, 2 Android, ...)'),
  transport: z.string().describe('tcp, tls or ws'),
  openedAt: z.number().int().describe('When the connection opened, ms since the epoch'),
});
const Sessions = responseSchema(
  'Sessions',
  z.object({
    sessions: z.array(SessionJson).describe("The user's logged-in sessions on every node that answered"),
    cluster: ClusterKickJson.omit({ nodes: true })
      .optional()
      .describe('Cluster mode only (`--bus redis://`): which nodes answered'),
  }),
);

const CLUSTER_NOTE =
  ' In cluster mode (`--bus redis://`) the call reaches every node concerned over Redis and waits at most ' +
  '`timeoutMs` for their answers; `cluster` says which nodes answered. Redis unreachable: this node acts and ' +
  'answers alone, `cluster.unavailable` is true and `cluster.error.code` is UNAVAILABLE (status still 200).';

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
      summary: "Disconnect a user's sessions (all, one device's, or one session)",
      description:
        'Sends KICK (KICKED_BY_ADMIN) and closes the matching sessions; clients do not reconnect by themselves.' +
        CLUSTER_NOTE,
      admin: true,
      params: USER_PARAM,
      query: ClusterQuery,
      body: KickRequest,
      ok: { description: 'How many sessions were closed', schema: KickResponse },
      handle: async ({ params, body, query }) => {
        const userId = userParam(params);
        const target = {
          userId,
          ...(body.deviceId !== undefined ? { deviceId: body.deviceId } : {}),
          ...(body.sessionId !== undefined ? { sessionId: body.sessionId } : {}),
        };
        const reason = body.reason ?? 'disconnected by the app';
        const result = await ctx.bus.kickSessions(target, ErrorCode.KICKED_BY_ADMIN, reason, query.timeoutMs);
        const kicked = result.answers.reduce((sum, a) => sum + a.value, 0);
        if (!ctx.bus.clustered) return { json: { kicked } };
        ctx.logger.info(
          {
            user: userId,
            device: body.deviceId,
            kicked,
            missing: result.missing.length,
            unavailable: result.unavailable,
          },
          'admin kick across the cluster',
        );
        const nodes = result.answers.map((a) => ({ nodeId: a.nodeId, kicked: a.value }));
        return { json: { kicked, cluster: { ...clusterStatusJson(result), nodes } } };
      },
    }),
    route({
      method: 'get',
      path: '/v1/users/{userId}/sessions',
      operationId: 'listSessions',
      tag: 'users',
      summary: "A user's logged-in sessions",
      description: 'Each session with its node, device, platform and transport.' + CLUSTER_NOTE,
      admin: true,
      params: USER_PARAM,
      query: ClusterQuery,
      ok: { description: 'The sessions', schema: Sessions },
      handle: async ({ params, query }) => {
        const result = await ctx.bus.userSessions(userParam(params), query.timeoutMs);
        const sessions = result.answers.flatMap((a) => a.value);
        if (!ctx.bus.clustered) return { json: { sessions } };
        return { json: { sessions, cluster: clusterStatusJson(result) } };
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
      summary: 'Counts of connections, sessions, users and rooms: this node, and the cluster',
      description:
        'The top-level counts are this node’s. In cluster mode `cluster` adds the totals over every live node ' +
        '(per node and per transport), asked over Redis with a wait of at most `timeoutMs`; a dead node drops ' +
        'out once its entries lapse (cluster.presenceTtlMs). Redis unreachable: `cluster.unavailable` is true ' +
        'and the totals are this node’s. See also GET /v1/nodes.',
      admin: true,
      query: ClusterQuery,
      ok: { description: 'The counts', schema: Stats },
      handle: async ({ query }) => {
        const result = await ctx.bus.nodeStats(query.timeoutMs);
        const own = result.answers[0]?.value;
        const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
        return {
          json: {
            nodeId: ctx.bus.nodeId,
            connections: own?.connections ?? parts.sweeper.size,
            connectionsByTransport: own?.connectionsByTransport ?? {},
            sessions: ctx.registry.sessionCount,
            usersOnline: ctx.registry.userCount,
            rooms: ctx.rooms.roomCount,
            uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
            memory: { rss, heapTotal, heapUsed, external, arrayBuffers },
            ...(ctx.bus.clustered ? { cluster: clusterStatsJson(result) } : {}),
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
