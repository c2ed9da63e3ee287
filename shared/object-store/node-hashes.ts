import { createHash, createHmac } from 'node:crypto';
import { jsHashes, type PresignHashes } from './presigner.ts';

/**
 * Node's native SHA-256 for the presigner's canonical request (the long message); the per-URL HMAC
 * keeps the pure implementation's precomputed key state, which beats creating a native Hmac per call.
 */
export const nodeHashes: PresignHashes = {
  sha256Hex: (data) => createHash('sha256').update(data).digest('hex'),
  hmac: (key, data) => createHmac('sha256', key).update(data).digest(),
  hmacHexWith: jsHashes.hmacHexWith,
};
