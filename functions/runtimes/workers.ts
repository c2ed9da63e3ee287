// Cloudflare Workers entry: the presign core (token rules, signing routes) over bindings parsed by the
// same settings schema as Node. Multipart plans, accounts and listings need Postgres or the object
// store's API and stay on the Node function.
import { createTokenVerifier } from '../../shared/auth/jwt.ts';
import { ConfigError, parsePresignSettings } from '../../shared/config/settings.ts';
import { createPresigner } from '../../shared/object-store/presigner.ts';
import { standalonePresignApp } from '../presign/standalone.ts';

/** Bindings are the Node environment variables (`JWT_SECRET`, `MINIO_*`, `SLUICE_*`), as strings. */
type Bindings = Record<string, string | undefined>;

let app: ReturnType<typeof standalonePresignApp> | undefined;

function build(env: Bindings) {
  const settings = parsePresignSettings(env);
  const fixed = env.SLUICE_FIXED_NOW; // tests only: a pinned signing time to compare URLs
  const presigner = createPresigner({
    endpoint: settings.s3.publicEndpoint,
    region: settings.s3.region,
    accessKeyId: settings.s3.accessKey ?? '',
    secretAccessKey: settings.s3.secretKey ?? '',
  });
  return standalonePresignApp(
    {
      settings,
      verifyToken: createTokenVerifier(settings.auth),
      presigner: () => presigner,
      now: fixed ? () => new Date(fixed) : undefined,
    },
    'workers',
  );
}

export default {
  fetch: (req: Request, env: Bindings, ctx: unknown) => {
    try {
      app ??= build(env);
    } catch (err) {
      // Bad bindings: say which variable, as the Node entry does at start-up (never a stack).
      const message = err instanceof ConfigError ? err.message : 'Invalid configuration';
      return Response.json(
        { statusCode: 500, code: 'CONFIG', error: 'Internal Server Error', message },
        { status: 500 },
      );
    }
    return app.fetch(req, env, ctx as never);
  },
};
