import { createFunctionApp } from '../../shared/http/app-kit.ts';
import type { Services } from '../../shared/services.ts';
import { rescanRoutes } from './routes.ts';

/** The rescan function as a standalone Hono app (shell + its routes). Builds nothing until called. */
export function createRescanApp(services: Services) {
  return createFunctionApp('rescan', services).route('/', rescanRoutes(services));
}
