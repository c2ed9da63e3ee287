import { type AppRouter, createRouter } from '../../shared/http/app-kit.ts';
import type { Services } from '../../shared/services.ts';

/** Routes of the rescan function (mounted by its app and by the local stack). */
export function rescanRoutes(_services: Services): AppRouter {
  return createRouter();
}
