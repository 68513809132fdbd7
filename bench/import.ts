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
import { from as copyFrom } from 'pg-copy-streams';
import { Catalog } from '../src/catalog/catalog.ts';
import { deriveKeys } from '../src/crypto/keys.ts';
import { createDb } from '../src/db/knex.ts';
import { CodeVault } from '../src/inventory/codes.ts';
import { importCardCodes, readCodeFile } from '../src/inventory/import.ts';
import { Ledger } from '../src/ledger/ledger.ts';
import { againstAccount } from '../src/procurement/booking.ts';
import { benchDatabase, serverVersion } from './support/database.ts';
import { fmt, progressBar, timed, withPeakRss } from './support/measure.ts';
import { reportInvariants } from './support/invariants.ts';

/**
 * Issue figure: import of 1,000,000 card codes from CSV (codes/s, peak RSS) next to a bare COPY of
 * the same file into an unlogged table in the same run. Targets: within 4x of the COPY, < 300 MB.
 */
export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { rows: { type: 'string', default: '1000000' } } });
  const rows = Number(values.rows);
  const database = await benchDatabase();
  const db = createDb(database.url, { poolMax: 4 });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-bench-import-'));
  try {
    console.log(`import benchmark: ${fmt(rows)} codes`);
    console.log(`database: ${database.where}; ${await serverVersion(db)}`);
    const sku = 'BENCH-CARD-100';
    await new Catalog(db).createSku({ code: sku, nameZh: '基准测试卡', nameEn: 'Bench card', brand: 'bench', kind: 'card_code', faceValueFen: 10_000, lowStockThreshold: 0, procurementBatch: 0 });

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
    const imported = await withPeakRss(() => timed(() => importCardCodes(db, vault, {
      booking: againstAccount(ledger, { key: 'card-import:bench', counter: 'adjustments', reason: 'benchmark stock', actor: SYSTEM }),
      batchKey: 'bench', sku, unitCostFen: 9_500, source: 'file', fileName: 'codes.csv', rows: readCodeFile(file), onProgress: (n) => bar.update(n), onPhase: (name, ms) => phases.push(`${name} ${fmt(ms / 1000, 2)} s`),
    })));
    bar.done();

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
    console.log(`ratio      importer time ÷ bare COPY time = ${fmt(importSeconds / copy.seconds, 2)}x (target ≤ 4x)`);
    await reportInvariants(db);
  } finally {
    await db.destroy();
    await database.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
}
