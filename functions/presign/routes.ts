import { type AppRouter, createRouter } from '../../shared/http/app-kit.ts';
import type { Services } from '../../shared/services.ts';

/** Routes of the presign function (mounted by its app and by the local stack). */
export function presignRoutes(_services: Services): AppRouter {
  return createRouter();
}
