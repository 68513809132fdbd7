/** Keys of CodeVault: what seals a code, what fingerprints it. */
export interface SealKeys {
  codes: Uint8Array;
  fingerprint: Uint8Array;
}

/**
 * Staged COPY lines of a batch: head, sealed code, fingerprint, tail; an empty code stages NULL, NULL.
 * A buffer of its own (no pool's slice): a worker transfers it.
 */
export function sealBatch(keys: SealKeys, sku: string, heads: string[], codes: string[], tails: string[]): Buffer;
