// Plain JavaScript, not TypeScript: a worker thread loads it directly, without tsx's loader (which
// costs a worker more than a second to start). The format is src/crypto/sealed-box.ts's and the
// fingerprint CodeVault's; test/card-import-workers.test.ts opens and compares what this writes.
import { createCipheriv, createHmac, randomFillSync } from 'node:crypto';

const TAB = 0x09;
const NL = 0x0a;
const BACKSLASH = 0x5c;
const X = 0x78;
const HEX = Buffer.from('0123456789abcdef');
const EMPTY = Buffer.from('\t\\N\t\\N\t');
/** IV (12 bytes) and tag (16) around the ciphertext; a fingerprint is 32 bytes. */
const SEAL_OVERHEAD = 28;
const FINGERPRINT = 32;

/**
 * Staged lines of a batch of card codes, in COPY text format: for each row its head, the code
 * sealed (AES-256-GCM: 12-byte IV, ciphertext, 16-byte tag) and its fingerprint (HMAC-SHA256 of
 * sku NUL code), both as bytea hex, then its tail. An empty code stages as NULL, NULL.
 *
 * Bytes, not a string, in a buffer of their own: a worker thread hands the buffer over to the
 * importing thread without a copy, and the importing thread's heap never holds the batch (as a
 * string of a megabyte, it lived there until a full collection: most of the import's memory).
 */
export function sealBatch(keys, sku, heads, codes, tails) {
  const n = codes.length;
  let size = 0;
  for (let i = 0; i < n; i++) {
    const code = codes[i];
    size += Buffer.byteLength(heads[i]) + Buffer.byteLength(tails[i]) + 1
      // \t\\x sealed \t\\x fingerprint \t, in hex
      + (code ? 9 + 2 * (SEAL_OVERHEAD + Buffer.byteLength(code)) + 2 * FINGERPRINT : EMPTY.length);
  }
  const out = Buffer.allocUnsafeSlow(size);
  // one call to the random source for the batch: a call per code cost more than the cipher
  const ivs = randomFillSync(Buffer.allocUnsafe(12 * n));
  let o = 0;
  const hex = (bytes) => {
    for (let j = 0; j < bytes.length; j++) {
      const b = bytes[j];
      out[o++] = HEX[b >> 4];
      out[o++] = HEX[b & 15];
    }
  };
  // \t\\x: a tab, then bytea's \x with its backslash escaped for COPY
  const byteaStart = () => {
    out[o++] = TAB;
    out[o++] = BACKSLASH;
    out[o++] = BACKSLASH;
    out[o++] = X;
  };
  for (let i = 0; i < n; i++) {
    const code = codes[i];
    o += out.write(heads[i], o, 'utf8');
    if (!code) {
      o += EMPTY.copy(out, o);
    } else {
      const iv = ivs.subarray(i * 12, i * 12 + 12);
      const cipher = createCipheriv('aes-256-gcm', keys.codes, iv);
      byteaStart();
      hex(iv);
      hex(cipher.update(code, 'utf8'));
      hex(cipher.final());
      hex(cipher.getAuthTag());
      byteaStart();
      hex(createHmac('sha256', keys.fingerprint).update(`${sku}\0${code}`).digest());
      out[o++] = TAB;
    }
    o += out.write(tails[i], o, 'utf8');
    out[o++] = NL;
  }
  if (o !== size) throw new Error(`sealed batch of ${size} bytes took ${o}`);
  return out;
}
