import { createFunctionApp } from '../../shared/http/app-kit.ts';
import type { Services } from '../../shared/services.ts';
import { uiRoutes } from '../ui/routes.tsx';
import { datasetsRoutes } from './routes.ts';

/** The datasets function as a standalone Hono app (shell + its routes). Builds nothing until called. */
export function createDatasetsApp(services: Services) {
  return (
    createFunctionApp('datasets', services)
      .route('/', datasetsRoutes(services))
      // Operators look at the status page where datasets and jobs are served.
      .route('/', uiRoutes(services))
  );
}
