import { createFunctionApp } from '../../shared/http/app-kit.ts';
import type { Services } from '../../shared/services.ts';
import { datasetsRoutes } from './routes.ts';

/** The datasets function as a standalone Hono app. Builds nothing until called. */
export function createDatasetsApp(services: Services) {
  return createFunctionApp('datasets', services).route('/', datasetsRoutes(services));
}
