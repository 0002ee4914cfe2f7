import type { Context } from 'hono';
import { z } from 'zod';

/**
 * Every route is declared once, as data: the router, the request validation and the OpenAPI
 * document are all built from these declarations, so the document cannot miss a route.
 */

export type Method = 'get' | 'post' | 'delete';

/** What a handler returns: a JSON body (status 200 unless given) or a finished Response. */
export type Reply = Response | { status?: number; json: unknown };

type Infer<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteInput<B, Q> {
  c: Context;
  /** Path parameters, URL-decoded. */
  params: Record<string, string>;
  body: B;
  query: Q;
}

export interface SuccessSpec {
  status?: number;
  description: string;
  /** JSON body schema, registered with `responseSchema`. */
  schema?: z.ZodType;
  /** For non-JSON bodies (text, HTML). */
  contentType?: string;
}

export interface RouteDef<B extends z.ZodType | undefined, Q extends z.ZodObject | undefined> {
  method: Method;
  /** OpenAPI-style path: `/v1/conversations/{id}`. */
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  /** Requires `Authorization: Bearer <admin key>`. */
  admin: boolean;
  /** Runs first, before the key and the body are checked: throws when the route is switched off. */
  guard?(): void;
  /** Descriptions of the path parameters, by name. */
  params?: Record<string, string>;
  /** JSON body schema, registered with `requestSchema`. */
  body?: B;
  /** Query string schema: an object of optional string-coercing fields. */
  query?: Q;
  ok: SuccessSpec;
  /** Other responses documented besides errors common to every route (400, 401, 500). */
  errors?: Record<number, string>;
  handle(input: RouteInput<Infer<B>, Infer<Q>>): Promise<Reply> | Reply;
}

export type AnyRoute = RouteDef<z.ZodType | undefined, z.ZodObject | undefined>;

/** Declares a route (typed body and query for the handler). */
export function route<B extends z.ZodType | undefined = undefined, Q extends z.ZodObject | undefined = undefined>(
  def: RouteDef<B, Q>,
): AnyRoute {
  return def;
}

/** Schemas of request bodies and of JSON responses, by the name they get in the OpenAPI document. */
export const requestSchemas = z.registry<{ id: string }>();
export const responseSchemas = z.registry<{ id: string }>();

export function requestSchema<S extends z.ZodType>(id: string, schema: S): S {
  requestSchemas.add(schema, { id });
  return schema;
}

export function responseSchema<S extends z.ZodType>(id: string, schema: S): S {
  responseSchemas.add(schema, { id });
  return schema;
}
