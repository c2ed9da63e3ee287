import { type AppRouter, createFunctionApp } from '../shared/http/app-kit.ts';
import type { Services } from '../shared/services.ts';
import { datasetsRoutes } from './datasets/routes.ts';
import { eventsRoutes } from './events/routes.ts';
import { jobsRoutes } from './jobs/routes.ts';
import { presignFunctionRoutes } from './presign/app.ts';
import { rescanRoutes } from './rescan/routes.ts';
import { uiRoutes } from './ui/routes.tsx';

/** Every function's routes, by name. */
export const functionRoutes: Record<FunctionName, (services: Services) => AppRouter> = {
  presign: presignFunctionRoutes,
  datasets: datasetsRoutes,
  events: eventsRoutes,
  rescan: rescanRoutes,
  jobs: jobsRoutes,
};

export type FunctionName = 'presign' | 'datasets' | 'events' | 'rescan' | 'jobs';
export const functionNames = Object.keys(functionRoutes) as FunctionName[];

/** One function's app, or `all` of them on one app (the local stack and single-container deployments). */
export function createApp(
  name: FunctionName | 'all',
  services: Services,
  opts?: { maxBodyBytes?: number },
) {
  const app = createFunctionApp(name === 'all' ? 'sluice' : name, services, opts);
  for (const fn of name === 'all' ? functionNames : [name])
    app.route('/', functionRoutes[fn](services));
  // The status page rides along where operators look: the local stack and the datasets/jobs functions.
  if (name === 'all' || name === 'datasets' || name === 'jobs') app.route('/', uiRoutes(services));
  return app;
}
