/** @jsxImportSource hono/jsx */
import type { FC } from 'hono/jsx';

interface Operation {
  summary?: string;
  description?: string;
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  parameters?: { name: string; in: string; required?: boolean }[];
}

/**
 * API documentation rendered on the server from the OpenAPI document (no CDN assets, so it works on an
 * air-gapped cluster): every operation with its parameters and request body schema.
 */
export const DocsPage: FC<{
  title: string;
  doc: { paths?: Record<string, Record<string, Operation>> };
}> = ({ title, doc }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <title>{title}</title>
      <style>{`body{font:14px system-ui,sans-serif;margin:2rem;max-width:70rem}.op{border:1px solid #ddd;border-radius:6px;margin:.6rem 0;padding:.5rem .8rem}
.m{display:inline-block;min-width:4.5rem;font-weight:600;text-transform:uppercase}.get{color:#1d4ed8}.post{color:#15803d}.put{color:#b45309}.delete{color:#b91c1c}
pre{background:#f6f8fa;padding:.5rem;overflow:auto;font-size:12px}code{font-size:13px}`}</style>
    </head>
    <body>
      <h1 class="title">{title}</h1>
      <p>
        Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1)
      </p>
      {Object.entries(doc.paths ?? {}).flatMap(([path, ops]) =>
        Object.entries(ops).map(([method, op]) => (
          <div class="op">
            <div>
              <span class={`m ${method}`}>{method}</span> <code>{path}</code> {op.summary ?? ''}
            </div>
            {op.description ? <p>{op.description}</p> : null}
            {op.parameters?.length ? (
              <p>
                parameters:{' '}
                {op.parameters
                  .map((p) => `${p.name} (${p.in}${p.required ? ', required' : ''})`)
                  .join(', ')}
              </p>
            ) : null}
            {op.requestBody?.content?.['application/json']?.schema ? (
              <details>
                <summary>request body</summary>
                <pre>
                  {JSON.stringify(op.requestBody.content['application/json'].schema, null, 2)}
                </pre>
              </details>
            ) : null}
          </div>
        )),
      )}
    </body>
  </html>
);
