import { SYSTEM } from '../src/users/actor.ts';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { DEFAULT_CARD_IMPORT } from '../src/config.ts';
import { Catalog } from '../src/catalog/catalog.ts';
import { deriveKeys } from '../src/crypto/keys.ts';
import { createDb, type Db } from '../src/db/knex.ts';
import { CodeVault } from '../src/inventory/codes.ts';
import { importCardCodes, readCodeFile } from '../src/inventory/import.ts';
import { Ledger } from '../src/ledger/ledger.ts';
import { againstAccount } from '../src/procurement/booking.ts';
import { benchDatabase, serverVersion } from './support/database.ts';
import { fmt, progressBar, timed, withPeakRss } from './support/measure.ts';
import { reportInvariants } from './support/invariants.ts';

const SKU = { code: 'BENCH-CARD-100', nameZh: '基准测试卡', nameEn: 'Bench card', brand: 'bench', kind: 'card_code', faceValueFen: 10_000, lowStockThreshold: 0, procurementBatch: 0 } as const;

/**
 * Issue figure: import of 1,000,000 card codes from CSV (codes/s, peak RSS), next to two floors of
 * the same run: a bare COPY of the file into an unlogged table (no key, no index, no WAL), and the
 * durable part alone, a COPY of the rows the import wrote (sealed) into the real, indexed and
 * logged card_codes of a fresh database. Targets: ≤ 2x the durable floor, peak RSS < 300 MB.
 * --workers N: sealing threads (default: the machine's cores; 0 seals in the importing thread).
 */
export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { rows: { type: 'string', default: '1000000' }, workers: { type: 'string' } } });
  const rows = Number(values.rows);
  const sealing = { ...DEFAULT_CARD_IMPORT, ...(values.workers === undefined ? {} : { sealWorkers: Number(values.workers) }) };
  const database = await benchDatabase();
  const db = createDb(database.url, { poolMax: 4 });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-bench-import-'));
  try {
    console.log(`import benchmark: ${fmt(rows)} codes, sealed by ${sealing.sealWorkers ? `${sealing.sealWorkers} worker thread(s)` : 'the importing thread'}, ${fmt(sealing.batchRows)} rows a batch`);
    console.log(`database: ${database.where}; ${await serverVersion(db)}`);
    const sku = SKU.code;
    await new Catalog(db).createSku(SKU);

    const file = path.join(dir, 'codes.csv');
    const out = createWriteStream(file);
    out.write('sku,serial,code,expires_at\n');
    const salt = randomBytes(4).toString('hex');
    for (let i = 0; i < rows; i++) {
      if (!out.write(`${sku},SN${String(i).padStart(10, '0')},${salt}-${i.toString(36).padStart(8, '0')}-${(i * 7919).toString(16)},2031-12-31\n`)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    console.log(`generated ${file} (${fmt((await fs.stat(file)).size / 1e6, 1)} MB)`);

    const vault = new CodeVault(deriveKeys(randomBytes(32)));
    const bar = progressBar('importing', rows);
    const phases: string[] = [];
    const ledger = new Ledger(db);
    await ledger.openPlatformAccounts();
    await checkpoint(db);
    const imported = await withPeakRss(() => timed(() => importCardCodes(db, vault, {
      sealing, booking: againstAccount(ledger, { key: 'card-import:bench', counter: 'adjustments', reason: 'benchmark stock', actor: SYSTEM }),
      batchKey: 'bench', sku, unitCostFen: 9_500, source: 'file', fileName: 'codes.csv', rows: readCodeFile(file), onProgress: (n) => bar.update(n), onPhase: (name, ms) => phases.push(`${name} ${fmt(ms / 1000, 2)} s`),
    })));
    bar.done();

    const floor = await durableFloor(db, imported.result.result.batchId, path.join(dir, 'sealed.tsv'));

    await db.raw('CREATE UNLOGGED TABLE bench_copy (sku text, serial text, code text, expires_at date)');
    const conn = (await db.client.acquireConnection()) as pg.Client;
    const copy = await timed(async () => {
      await pipeline(createReadStream(file), conn.query(copyFrom('COPY bench_copy FROM STDIN WITH (FORMAT csv, HEADER true)')));
    });
    await db.client.releaseConnection(conn);

    const importSeconds = imported.result.seconds;
    console.log('');
    console.log(`importer   ${fmt(imported.result.result.imported)} codes in ${fmt(importSeconds, 2)} s = ${fmt(rows / importSeconds)} codes/s, peak RSS ${fmt(imported.peakRssMb)} MB (target < 300 MB)`);
    console.log(`           phases: ${phases.join(', ')}`);
    console.log(`baseline   bare COPY of the same file into an unlogged table: ${fmt(copy.seconds, 2)} s = ${fmt(rows / copy.seconds)} rows/s`);
    console.log(`floor      COPY of the ${fmt(floor.rows)} sealed rows the import wrote into card_codes (indexed, logged) of a fresh database: ${fmt(floor.seconds, 2)} s = ${fmt(floor.rows / floor.seconds)} rows/s`);
    console.log(`ratio      importer time ÷ bare COPY time = ${fmt(importSeconds / copy.seconds, 2)}x`);
    console.log(`ratio      importer time ÷ durable floor time = ${fmt(importSeconds / floor.seconds, 2)}x (target ≤ 2x)`);
    await reportInvariants(db);
  } finally {
    await db.destroy();
    await database.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** CHECKPOINT before a timed part, so that none of them pays for the WAL of the one before (superuser only). */
async function checkpoint(db: Db): Promise<void> {
  await db.raw('CHECKPOINT').catch(() => undefined);
}

/**
 * The durable part of the import alone: the rows it stored (sealed, fingerprinted), exported, then
 * COPYed in one transaction into the card_codes of a freshly migrated database on the same server,
 * as empty as the import found its own.
 */
async function durableFloor(db: Db, batchId: number, file: string): Promise<{ rows: number; seconds: number }> {
  const fresh = await benchDatabase('bench_floor');
  const floorDb = createDb(fresh.url, { poolMax: 2 });
  try {
    await new Catalog(floorDb).createSku(SKU);
    const [batch] = await floorDb('card_batches').insert({ batch_key: 'floor', sku_code: SKU.code, source: 'file', file_name: 'sealed.tsv', unit_cost_fen: 9_500, code_count: 0, quarantined_count: 0 }).returning('id');
    const source = (await db.client.acquireConnection()) as pg.Client;
    try {
      await pipeline(source.query(copyTo(`COPY (SELECT sku_code, ${Number(batch.id)}::bigint, serial, code_sealed, fingerprint, expires_on FROM card_codes WHERE batch_id = ${Number(batchId)} ORDER BY id) TO STDOUT`)), createWriteStream(file));
    } finally {
      await db.client.releaseConnection(source);
    }
    await checkpoint(floorDb);
    const conn = (await floorDb.client.acquireConnection()) as pg.Client;
    try {
      const copied = await timed(async () => {
        await conn.query('BEGIN');
        const copy = conn.query(copyFrom('COPY card_codes (sku_code, batch_id, serial, code_sealed, fingerprint, expires_on) FROM STDIN'));
        await pipeline(createReadStream(file), copy);
        await conn.query('COMMIT');
        return copy.rowCount;
      });
      return { rows: copied.result, seconds: copied.seconds };
    } finally {
      await floorDb.client.releaseConnection(conn);
    }
  } finally {
    await floorDb.destroy();
    await fresh.stop();
  }
}
