import { createFunctionApp } from '../../shared/http/app-kit.ts';
import type { Services } from '../../shared/services.ts';
import { presignRoutes } from './routes.ts';

/** The presign function as a standalone Hono app (shell + its routes). Builds nothing until called. */
export function createPresignApp(services: Services) {
  return createFunctionApp('presign', services).route('/', presignRoutes(services));
}
