// Plain JavaScript, not TypeScript: a worker thread loads it directly, without tsx's loader (which
// costs a worker more than a second to start). The format is src/crypto/sealed-box.ts's and the
// fingerprint CodeVault's; test/card-import-workers.test.ts opens and compares what this writes.
import { createCipheriv, createHmac, randomFillSync } from 'node:crypto';

/**
 * Staged lines of a batch of card codes, in COPY text format: for each row its head, the code
 * sealed (AES-256-GCM: 12-byte IV, ciphertext, 16-byte tag) and its fingerprint (HMAC-SHA256 of
 * sku NUL code), both as bytea hex, then its tail. An empty code stages as NULL, NULL.
 */
export function sealBatch(keys, sku, heads, codes, tails) {
  // one call to the random source for the batch: a call per code cost more than the cipher
  const ivs = randomFillSync(Buffer.allocUnsafe(12 * codes.length));
  let out = '';
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i];
    if (!code) {
      out += `${heads[i]}\t\\N\t\\N\t${tails[i]}\n`;
      continue;
    }
    const iv = ivs.subarray(i * 12, i * 12 + 12);
    const cipher = createCipheriv('aes-256-gcm', keys.codes, iv);
    const sealed = Buffer.concat([iv, cipher.update(code, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    const fingerprint = createHmac('sha256', keys.fingerprint).update(`${sku}\0${code}`).digest();
    out += `${heads[i]}\t\\\\x${sealed.toString('hex')}\t\\\\x${fingerprint.toString('hex')}\t${tails[i]}\n`;
  }
  return out;
}
