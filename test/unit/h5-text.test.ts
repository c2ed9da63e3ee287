import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeText } from '../../shared/ingest/h5-types.ts';

describe('HDF5 string bytes to text', () => {
  it('valid UTF-8 decodes as UTF-8', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), (s) => {
        expect(decodeText(new TextEncoder().encode(s))).toBe(s);
      }),
    );
  });

  it('any bytes decode without loss: UTF-8 or Latin-1 gives the same bytes back', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const text = decodeText(bytes);
        const utf8 = Buffer.from(text, 'utf8');
        const latin1 = Buffer.from(text, 'latin1');
        const lossless =
          utf8.equals(Buffer.from(bytes)) ||
          ([...text].every((c) => c.charCodeAt(0) < 256) && latin1.equals(Buffer.from(bytes)));
        expect(lossless).toBe(true);
      }),
    );
  });

  it('Latin-1 bytes from real files read as Latin-1 (SLS NeXus unit µm, Ångström)', () => {
    expect(decodeText(Uint8Array.from([0xb5, 0x6d]))).toBe('µm');
    expect(decodeText(Buffer.from('Ångström', 'latin1'))).toBe('Ångström');
    expect(decodeText(Buffer.from('Ångström', 'utf8'))).toBe('Ångström');
  });
});
