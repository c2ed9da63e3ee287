// Routes declared once with their zod schemas: the schemas validate requests and describe them in the
// OpenAPI document. A small layer of our own over Hono, in place of @hono/zod-openapi, which needs
// classic zod (see ../validation/zod.ts for why this project uses zod/mini).
import { type Context, type Env, Hono, type MiddlewareHandler } from 'hono';
import type { RouterRoute } from 'hono/types';
import { ERRORS, issueFields } from '../errors.ts';
import * as z from '../validation/zod.ts';

type Schema = z.ZodMiniType;

/** Documentation of one answer; the schema, when given, only describes it. */
interface ResponseSpec {
  description: string;
  content?: Record<string, { schema: Schema }>;
}

/** One operation: where it lives, what it accepts (validated) and what it answers (documented). */
export interface RouteSpec {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** OpenAPI style: `/api/v1/jobs/{id}`. */
  path: string;
  summary?: string;
  description?: string;
  request?: {
    /** Path parameters. */
    params?: Schema;
    query?: Schema;
    /** A JSON body; an empty body is validated as `{}` (so defaults apply and missing fields are named). */
    body?: { required?: boolean; content: { 'application/json': { schema: Schema } } };
  };
  responses: Record<number, ResponseSpec>;
}

/** `/jobs/{id}` to Hono's `/jobs/:id`, as a type (so `c.req.param('id')` is typed) and as a value. */
type HonoPath<P extends string> = P extends `${infer A}{${infer N}}${infer B}`
  ? `${A}:${N}${HonoPath<B>}`
  : P;
const honoPath = (p: string) => p.replace(/\{([^}]+)\}/g, ':$1');

type Out<S> = S extends Schema ? z.output<S> : never;
type Req<R extends RouteSpec> = NonNullable<R['request']>;
/** What `c.req.valid(...)` returns in a handler of route `R`. */
type None = Record<never, never>;
type ValidOut<R extends RouteSpec> = {
  out: (Req<R> extends { params: infer P } ? { param: Out<P> } : None) &
    (Req<R> extends { query: infer Q } ? { query: Out<Q> } : None) &
    (Req<R> extends { body: { content: { 'application/json': { schema: infer B } } } }
      ? { json: Out<B> }
      : None);
};

export type RouteHandler<E extends Env, R extends RouteSpec> = (
  c: Context<E, HonoPath<R['path']>, ValidOut<R>>,
) => Response | Promise<Response>;

/** A JSON body or answer with `schema`. */
export const json = <T extends Schema>(schema: T) => ({
  content: { 'application/json': { schema } },
});
const anyObject = z.looseObject({});
/** An answer documented as a JSON object with `description`. */
export const answer = (description: string) => ({ description, ...json(anyObject) });
/** `200`: a JSON object with `description`. */
export const ok = (description: string) => ({ 200: answer(description) });

/** Declares a route; the identity, kept so the path literal survives for typing `c.req.param()`. */
export const createRoute = <P extends string, R extends RouteSpec & { path: P }>(route: R): R =>
  route;

/** Route specs by the handler that serves them; the document is built from the routing table. */
const specs = new WeakMap<object, RouteSpec>();

const isJson = (type: string) => /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type);

async function readJsonBody(c: Context): Promise<unknown> {
  const type = c.req.header('content-type');
  if (type && !isJson(type))
    throw ERRORS.unsupportedMediaType(`Content-Type must be application/json, got '${type}'`);
  const text = await c.req.text();
  // A SyntaxError here becomes "Request body is not valid JSON" (see renderError).
  return text.trim() === '' ? {} : JSON.parse(text);
}

/** Query string as zod sees it: a repeated key becomes an array, a single one a string. */
function queryRecord(c: Context): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(c.req.queries()))
    out[k] = v.length === 1 ? (v[0] as string) : v;
  return out;
}

type Issue = { field: string; message: string };
const rootName = { param: '(path)', query: '(query)', json: '(body)' } as const;

