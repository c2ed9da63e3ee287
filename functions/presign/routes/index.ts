// Mounts the presign route groups over one token check. Node-free (the groups import the Node
// services as types only), so the Workers entry mounts the same groups without the Node services.
import type { MiddlewareHandler } from 'hono';
import { ApiRouter } from '../../../shared/http/api-router.ts';
import type { AuthService } from '../auth-service.ts';
import { ACCESS_PATHS, type CoreEnv, type PresignCoreDeps, requireAccess } from '../core.ts';
import type { PresignService } from '../presign-service.ts';
import { authRoutes } from './auth.ts';
import { bucketTokenRoutes } from './bucket-tokens.ts';
import { compatRoutes } from './compat.ts';
import { objectRoutes } from './objects.ts';
import { uploadRoutes } from './uploads.ts';
import { uppyRoutes } from './uppy.ts';

/** What the groups use: the core always; the Node function adds its services. */
export interface PresignRouteDeps {
  core: PresignCoreDeps;
  /** Multipart uploads and listings (Postgres, the object store's API). */
  uploads?: PresignService;
  /** Local accounts, with the middleware that admits admins only. */
  accounts?: { service: AuthService; requireAdmin: MiddlewareHandler };
}

/** Every presign route group, for mounting at `/` of a presign app. */
export function presignRoutes(deps: PresignRouteDeps): ApiRouter<CoreEnv> {
  const r = new ApiRouter<CoreEnv>();
  const access = requireAccess(deps.core);
  for (const path of ACCESS_PATHS) r.use(path, access);

  if (deps.accounts) r.route('/', authRoutes(deps.accounts.service, deps.accounts.requireAdmin));
  r.route('/', bucketTokenRoutes(deps.core));
  r.route('/', uploadRoutes(deps.core, deps.uploads));
  r.route('/', objectRoutes(deps.core, deps.uploads));
  r.route('/', compatRoutes(deps.core, deps.uploads));
  // Uppy's S3 protocol (Companion's routes), over the same uploads service and key rule.
  if (deps.uploads) r.route('/', uppyRoutes(deps.core, deps.uploads));
  return r;
}
