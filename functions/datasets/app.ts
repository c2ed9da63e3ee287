import type { Services } from '../../shared/services.ts';
import { createApp } from '../registry.ts';

/** The datasets function as a standalone Hono app (shell + its routes). Builds nothing until called. */
export function createDatasetsApp(services: Services) {
  return createApp('datasets', services);
}
