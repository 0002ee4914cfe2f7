import { createRequire } from 'node:module';
import { ErrorCode } from '@parley/protocol';
import { z } from 'zod';
import type { HttpApiParts } from './api.js';
import { errorResponse } from './errors.js';
import { openApiDocument } from './openapi.js';
import { type AnyRoute, responseSchema, route } from './route.js';
import { serveWebApp, webDirOf } from './static-web.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

const READY_TIMEOUT_MS = 2_000;

const Health = responseSchema('Health', z.object({ status: z.literal('ok') }));
const Ready = responseSchema('Ready', z.object({ status: z.literal('ready') }));

/** Health, readiness, metrics, the OpenAPI document and the web app's root page: no admin key. */
export function operationRoutes(parts: HttpApiParts, allRoutes: readonly AnyRoute[]): AnyRoute[] {
  const { ctx } = parts;
  let openApi: string | undefined;
  return [
    route({
      method: 'get',
      path: '/healthz',
      operationId: 'health',
      tag: 'operations',
      summary: 'Liveness: the process answers',
      admin: false,
      ok: { description: 'The process is up', schema: Health },
      handle: () => ({ json: { status: 'ok' } }),
    }),
    route({
      method: 'get',
      path: '/readyz',
      operationId: 'ready',
      tag: 'operations',
      summary: 'Readiness: not draining and the store answers',
      admin: false,
      ok: { description: 'Ready for traffic', schema: Ready },
      errors: { 503: 'Draining (SHUTTING_DOWN) or the store does not answer (UNAVAILABLE)' },
      handle: async () => {
        if (ctx.draining) return errorResponse(ErrorCode.SHUTTING_DOWN, 'the server is shutting down');
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            ctx.store.userVersion(''),
            new Promise((_, reject) => {
              timer = setTimeout(() => {
                reject(new Error(`no answer within ${String(READY_TIMEOUT_MS)} ms`));
              }, READY_TIMEOUT_MS);
            }),
          ]);
        } catch (err) {
          ctx.logger.warn({ err }, 'readiness check: the store does not answer');
          return errorResponse(ErrorCode.UNAVAILABLE, 'the store does not answer');
        } finally {
          clearTimeout(timer);
        }
        return { json: { status: 'ready' } };
      },
    }),
    route({
      method: 'get',
      path: '/metrics',
      operationId: 'metrics',
      tag: 'operations',
      summary: 'Prometheus metrics',
      admin: false,
      ok: { description: 'Metrics in the Prometheus text format', contentType: 'text/plain' },
      handle: async () =>
        new Response(await ctx.metrics.registry.metrics(), {
          headers: { 'content-type': ctx.metrics.registry.contentType },
        }),
    }),
    route({
      method: 'get',
      path: '/openapi.json',
      operationId: 'openapi',
      tag: 'operations',
      summary: 'This API as an OpenAPI 3.1 document',
      admin: false,
      ok: { description: 'The OpenAPI document', contentType: 'application/json' },
      handle: () =>
        new Response((openApi ??= JSON.stringify(openApiDocument(allRoutes, version), null, 2)), {
          headers: { 'content-type': 'application/json; charset=utf-8' },
        }),
    }),
    route({
      method: 'get',
      path: '/',
      operationId: 'root',
      tag: 'operations',
      summary: 'The web app (packages/web/dist; its routes get index.html too)',
      description: 'A page that says how to build the web app (status 404) while it is not built.',
      admin: false,
      ok: { description: 'An HTML page', contentType: 'text/html' },
      errors: { 404: 'The web app is not built' },
      handle: ({ c }) => serveWebApp(webDirOf(ctx.config), c.req.raw),
    }),
  ];
}
