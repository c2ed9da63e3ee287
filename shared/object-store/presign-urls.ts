import { presignsIssued } from '../metrics/registry.ts';
import type { Services } from '../services.ts';
import { nodeHashes } from './node-hashes.ts';
import { createPresigner, type Presigner } from './presigner.ts';

const presigners = new WeakMap<Services, Map<string, Presigner>>();

/**
 * A presigner created once per services object: for the public endpoint (URLs handed to users) by
 * default, or the internal one (URLs this process fetches itself, e.g. ranged TIFF header reads).
 */
export function presignerFor(
  services: Services,
  which: 'public' | 'internal' = 'public',
): Presigner {
  let byKind = presigners.get(services);
  if (!byKind) {
    byKind = new Map();
    presigners.set(services, byKind);
  }
  let p = byKind.get(which);
  if (!p) {
    const { credentials } = services.s3;
    const signer = createPresigner({
      endpoint:
        which === 'public' ? services.config.s3.publicEndpoint : services.config.s3.endpoint,
      region: services.config.s3.region,
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
      hashes: nodeHashes,
    });
    // Count what users receive; internal URLs (ranged reads by this process) are not "issued".
    p =
      which === 'public'
        ? {
            ...signer,
            presign: (req) => {
              presignsIssued.inc([req.method]);
              return signer.presign(req);
            },
          }
        : signer;
    byKind.set(which, p);
  }
  return p;
}
