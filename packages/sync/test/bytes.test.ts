// base64url of the encrypted channel (secure/bytes.ts): the browser's decoder (no Node Buffer)
// against Node's, on any bytes, and both refusing what is not canonical unpadded base64url.
// Replay a failing property with CSE_BYTES_SEED.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { b64u, b64uPortable, fromB64u, fromB64uPortable } from '../src/secure/bytes.js';

const seed = process.env.CSE_BYTES_SEED === undefined ? undefined : Number(process.env.CSE_BYTES_SEED);
const bytes = fc.uint8Array({ minLength: 0, maxLength: 300 });

describe('base64url', () => {
  it('the portable encoder and decoder agree with Node on any bytes', () => {
    fc.assert(
      fc.property(bytes, (b) => {
        const text = Buffer.from(b).toString('base64url');
        expect(b64u(b)).toBe(text);
        expect(b64uPortable(b)).toBe(text);
        expect(fromB64uPortable(text)).toEqual(b);
        expect(fromB64u(text)).toEqual(b);
      }),
      { seed, numRuns: 500 },
    );
  });

  it('both refuse a text that is not canonical: stray low bits, a lone last character, padding, other characters', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 3 }), (b, flip) => {
        const text = b64u(b);
        if (text.length % 4 !== 0) {
          // The last character carries unused low bits: setting one gives a second spelling of the same bytes.
          const last = text.charCodeAt(text.length - 1);
          const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
          const other = alphabet[alphabet.indexOf(String.fromCharCode(last)) ^ flip] as string;
          const spelled = text.slice(0, -1) + other;
          if (Buffer.from(spelled, 'base64url').equals(Buffer.from(b))) {
            expect(fromB64u(spelled), spelled).toBeUndefined();
            expect(fromB64uPortable(spelled), spelled).toBeUndefined();
          }
        }
        for (const bad of [`${text}A`.length % 4 === 1 ? `${text}A` : `${text}AA=`, `${text}=`, `${text.slice(0, 1)}+${text.slice(1)}`, `${text} `, `${text}é`]) {
          expect(fromB64u(bad), bad).toBeUndefined();
          expect(fromB64uPortable(bad), bad).toBeUndefined();
        }
      }),
      { seed, numRuns: 300 },
    );
  });
});