/** A Hono app whose `openapi()` routes validate their input and appear in {@link openApiDocument}. */
export class ApiRouter<E extends Env = Env> extends Hono<E> {
  /** Registers `handler` for `route`; a request failing its schemas gets one 400 naming every bad field. */
  openapi<R extends RouteSpec>(route: R, handler: RouteHandler<E, R>): this {
    const { params, query, body } = route.request ?? {};
    const jsonSchema = body?.content['application/json'].schema;
    const serve = async (c: Context<E>) => {
      const issues: Issue[] = [];
      const check = (target: 'param' | 'query' | 'json', schema: Schema, value: unknown) => {
        const result = z.safeParse(schema, value);
        if (result.success) c.req.addValidatedData(target, result.data as object);
        else issues.push(...issueFields(result.error.issues, rootName[target]));
      };
      if (params) check('param', params, c.req.param());
      if (query) check('query', query, queryRecord(c));
      if (jsonSchema) {
        let value: unknown;
        try {
          value = await readJsonBody(c);
        } catch (err) {
          // With the path or query already wrong, one 400 still names everything.
          if (!issues.length) throw err;
          const message = err instanceof SyntaxError ? 'not valid JSON' : (err as Error).message;
          issues.push({ field: rootName.json, message });
        }
        if (value !== undefined) check('json', jsonSchema, value);
      }
      if (issues.length) throw ERRORS.validation(issues);
      return handler(c as unknown as Parameters<RouteHandler<E, R>>[0]);
    };
    specs.set(serve, route);
    this.on(route.method.toUpperCase(), honoPath(route.path), serve);
    return this;
  }

  /**
   * Registers handlers that read their input themselves (webhooks taking any body, CloudEvents) and
   * documents them with `route`; nothing is validated for them.
   */
  documented(
    route: RouteSpec,
    ...handlers: [...MiddlewareHandler<E>[], MiddlewareHandler<E>]
  ): this {
    const given = handlers[handlers.length - 1] as MiddlewareHandler<E>;
    // A function of its own per registration, so one handler documented twice keeps both specs.
    const last: MiddlewareHandler<E> = (c, next) => given(c, next);
    specs.set(last, route);
    const all = [...handlers.slice(0, -1), last] as [MiddlewareHandler<E>];
    this.on(route.method.toUpperCase(), honoPath(route.path), ...all);
    return this;
  }
}

/** Requests are documented as clients send them (before defaults and coercion), answers as sent. */
const toJsonSchema = (
  schema: Schema,
  io: 'input' | 'output' = 'input',
): Record<string, unknown> => {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' });
  return rest;
};

function parameters(schema: Schema | undefined, where: 'path' | 'query') {
  if (!schema) return [];
  const js = toJsonSchema(schema) as {
    properties?: Record<string, Record<string, unknown>>;
    required?: string[];
  };
  const required = new Set(js.required ?? []);
  return Object.entries(js.properties ?? {}).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    schema: s,
  }));
}

/**
 * The OpenAPI 3.1 document of every documented route `app` serves, read from its routing table, so a
 * route mounted from a sub-router appears under its mounted path and nothing can drift.
 */
export function openApiDocument(
  app: { routes: RouterRoute[] },
  info: { title: string; version: string },
): { openapi: '3.1.0'; info: typeof info; paths: Record<string, Record<string, unknown>> } {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of app.routes) {
    // Hono wraps a sub-app's handler once per mount level whose error handler differs.
    let h = r.handler as { __COMPOSED_HANDLER?: object } | undefined;
    while (h && !specs.has(h)) h = h.__COMPOSED_HANDLER;
    const spec = h && specs.get(h);
    if (!spec) continue;
    const path = r.path.replace(/:([^/{]+)/g, '{$1}');
    const { params, query, body } = spec.request ?? {};
    const jsonSchema = body?.content['application/json'].schema;
    const responses: Record<string, unknown> = {};
    for (const [status, res] of Object.entries(spec.responses)) {
      const content = res.content
        ? Object.fromEntries(
            Object.entries(res.content).map(([type, c]) => [
              type,
              { schema: toJsonSchema(c.schema, 'output') },
            ]),
          )
        : undefined;
      responses[status] = { description: res.description, ...(content && { content }) };
    }
    const params_ = [...parameters(params, 'path'), ...parameters(query, 'query')];
    paths[path] ??= {};
    (paths[path] as Record<string, unknown>)[spec.method] = {
      ...(spec.summary && { summary: spec.summary }),
      ...(spec.description && { description: spec.description }),
      ...(params_.length && { parameters: params_ }),
      ...(jsonSchema && {
        requestBody: {
          ...(body?.required !== undefined && { required: body.required }),
          content: { 'application/json': { schema: toJsonSchema(jsonSchema) } },
        },
      }),
      responses,
    };
  }
  return { openapi: '3.1.0', info, paths };
}
