import type { Services } from '../../shared/services.ts';
import { createApp } from '../registry.ts';

/** The jobs function as a standalone Hono app (shell + its routes). Builds nothing until called. */
export function createJobsApp(services: Services) {
  return createApp('jobs', services);
}
