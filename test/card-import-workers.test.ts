import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/catalog.ts';
import { loadConfig } from '../src/config.ts';
import { CodeVault } from '../src/inventory/codes.ts';
import { ImportRejectedError } from '../src/inventory/errors.ts';
import { importCardCodes, readCodeFile } from '../src/inventory/import.ts';
import { testStock } from './support/stock.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';

// Sealing in worker threads (src/inventory/seal-pool.ts) must store what the importing thread
// would: small batches here, so that a file of a few hundred rows spans several threads.
const threaded = { sealWorkers: 3, batchRows: 64 };
const inline = { sealWorkers: 0, batchRows: 64 };

let h: Harness;
let vault: CodeVault;
let dir: string;
let catalog: Catalog;

beforeAll(async () => {
  h = await openHarness({ worker: false });
  await h.ledger.openPlatformAccounts();
  vault = new CodeVault(h.keys);
  catalog = new Catalog(h.db);
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-codes-workers-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
  await h.close();
});

async function cardSku() {
  return (await catalog.createSku({ code: uniq('CARD').toUpperCase(), nameZh: '骏网一卡通100', nameEn: 'JCard 100', brand: '骏网', kind: 'card_code', faceValueFen: 10_000, lowStockThreshold: 5, procurementBatch: 20 })).code;
}

/** A file of `rows` codes for `sku`: odd serials, quoted codes, rows without an expiry. */
async function codeFile(name: string, sku: string, rows: number, edit: (line: string, i: number) => string = (l) => l) {
  const lines = ['sku,serial,code,expires_at'];
  for (let i = 0; i < rows; i++) {
    const serial = i % 50 === 7 ? `"SN\\${i},x"` : `SN${i}`;
    const code = i % 40 === 3 ? `"  卡密 ${i}\t=x "` : `CODE-${name}-${i.toString(36)}`;
    lines.push(edit(`${sku},${serial},${code},${i % 9 === 0 ? '' : '2031-06-30'}`, i));
  }
  const file = path.join(dir, `${name}.csv`);
  await fs.writeFile(file, lines.join('\n'));
  return file;
}

const importFile = (file: string, sku: string, sealing: typeof threaded) =>
  importCardCodes(h.db, vault, { booking: testStock(h.ledger), batchKey: uniq('batch'), sku, unitCostFen: 9_300, source: 'file', fileName: path.basename(file), rows: readCodeFile(file), sealing });

const stored = async (sku: string) => (await h.db('card_codes').where({ sku_code: sku }).orderBy('id')).map((r) => ({
  serial: r.serial as string, expiresOn: r.expires_on as Date | null, code: vault.open(r.code_sealed), fingerprint: (r.fingerprint as Buffer).toString('hex'), iv: (r.code_sealed as Buffer).subarray(0, 12).toString('hex'),
}));

describe('card code import sealed in worker threads', () => {
  it('stores what a single-thread import stores: the same codes, in file order, with the same fingerprints', async () => {
    const [one, many] = [await cardSku(), await cardSku()];
    const single = await importFile(await codeFile('single', one, 700), one, inline);
    const multi = await importFile(await codeFile('single', many, 700), many, threaded);
    expect([single.imported, multi.imported]).toEqual([700, 700]);

    const [a, b] = [await stored(one), await stored(many)];
    expect(b.map((r) => r.code)).toEqual(a.map((r) => r.code));
    expect(b.map((r) => r.serial)).toEqual(a.map((r) => r.serial));
    expect(b.map((r) => r.expiresOn)).toEqual(a.map((r) => r.expiresOn));
    expect(a[3]!.code).toBe('卡密 3\t=x');
    expect(a[7]!.serial).toBe('SN\\7,x');
    // the fingerprint is the vault's, whichever thread computed it
    expect(a.map((r) => r.fingerprint)).toEqual(a.map((r) => vault.fingerprint(one, r.code).toString('hex')));
    expect(b.map((r) => r.fingerprint)).toEqual(b.map((r) => vault.fingerprint(many, r.code).toString('hex')));
    // one random IV per code, never reused across batches or threads
    expect(new Set([...a, ...b].map((r) => r.iv)).size).toBe(1_400);
  });

  it('refuses the whole file for one bad line or a duplicate across batches, naming the lines, and stores nothing', async () => {
    const sku = await cardSku();
    const before = await h.db('card_codes').count('* as n');
    const bad = await codeFile('bad', sku, 600, (line, i) => (i === 450 ? `${sku},SN450,,2031-06-30` : i === 520 ? line.replace(/CODE-bad-[0-9a-z]+/, 'CODE-bad-5') : line));
    const error = await importFile(bad, sku, threaded).catch((e) => e);
    expect(error).toBeInstanceOf(ImportRejectedError);
    expect((error as ImportRejectedError).problems.map((p) => `${p.file}:${p.line} ${p.column}: ${p.message}`)).toEqual([
      'bad.csv:452 code: is empty',
      'bad.csv:522 code: duplicate of the code on line 7',
    ]);
    expect(await h.db('card_codes').count('* as n')).toEqual(before);
    expect(await h.db('card_batches').where({ sku_code: sku }).count('* as n')).toEqual([{ n: 0 }]);
  });

  it('seals on every core unless told otherwise (KAMENG_IMPORT_SEAL_WORKERS, KAMENG_IMPORT_BATCH_ROWS)', () => {
    expect(loadConfig({ HOME: '/home/finance' }, '/srv/kameng').cardImport).toEqual({ sealWorkers: os.availableParallelism(), batchRows: 4_096 });
    expect(loadConfig({ HOME: '/home/finance', KAMENG_IMPORT_SEAL_WORKERS: '0', KAMENG_IMPORT_BATCH_ROWS: '1000' }, '/srv/kameng').cardImport).toEqual({ sealWorkers: 0, batchRows: 1_000 });
    expect(() => loadConfig({ HOME: '/home/finance', KAMENG_IMPORT_SEAL_WORKERS: '-1' }, '/srv/kameng')).toThrow(/KAMENG_IMPORT_SEAL_WORKERS/);
  });
});
