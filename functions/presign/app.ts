import type { Services } from '../../shared/services.ts';
import { createApp } from '../registry.ts';

/** The presign function as a standalone Hono app (shell + its routes). Builds nothing until called. */
export function createPresignApp(services: Services) {
  return createApp('presign', services);
}
