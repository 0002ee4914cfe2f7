import { z } from 'zod';
import { ErrorJson } from './errors.js';
import { AttachmentJson, MessageContentJson, SystemEventJson } from './json.js';
import { type AnyRoute, requestSchemas, responseSchema, responseSchemas } from './route.js';

responseSchema('Error', ErrorJson);
responseSchema('MessageContent', MessageContentJson);
responseSchema('Attachment', AttachmentJson);
responseSchema('SystemEvent', SystemEventJson);

const COMMON_ERRORS: Record<number, string> = {
  500: 'Unexpected server fault (INTERNAL)',
};

type JsonObject = Record<string, unknown>;

/** An OpenAPI 3.1 document of the routes, with schemas generated from their zod schemas. */
export function openApiDocument(routes: readonly AnyRoute[], version: string): JsonObject {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const item = (paths[r.path] ??= {});
    item[r.method] = operation(r);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Parley HTTP API',
      version,
      description:
        'Admin API of a Parley server: user tokens, conversations, members, system messages, history, ' +
        'sessions, presence, stats. Every /v1 route except /v1/dev/token, /v1/endpoints, /v1/push/web/vapid-public-key and /v1/link (user token) needs ' +
        '`Authorization: Bearer <admin key>`. ' +
        'Errors are `{"error": {"code", "status", "message"}}`. See docs/api.md.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    tags: [
      { name: 'operations', description: 'Health, readiness, metrics, this document' },
      { name: 'tokens', description: 'User tokens for the client SDKs' },
      { name: 'conversations', description: 'Conversations, members, system messages, history' },
      { name: 'users', description: 'Sessions and presence of users' },
      { name: 'push', description: 'Push registrations, notification preferences, the Web Push VAPID key' },
    ],
    paths,
    components: {
      schemas: { ...schemasOf(requestSchemas, 'input'), ...schemasOf(responseSchemas, 'output') },
      securitySchemes: {
        adminKey: {
          type: 'http',
          scheme: 'bearer',
          description: 'The admin key (PARLEY_ADMIN_KEY, or the admin-key file in the data dir)',
        },
      },
    },
  };
}

function operation(r: AnyRoute): JsonObject {
  const parameters: JsonObject[] = [];
  for (const name of pathParams(r.path)) {
    parameters.push({
      name,
      in: 'path',
      required: true,
      description: r.params?.[name] ?? name,
      schema: { type: 'string' },
    });
  }
  if (r.query) {
    for (const [name, field] of Object.entries(r.query.shape)) {
      const schema = stripMeta(z.toJSONSchema(field, { io: 'input', unrepresentable: 'any' }));
      const description = typeof schema.description === 'string' ? schema.description : undefined;
      delete schema.description;
      parameters.push({ name, in: 'query', required: false, ...(description ? { description } : {}), schema });
    }
  }
  const responses: Record<string, unknown> = {};
  const ok = r.ok;
  responses[String(ok.status ?? 200)] = {
    description: ok.description,
    ...(ok.schema
      ? { content: { 'application/json': { schema: ref(ok.schema, responseSchemas, 'output') } } }
      : ok.contentType
        ? { content: { [ok.contentType]: { schema: { type: 'string' } } } }
        : {}),
  };
  const errors: Record<number, string> = {};
  if (r.body || r.query || pathParams(r.path).length > 0)
    errors[400] = 'Invalid JSON or a field of the wrong type (INVALID_ARGUMENT)';
  if (r.admin) errors[401] = 'Missing or wrong admin key (UNAUTHENTICATED)';
  if (r.body) errors[413] = 'Request body over the size limit (MESSAGE_TOO_LARGE)';
  Object.assign(errors, r.errors, COMMON_ERRORS);
  for (const [status, description] of Object.entries(errors)) {
    responses[status] = {
      description,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    };
  }
  return {
    operationId: r.operationId,
    tags: [r.tag],
    summary: r.summary,
    ...(r.description ? { description: r.description } : {}),
    security: r.admin ? [{ adminKey: [] }] : [],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(r.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: ref(r.body, requestSchemas, 'input') } },
          },
        }
      : {}),
    responses,
  };
}

function pathParams(path: string): string[] {
  return [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] ?? '');
}

type Registry = typeof requestSchemas;

function ref(schema: z.ZodType, registry: Registry, io: 'input' | 'output'): JsonObject {
  const id = registry.get(schema)?.id;
  return id
    ? { $ref: `#/components/schemas/${id}` }
    : stripMeta(z.toJSONSchema(schema, { io, unrepresentable: 'any' }));
}

function schemasOf(registry: Registry, io: 'input' | 'output'): Record<string, JsonObject> {
  const { schemas } = z.toJSONSchema(registry, {
    io,
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  });
  const out: Record<string, JsonObject> = {};
  for (const [id, schema] of Object.entries(schemas)) out[id] = stripMeta(schema);
  return out;
}

/**
 * Drops `$schema` and `$id` (the document's components are not standalone JSON Schema
 * documents), the safe-integer bounds zod puts on every integer, which only add noise, and
 * `additionalProperties: false`: clients should accept fields added later.
 */
function stripMeta(schema: object): JsonObject {
  const rest: JsonObject = { ...schema };
  delete rest.$schema;
  delete rest.$id;
  return tidy(rest) as JsonObject;
}

function tidy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(tidy);
  if (typeof value !== 'object' || value === null) return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'minimum' && v === Number.MIN_SAFE_INTEGER) continue;
    if (k === 'maximum' && v === Number.MAX_SAFE_INTEGER) continue;
    if (k === 'additionalProperties' && v === false) continue;
    out[k] = tidy(v);
  }
  return out;
}
