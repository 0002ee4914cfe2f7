import { ErrorCode } from '@parley/protocol';
import { z } from 'zod';
import type { ClusterAnswers, NodeStats } from '../bus/types.js';
import type { HttpApiParts } from './api.js';
import { errorJson } from './errors.js';
import { type AnyRoute, responseSchema, route } from './route.js';

/** How long an admin call waits for the other nodes by default. */
export const DEFAULT_CLUSTER_TIMEOUT_MS = 2_000;

/** `?timeoutMs=` of the admin routes that ask the other nodes. */
export const ClusterQuery = z.object({
  timeoutMs: z.coerce
    .number()
    .int()
    .min(1)
    .max(30_000)
    .default(DEFAULT_CLUSTER_TIMEOUT_MS)
    .describe(
      'Cluster mode: how long to wait for the other nodes, 1 to 30000 ms (default 2000). ' +
        'Nodes silent by then are listed in `cluster.missing`; the call never waits longer.',
    ),
});

const MissingNodeJson = z.object({
  nodeId: z.string(),
  startedAt: z.number().int().describe('When the node started, ms since the epoch (0 = unknown)'),
  lastSeen: z
    .number()
    .int()
    .describe('When the node last refreshed its entries in Redis, ms since the epoch (0 = unknown)'),
});

/** What every cluster part of an admin answer says about who answered. */
const clusterStatus = {
  complete: z.boolean().describe('Every node asked answered in time: the figures cover the whole cluster'),
  unavailable: z
    .boolean()
    .describe(
      'Redis could not be reached: the figures are this node’s alone (its own part of the work was done); ' +
        'details in `error`',
    ),
  error: z
    .object({ code: z.string(), status: z.number().int(), message: z.string() })
    .optional()
    .describe('Present when `unavailable`: code UNAVAILABLE (retryable)'),
  missing: z
    .array(MissingNodeJson)
    .describe('Nodes asked that did not answer within `timeoutMs` (hung, overloaded, or just died): not counted'),
};

export const ClusterKickJson = z
  .object({
    ...clusterStatus,
    nodes: z
      .array(z.object({ nodeId: z.string(), kicked: z.number().int() }))
      .describe('Sessions closed per node that answered'),
  })
  .describe('Cluster mode only (`--bus redis://`): how the kick went on each node');

const ByTransport = z
  .record(z.string(), z.number().int())
  .describe('Open connections per transport (tcp, tls, ws); transports without any are absent');

export const NodeStatsJson = responseSchema(
  'NodeStats',
  z.object({
    nodeId: z.string(),
    startedAt: z.number().int().describe('When the node started, ms since the epoch'),
    connections: z.number().int().describe('Open connections, logged in or not'),
    connectionsByTransport: ByTransport,
    sessions: z.number().int().describe('Logged-in sessions'),
    usersOnline: z.number().int().describe('Users with at least one session on the node'),
    rooms: z.number().int().describe('Live chat rooms with members on the node'),
  }),
);

export const ClusterStatsJson = z
  .object({
    ...clusterStatus,
    connections: z.number().int().describe('Open connections on every node that answered'),
    connectionsByTransport: ByTransport,
    sessions: z.number().int().describe('Logged-in sessions on every node that answered'),
    nodes: z.array(NodeStatsJson).describe('Each node that answered, this one first'),
  })
  .describe('Cluster mode only (`--bus redis://`): the totals over the nodes that answered');

const NodeJson = NodeStatsJson.partial().extend({
  nodeId: z.string(),
  startedAt: z.number().int().describe('When the node started, ms since the epoch (0 = unknown)'),
  answered: z.boolean().describe('The node answered within `timeoutMs`; if not, its counts are absent'),
  lastSeen: z
    .number()
    .int()
    .describe('When the node was last heard from: now if it answered, else its last refresh in Redis'),
});
const NodesJson = responseSchema(
  'Nodes',
  z.object({
    ...clusterStatus,
    nodes: z
      .array(NodeJson)
      .describe('The live nodes: those that answered first (this one first), then the silent ones'),
  }),
);

/** The status fields of a cluster answer (who answered, who did not, whether Redis could be asked). */
export function clusterStatusJson(result: ClusterAnswers<unknown>) {
  return {
    complete: !result.unavailable && result.missing.length === 0,
    unavailable: result.unavailable,
    ...(result.unavailable
      ? {
          error: errorJson(ErrorCode.UNAVAILABLE, 'the cluster (Redis) is unreachable: this node’s figures only').error,
        }
      : {}),
    missing: result.missing,
  };
}

/** Totals over the nodes that answered. */
export function clusterStatsJson(result: ClusterAnswers<NodeStats>) {
  const nodes = result.answers.map((a) => a.value);
  const connectionsByTransport: Record<string, number> = {};
  for (const n of nodes) {
    for (const [t, count] of Object.entries(n.connectionsByTransport)) {
      connectionsByTransport[t] = (connectionsByTransport[t] ?? 0) + count;
    }
  }
  return {
    ...clusterStatusJson(result),
    connections: nodes.reduce((sum, n) => sum + n.connections, 0),
    connectionsByTransport,
    sessions: nodes.reduce((sum, n) => sum + n.sessions, 0),
    nodes,
  };
}

/** GET /v1/nodes. */
export function nodeRoutes(parts: HttpApiParts): AnyRoute[] {
  const { ctx } = parts;
  return [
    route({
      method: 'get',
      path: '/v1/nodes',
      operationId: 'listNodes',
      tag: 'users',
      summary: 'The nodes of the cluster, with their connections',
      description:
        'Asks every live node (as Redis tells: its refreshes have not lapsed) for its counts and waits at most ' +
        '`timeoutMs`. A node that does not answer in time is listed with `answered: false` and its last refresh. ' +
        'A dead node drops out once its entries lapse (cluster.presenceTtlMs). Redis down: this node alone, ' +
        '`unavailable: true`. With the in-process bus: this node.',
      admin: true,
      query: ClusterQuery,
      ok: { description: 'The nodes', schema: NodesJson },
      handle: async ({ query }) => {
        const result = await ctx.bus.nodeStats(query.timeoutMs);
        const now = Date.now();
        return {
          json: {
            ...clusterStatusJson(result),
            nodes: [
              ...result.answers.map((a) => ({ ...a.value, answered: true, lastSeen: now })),
              ...result.missing.map((m) => ({ ...m, answered: false })),
            ],
          },
        };
      },
    }),
  ];
}
