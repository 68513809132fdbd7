import { createHmac } from 'node:crypto';
import { open, seal } from '../crypto/sealed-box.ts';
import type { Keys } from '../crypto/keys.ts';
import { sealBatch } from './seal-batch.mjs';
import { SealPool, type SealJob } from './seal-pool.ts';

/** Card codes at rest: sealed with AES-256-GCM, deduplicated by a keyed fingerprint. */
export class CodeVault {
  constructor(private readonly keys: Pick<Keys, 'cardCodes' | 'cardFingerprint'>) {}

  seal(code: string): Buffer {
    return seal(this.keys.cardCodes, code);
  }

  open(sealed: Buffer): string {
    return open(this.keys.cardCodes, sealed);
  }

  /** Same SKU and code, same fingerprint; nobody without the key can test a guess against it. */
  fingerprint(skuCode: string, code: string): Buffer {
    return createHmac('sha256', this.keys.cardFingerprint).update(`${skuCode}\0${code.trim()}`).digest();
  }

  /** A batch of an import's staged lines, sealed here (src/inventory/seal-batch.mjs); codes come trimmed. */
  sealBatch(job: SealJob): Buffer {
    return sealBatch(this.sealKeys(), job.sku, job.heads, job.codes, job.tails);
  }

  /** Threads that seal batches as sealBatch does, for a large import; close() it when done. */
  sealPool(size: number): SealPool {
    return new SealPool(this.sealKeys(), size);
  }

  private sealKeys() {
    return { codes: this.keys.cardCodes, fingerprint: this.keys.cardFingerprint };
  }
}
