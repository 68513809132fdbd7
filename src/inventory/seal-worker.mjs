// A sealing thread of SealPool (src/inventory/seal-pool.ts): batches in, staged COPY text out, as
// bytes whose memory is handed over (transferred), not copied.
import { parentPort, workerData } from 'node:worker_threads';
import { sealBatch } from './seal-batch.mjs';

const keys = { codes: Buffer.from(workerData.codes), fingerprint: Buffer.from(workerData.fingerprint) };
parentPort.on('message', ({ id, sku, heads, codes, tails }) => {
  try {
    const bytes = sealBatch(keys, sku, heads, codes, tails);
    parentPort.postMessage({ id, bytes }, [bytes.buffer]);
  } catch (err) {
    parentPort.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
});
