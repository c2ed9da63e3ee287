import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { quoteEtag, unquoteEtag } from '../../shared/object-store/etag.ts';
import { nodeHashes } from '../../shared/object-store/node-hashes.ts';
import { jsHashes } from '../../shared/object-store/presigner.ts';

describe('Node presign hashes', () => {
  it('property: the one-shot HMAC equals the pure-JS HMAC for any key and message (short and past its scratch buffer)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 150 }),
        fc.string({ unit: 'binary', maxLength: 1200 }),
        (key, data) => {
          expect(nodeHashes.hmacHexWith(key)(data)).toBe(jsHashes.hmacHexWith(key)(data));
          expect(nodeHashes.sha256Hex(data)).toBe(jsHashes.sha256Hex(data));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('matches the RFC 4231 HMAC-SHA256 test case 2', () => {
    const key = new TextEncoder().encode('Jefe');
    expect(nodeHashes.hmacHexWith(key)('what do ya want for nothing?')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });
});

describe('ETag quoting', () => {
  it('unquotes S3 ETags, keeps a missing one missing, and quotes once', () => {
    expect(unquoteEtag('"9b2cf535f27731c974343645a3985328-3"')).toBe(
      '9b2cf535f27731c974343645a3985328-3',
    );
    expect(unquoteEtag(undefined)).toBeUndefined();
    expect(unquoteEtag(null)).toBeUndefined();
    expect(quoteEtag('"abc"')).toBe('"abc"');
    expect(quoteEtag('abc')).toBe('"abc"');
  });
});
