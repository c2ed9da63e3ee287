import {
  type AppRouter,
  createFunctionApp,
  createRouter,
  requireUser,
} from '../../shared/http/app-kit.ts';
import { presignerFor } from '../../shared/object-store/presign-urls.ts';
import type { Services } from '../../shared/services.ts';
import { createAuthService } from './auth-service.ts';
import { createPresignService } from './presign-service.ts';
import { presignRoutes } from './routes/index.ts';

/**
 * The presign routes over the Node services: the core's signing plus multipart uploads, listings and
 * local accounts. The services are built here, once per app.
 */
export function presignFunctionRoutes(services: Services): AppRouter {
  const presigner = () => presignerFor(services);
  const uploads = createPresignService({
    presign: services.config.presign,
    db: services.db,
    s3: () => services.s3,
    presigner,
  });
  const core = {
    settings: services.config,
    verifyToken: services.verifyToken,
    presigner,
    stateful: { post: uploads.postUpload, multipart: uploads.planMultipart },
  };
  const accounts = {
    service: createAuthService({ auth: services.config.auth, db: services.db }),
    requireAdmin: requireUser({ role: 'admin' }),
  };
  const r = createRouter();
  r.route('/', presignRoutes({ core, uploads, accounts }));
  return r;
}

/** The presign function as a standalone Hono app (shell + its routes). Builds nothing until called. */
export function createPresignApp(services: Services) {
  return createFunctionApp('presign', services).route('/', presignFunctionRoutes(services));
}
