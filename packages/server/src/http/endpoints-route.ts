import { isIP } from 'node:net';
import { z } from 'zod';
import type { Config } from '../config.js';
import { DEFAULT_WS_PATH } from '../gateway/ws-gateway.js';
import { type AnyRoute, responseSchema, route } from './route.js';

/** Where one listener is bound (a subset of `net.AddressInfo`). */
export interface BoundAddress {
  address: string;
  port: number;
}

/** The bound listeners to advertise; a missing one is left out of the list. */
export interface BoundEndpoints {
  tcp?: BoundAddress | undefined;
  tls?: BoundAddress | undefined;
  /** The HTTP server, which also carries WebSocket on `wsPath`. */
  http?: BoundAddress | undefined;
  /** Default "/ws". */
  wsPath?: string | undefined;
}

/** The `GET /v1/endpoints` body. */
export interface EndpointsJson {
  tcp: string[];
  tls: string[];
  ws: string[];
  ttlSeconds: number;
}

/** How long clients may keep the list. */
export const DEFAULT_ENDPOINTS_TTL_SECONDS = 300;

const EndpointsResponse = responseSchema(
  'Endpoints',
  z.object({
    tcp: z.array(z.string()).describe('TCP gateway addresses, "host:port" ("[v6]:port" for IPv6)'),
    tls: z.array(z.string()).describe('TLS gateway addresses, "host:port"'),
    ws: z.array(z.string()).describe('WebSocket URLs'),
    ttlSeconds: z.number().int().describe('How long a client may keep this list'),
  }),
);

/**
 * Builds the address list. A listener bound to a wildcard (0.0.0.0, ::) is advertised
 * under `requestHost`, the name the client used to reach the HTTP API, since a wildcard
 * is no address to connect to; without one it is left out.
 */
export function buildEndpoints(
  bound: BoundEndpoints,
  options: { requestHost?: string | undefined; ttlSeconds?: number } = {},
): EndpointsJson {
  const hostOf = (a: BoundAddress): string | undefined => {
    const wildcard = a.address === '0.0.0.0' || a.address === '::' || a.address === '';
    const host = wildcard ? options.requestHost : a.address;
    if (host === undefined || host === '') return undefined;
    return isIP(host) === 6 ? `[${host}]` : host;
  };
  const hostPort = (a: BoundAddress | undefined): string[] => {
    const host = a && hostOf(a);
    return a && host ? [`${host}:${a.port}`] : [];
  };
  const ws = hostPort(bound.http).map((hp) => `ws://${hp}${bound.wsPath ?? DEFAULT_WS_PATH}`);
  return {
    tcp: hostPort(bound.tcp),
    tls: hostPort(bound.tls),
    ws,
    ttlSeconds: options.ttlSeconds ?? DEFAULT_ENDPOINTS_TTL_SECONDS,
  };
}

/**
 * The bound addresses as the config describes them, for when the real ones are not at
 * hand: right whenever the ports are fixed; a gateway on port 0 is left out (its port is
 * only known once bound).
 */
export function configuredEndpoints(
  config: Pick<Config, 'host' | 'tcp' | 'tls' | 'tcpPort' | 'tlsPort' | 'httpPort'>,
): BoundEndpoints {
  const at = (on: boolean, port: number) => (on && port > 0 ? { address: config.host, port } : undefined);
  return { tcp: at(config.tcp, config.tcpPort), tls: at(config.tls, config.tlsPort), http: at(true, config.httpPort) };
}

/**
 * `GET /v1/endpoints` (no auth): the server's public addresses, for clients that keep an
 * IP fallback list or skip DNS. `bound` is read on every request, so it can return the
 * listeners' real addresses once they are bound.
 */
export function endpointsRoute(bound: () => BoundEndpoints, options: { ttlSeconds?: number } = {}): AnyRoute {
  return route({
    method: 'get',
    path: '/v1/endpoints',
    operationId: 'getEndpoints',
    tag: 'operations',
    summary: "The server's gateway addresses",
    description:
      'Where the TCP, TLS and WebSocket gateways listen, for clients to keep as their IP fallback list ' +
      '(DNS pollution) and refresh after `ttlSeconds`. A gateway bound to a wildcard address is listed ' +
      'under the host name this request was sent to.',
    admin: false,
    ok: { description: 'The address list', schema: EndpointsResponse },
    handle: ({ c }) => {
      const requestHost = hostFromHeader(c.req.header('host'));
      const ttlSeconds = options.ttlSeconds ?? DEFAULT_ENDPOINTS_TTL_SECONDS;
      const body = buildEndpoints(bound(), { requestHost, ttlSeconds });
      // The body may echo the Host header: shared caches must keep one copy per host.
      return new Response(JSON.stringify(body), {
        status: 200,
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'cache-control': `max-age=${ttlSeconds}`,
          vary: 'host',
        },
      });
    },
  });
}

/** The host part of a Host header ("example.com:7180", "[::1]:7180"), when it is well formed. */
function hostFromHeader(header: string | undefined): string | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([a-zA-Z0-9.-]+))(?::\d{1,5})?$/.exec(header ?? '');
  return (match?.[1] ?? match?.[2])?.toLowerCase();
}
