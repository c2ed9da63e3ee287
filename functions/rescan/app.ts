import type { Services } from '../../shared/services.ts';
import { createApp } from '../registry.ts';

/** The rescan function as a standalone Hono app (shell + its routes). Builds nothing until called. */
export function createRescanApp(services: Services) {
  return createApp('rescan', services);
}
