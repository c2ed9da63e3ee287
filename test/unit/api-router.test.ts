import { type Context, Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { ApiRouter, createRoute, openApiDocument } from '../../shared/http/api-router.ts';
import { renderError } from '../../shared/http/app-kit.ts';
import * as z from '../../shared/validation/zod.ts';

// The routes of one sub-router, mounted under a prefix the way functions are mounted on the app shell.
function testApp() {
  const r = new ApiRouter();
  r.openapi(
    createRoute({
      method: 'post',
      path: '/things/{id}',
      summary: 'Update a thing',
      request: {
        params: z.object({ id: z.coerce.number().check(z.int(), z.positive()) }),
        query: z.object({
          dry: z._default(z.enum(['yes', 'no']), 'no'),
          tag: z.optional(z.array(z.string())),
        }),
        body: {
          content: {
            'application/json': {
              schema: z.strictObject({
                name: z.string().check(z.minLength(1), z.meta({ description: 'Display name' })),
                size: z._default(z.number().check(z.int(), z.minimum(0)), 0),
              }),
            },
          },
        },
      },
      responses: { 200: { description: 'The thing' } },
    }),
    (c) =>
      c.json({
        id: c.req.valid('param').id,
        query: c.req.valid('query'),
        body: c.req.valid('json'),
        routeParam: c.req.param('id'),
      }),
  );
  r.documented(
    createRoute({
      method: 'post',
      path: '/hook',
      summary: 'Takes any body',
      responses: { 200: { description: 'Taken' } },
    }),
    async (c) => c.json({ text: await c.req.text() }),
  );
  r.get('/plain', (c) => c.text('not an API operation'));
  const app = new Hono();
  app.onError((err, c) => renderError(err, c as never));
  app.route('/v1', r);
  return app;
}

const post = (app: Hono, path: string, body: string, type: string | null = 'application/json') =>
  app.request(path, {
    method: 'POST',
    headers: type ? { 'content-type': type } : {},
    // A string body makes fetch add text/plain; no body is what `curl -X POST` sends.
    body: body === '' ? undefined : body,
  });

describe('ApiRouter', () => {
  it('hands the handler parsed params, query and body, with coercion and defaults applied', async () => {
    const res = await post(testApp(), '/v1/things/42?tag=a&tag=b', JSON.stringify({ name: 'x' }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      id: 42,
      query: { dry: 'no', tag: ['a', 'b'] },
      body: { name: 'x', size: 0 },
      routeParam: '42',
    });
  });

  it('answers one 400 naming every bad field across params, query and body', async () => {
    const res = await post(
      testApp(),
      '/v1/things/-3?dry=maybe',
      JSON.stringify({ size: 1.5, extra: true }),
    );
    expect(res.status).toBe(400);
    const body = (await res.json()) as {
      code: string;
      details: { fields: { field: string; message: string }[] };
    };
    expect(body.code).toBe('VALIDATION_FAILED');
    const fields = body.details.fields.map((f) => f.field);
    expect(fields).toEqual(expect.arrayContaining(['id', 'dry', 'name', 'size', '(body)']));
    // English messages, not zod/mini's bare "Invalid input".
    const name = body.details.fields.find((f) => f.field === 'name');
    expect(name?.message).toMatch(/expected string/);
  });

  it('validates an empty body as {} so missing fields are named', async () => {
    const res = await post(testApp(), '/v1/things/1', '', null);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { message: string };
    expect(body.message).toContain('name');
  });

  it('rejects a body that is not JSON, and a non-JSON content type, with a 4xx', async () => {
    const bad = await post(testApp(), '/v1/things/1', '{"name":');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/not valid JSON/);
    const form = await post(
      testApp(),
      '/v1/things/1',
      'name=x',
      'application/x-www-form-urlencoded',
    );
    expect(form.status).toBe(415);
    expect(((await form.json()) as { code: string }).code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('accepts JSON content types with parameters and +json suffixes', async () => {
    for (const type of ['application/json; charset=utf-8', 'application/merge-patch+json']) {
      const res = await post(testApp(), '/v1/things/1', JSON.stringify({ name: 'x' }), type);
      expect(res.status).toBe(200);
    }
  });

  it('still names a bad path together with a body of the wrong type in one 400', async () => {
    const res = await post(testApp(), '/v1/things/abc', 'name=x', 'text/plain');
    expect(res.status).toBe(400);
    const body = (await res.json()) as {
      details: { fields: { field: string; message: string }[] };
    };
    expect(body.details.fields.map((f) => f.field)).toEqual(['id', '(body)']);
    expect(body.details.fields[1]?.message).toContain('application/json');
  });

  it('leaves documented() routes to read their own body', async () => {
    const res = await post(testApp(), '/v1/hook', 'not json at all', 'text/plain');
    expect(await res.json()).toEqual({ text: 'not json at all' });
  });
});

describe('openApiDocument', () => {
  it('documents routes under their mounted path, with parameters and body schema', () => {
    const doc = openApiDocument(testApp(), { title: 't', version: '1' });
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual(['/v1/hook', '/v1/things/{id}']);
    const op = doc.paths['/v1/things/{id}']?.post as {
      summary: string;
      parameters: { name: string; in: string; required: boolean }[];
      requestBody: { content: { 'application/json': { schema: Record<string, unknown> } } };
      responses: Record<string, { description: string }>;
    };
    expect(op.summary).toBe('Update a thing');
    expect(op.parameters).toEqual([
      expect.objectContaining({ name: 'id', in: 'path', required: true }),
      expect.objectContaining({ name: 'dry', in: 'query', required: false }),
      expect.objectContaining({ name: 'tag', in: 'query', required: false }),
    ]);
    const schema = op.requestBody.content['application/json'].schema as {
      properties: Record<string, { description?: string; default?: unknown }>;
      required: string[];
      additionalProperties: boolean;
    };
    expect(schema.required).toEqual(['name']);
    expect(schema.properties.name?.description).toBe('Display name');
    expect(schema.properties.size?.default).toBe(0);
    expect(schema.additionalProperties).toBe(false);
    expect(op.responses['200']?.description).toBe('The thing');
    expect(doc.paths['/v1/hook']?.post).toMatchObject({ summary: 'Takes any body' });
  });

  it('finds routes mounted several levels deep, each level with its own error handler', () => {
    const inner = new ApiRouter();
    inner.onError((err, c) => renderError(err, c as never));
    const take = async (c: Context) => c.text('taken');
    for (const path of ['/a', '/b'])
      inner.documented(
        createRoute({ method: 'get', path, responses: { 200: { description: path } } }),
        take,
      );
    const middle = new Hono();
    middle.onError((err, c) => renderError(err, c as never));
    middle.route('/m', inner);
    const outer = new Hono();
    outer.route('/o', middle);
    const doc = openApiDocument(outer, { title: 't', version: '1' });
    // The same handler documented twice keeps both descriptions.
    expect(doc.paths['/o/m/a']?.get).toMatchObject({ responses: { 200: { description: '/a' } } });
    expect(doc.paths['/o/m/b']?.get).toMatchObject({ responses: { 200: { description: '/b' } } });
  });
});
