import { Worker } from 'node:worker_threads';
import { KamengError } from '../errors.ts';
import type { SealKeys } from './seal-batch.mjs';

/** A batch of staged lines, to be sealed (src/inventory/seal-batch.mjs). */
export interface SealJob {
  sku: string;
  heads: string[];
  codes: string[];
  tails: string[];
}

export class SealWorkerError extends KamengError {
  constructor(message: string) {
    super('SEAL_WORKER_FAILED', `sealing card codes failed in a worker thread: ${message}`);
  }
}

interface Pending {
  resolve: (bytes: Buffer) => void;
  reject: (err: Error) => void;
  worker: number;
}

/**
 * Worker threads sealing batches of card codes, so that a large import seals on every core while
 * the importing thread reads the file and PostgreSQL stores. A batch goes to the thread with the
 * fewest batches waiting; the caller bounds how many are in flight (the import's backpressure).
 */
export class SealPool {
  private readonly workers: Worker[];
  private readonly load: number[];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure: Error | undefined;

  constructor(keys: SealKeys, size: number) {
    this.workers = Array.from({ length: size }, (_, i) => {
      const worker = new Worker(new URL('./seal-worker.mjs', import.meta.url), {
        workerData: { codes: keys.codes, fingerprint: keys.fingerprint },
        // a thread holds the batch it seals and one or two waiting, each at most 512K characters
        // (import.ts), as short-lived strings; its output is bytes outside the heap. With V8's default
        // heap sizes two threads took 150 MB of resident memory, with an old generation of 32 MB 80 MB
        // (the import's target is < 300 MB), with 16 MB about 15 MB less
        resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 16 },
      });
      worker.on('message', (m: { id: number; bytes?: Uint8Array; error?: string }) =>
        this.settle(m.id, m.error === undefined ? Buffer.from(m.bytes!.buffer, m.bytes!.byteOffset, m.bytes!.byteLength) : new SealWorkerError(m.error)));
      worker.on('error', (err) => this.fail(new SealWorkerError(err.message)));
      worker.on('exit', (code) => { if (this.workers[i] === worker && code !== 0) this.fail(new SealWorkerError(`thread exited with code ${code}`)); });
      // an idle pool must not keep the process alive
      worker.unref();
      return worker;
    });
    this.load = this.workers.map(() => 0);
  }

  get size(): number {
    return this.workers.length;
  }

  /** The batch's staged lines (COPY text, as bytes). */
  seal(job: SealJob): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    let worker = 0;
    for (let i = 1; i < this.load.length; i++) if (this.load[i]! < this.load[worker]!) worker = i;
    this.load[worker]!++;
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker });
      this.workers[worker]!.postMessage({ id, ...job });
    });
  }

  async close(): Promise<void> {
    const workers = this.workers.splice(0);
    this.fail(new SealWorkerError('the pool was closed'));
    await Promise.all(workers.map((w) => w.terminate()));
  }

  private settle(id: number, result: Buffer | Error): void {
    const job = this.pending.get(id);
    if (!job) return;
    this.pending.delete(id);
    this.load[job.worker]!--;
    if (result instanceof Error) job.reject(result);
    else job.resolve(result);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const [id, job] of this.pending) {
      this.pending.delete(id);
      job.reject(err);
    }
  }
}
