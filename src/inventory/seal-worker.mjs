// A sealing thread of SealPool (src/inventory/seal-pool.ts): batches in, staged COPY text out.
import { parentPort, workerData } from 'node:worker_threads';
import { sealBatch } from './seal-batch.mjs';

const keys = { codes: Buffer.from(workerData.codes), fingerprint: Buffer.from(workerData.fingerprint) };
parentPort.on('message', ({ id, sku, heads, codes, tails }) => {
  try {
    parentPort.postMessage({ id, text: sealBatch(keys, sku, heads, codes, tails) });
  } catch (err) {
    parentPort.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
});
