import { createHash, timingSafeEqual } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { ErrorCode, ParleyError } from '@parley/protocol';
import { type Context, Hono } from 'hono';
import type { z } from 'zod';
import type { ServerAddresses, StartedServer } from '../server.js';
import { nodeRoutes } from './cluster.js';
import { conversationRoutes } from './conversations.js';
import { readBody } from './body.js';
import { describeIssues, errorResponse, invalidArgument } from './errors.js';
import { operationRoutes } from './operations.js';
import type { AnyRoute } from './route.js';
import { configuredEndpoints, endpointsRoute } from './endpoints-route.js';
import { pushRoutes } from './push.js';
import { shortLinkRoute } from './short-link.js';
import { serveWebApp, webDirOf } from './static-web.js';
import { userRoutes } from './users.js';

/** What the HTTP API needs of a started server. */
export type HttpApiParts = Pick<StartedServer, 'ctx' | 'adminKey' | 'appSecret' | 'sweeper'> & {
  /** The listeners once bound (ports chosen by the OS included); until then the configured ones are advertised. */
  boundAddresses?: ServerAddresses | undefined;
};

export interface HttpApiOptions {
  /** Largest request body accepted; larger ones get 413. Default 1 MiB. */
  maxBodyBytes?: number;
}

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/**
 * Installs the REST API as the request handler of the server's http.Server (the WebSocket
 * gateway shares it through the 'upgrade' event). Pass it as `ServerOptions.http`.
 */
export function installHttpApi(server: HttpServer, parts: HttpApiParts, options: HttpApiOptions = {}): void {
  const app = createHttpApp(parts, options);
  // overrideGlobalObjects: false leaves the process's global Request/Response alone.
  const listener = getRequestListener(app.fetch, { overrideGlobalObjects: false });
  server.on('request', (req, res) => {
    void listener(req, res);
  });
}

/** The API as a Hono app (also usable with `app.request()` without a socket). */
export function createHttpApp(parts: HttpApiParts, options: HttpApiOptions = {}): Hono {
  const { ctx } = parts;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const routes: AnyRoute[] = [];
  routes.push(
    ...operationRoutes(parts, routes),
    ...userRoutes(parts),
    ...nodeRoutes(parts),
    ...conversationRoutes(parts),
    ...pushRoutes(parts),
    shortLinkRoute(parts, maxBodyBytes),
    endpointsRoute(() => parts.boundAddresses ?? configuredEndpoints(ctx.config)),
  );

  const app = new Hono();
  for (const r of routes) {
    app.on(r.method.toUpperCase(), honoPath(r.path), (c) => run(r, c));
  }
  // Any other GET (and HEAD) is a file or a route of the web app.
  const webDir = webDirOf(ctx.config);
  app.get('*', (c) => serveWebApp(webDir, c.req.raw));
  app.notFound((c) => errorResponse(ErrorCode.NOT_FOUND, `no route ${c.req.method} ${c.req.path}`));
  app.onError((err, c) => {
    if (err instanceof ParleyError) {
      ctx.metrics.errors.inc({ code: err.codeName });
      return errorResponse(err.code, err.message);
    }
    ctx.logger.error({ err, method: c.req.method, path: c.req.path }, 'http api error');
    ctx.metrics.errors.inc({ code: 'INTERNAL' });
    return errorResponse(ErrorCode.INTERNAL, 'internal error');
  });

  const adminKey = parts.adminKey.value;
  async function run(r: AnyRoute, c: Context): Promise<Response> {
    r.guard?.();
    if (r.admin && !authorized(c.req.header('authorization'), adminKey)) {
      return errorResponse(ErrorCode.UNAUTHENTICATED, 'send the admin key as "Authorization: Bearer <admin key>"', {
        'www-authenticate': 'Bearer realm="parley"',
      });
    }
    const query = r.query ? validate(r.query, c.req.query(), 'query') : undefined;
    const body = r.body ? validate(r.body, await readJson(c.req.raw, maxBodyBytes), 'body') : undefined;
    const reply = await r.handle({ c, params: c.req.param(), query, body });
    if (reply instanceof Response) return reply;
    return json(reply.json, reply.status ?? 200);
  }
  return app;
}

export function json(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8' },
  });
}

/** `/v1/conversations/{id}` to Hono's `/v1/conversations/:id`. */
function honoPath(path: string): string {
  return path.replace(/\{([^}]+)\}/g, ':$1');
}

/** Compares the bearer token to the admin key in constant time (hashes make the lengths equal). */
function authorized(header: string | undefined, adminKey: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!match?.[1]) return false;
  const given = createHash('sha256').update(match[1]).digest();
  const expected = createHash('sha256').update(adminKey).digest();
  return timingSafeEqual(given, expected);
}

function validate<S extends z.ZodType>(schema: S, input: unknown, where: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw invalidArgument(`invalid ${where}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** Reads a JSON body up to `limit` bytes; an empty body is `{}`. */
async function readJson(request: Request, limit: number): Promise<unknown> {
  const text = (await readBody(request, limit)).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalidArgument('request body is not valid JSON');
  }
}
