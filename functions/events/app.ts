import type { Services } from '../../shared/services.ts';
import { createApp } from '../registry.ts';

/** The events function as a standalone Hono app (shell + its routes). Builds nothing until called. */
export function createEventsApp(services: Services) {
  return createApp('events', services);
}
