import { createFunctionApp } from '../../shared/http/app-kit.ts';
import type { Services } from '../../shared/services.ts';
import { eventsRoutes } from './routes.ts';

/** The events function as a standalone Hono app (shell + its routes). Builds nothing until called. */
export function createEventsApp(services: Services) {
  return createFunctionApp('events', services).route('/', eventsRoutes(services));
}
