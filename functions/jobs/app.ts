import { createFunctionApp } from '../../shared/http/app-kit.ts';
import type { Services } from '../../shared/services.ts';
import { uiRoutes } from '../ui/routes.tsx';
import { jobsRoutes } from './routes.ts';

/** The jobs function as a standalone Hono app (shell + its routes). Builds nothing until called. */
export function createJobsApp(services: Services) {
  return (
    createFunctionApp('jobs', services)
      .route('/', jobsRoutes(services))
      // Operators look at the status page where datasets and jobs are served.
      .route('/', uiRoutes(services))
  );
}
