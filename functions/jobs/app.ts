import { createFunctionApp } from '../../shared/http/app-kit.ts';
import type { Services } from '../../shared/services.ts';
import { jobsRoutes } from './routes.ts';

/** The jobs function as a standalone Hono app. Builds nothing until called. */
export function createJobsApp(services: Services) {
  return createFunctionApp('jobs', services).route('/', jobsRoutes(services));
}
