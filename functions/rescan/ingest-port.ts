import type { Services } from '../../shared/services.ts';
import type { IngestPort } from './rescan-service.ts';

/** Adapts the ingest service to what the rescan needs. */
export function createIngestPort(_services: Services): IngestPort {
  throw new Error('ingest service not wired yet');
}
