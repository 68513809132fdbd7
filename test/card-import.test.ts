import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/catalog.ts';
import { CodeVault } from '../src/inventory/codes.ts';
import { ImportRejectedError } from '../src/inventory/errors.ts';
import { testStock } from './support/stock.ts';
import { importCardCodes, readCodeFile } from '../src/inventory/import.ts';
import { stockLevels } from '../src/inventory/stock.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';

let h: Harness;
let vault: CodeVault;
let dir: string;
let catalog: Catalog;

beforeAll(async () => {
  h = await openHarness({ worker: false });
  await h.ledger.openPlatformAccounts();
  vault = new CodeVault(h.keys);
  catalog = new Catalog(h.db);
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-codes-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
  await h.close();
});

async function cardSku() {
  return (await catalog.createSku({ code: uniq('CARD').toUpperCase(), nameZh: '网易一卡通50', nameEn: 'NetEase card 50', brand: '网易', kind: 'card_code', faceValueFen: 5_000, lowStockThreshold: 5, procurementBatch: 20 })).code;
}

async function csv(name: string, lines: string[]) {
  const file = path.join(dir, name);
  await fs.writeFile(file, lines.join('\n'));
  return file;
}

const importFile = (file: string, sku: string, batchKey = uniq('batch')) =>
  importCardCodes(h.db, vault, { booking: testStock(h.ledger), batchKey, sku, unitCostFen: 4_700, source: 'file', fileName: path.basename(file), rows: readCodeFile(file) });

const codeCount = async () => Number((await h.db('card_codes').count('* as n'))[0]!.n);

describe('card code import', () => {
  it('imports a CSV, storing every code sealed and never in plain text', async () => {
    const sku = await cardSku();
    const codes = ['AAAA-1111-BBBB-2222', 'CCCC-3333-DDDD-4444', 'EEEE-5555-FFFF-6666'];
    const file = await csv('delivery.csv', ['sku,serial,code,expires_at', ...codes.map((c, i) => `${sku},SN${i},${c},2030-12-31`)]);
    const result = await importFile(file, sku);
    expect(result).toMatchObject({ imported: 3, totalCostFen: 3 * 4_700, created: true });

    const rows = await h.db('card_codes').where({ sku_code: sku }).orderBy('id');
    const asText = JSON.stringify(rows) + rows.map((r) => r.code_sealed.toString('latin1')).join('');
    for (const c of codes) expect(asText).not.toContain(c);
    expect(rows.map((r) => vault.open(r.code_sealed))).toEqual(codes);
    expect((await stockLevels(h.db)).find((l) => l.sku === sku)).toMatchObject({ available: 3, low: true });
  });

  it('imports an XLSX and a GBK CSV with Chinese headers', async () => {
    const sku = await cardSku();
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('卡密');
    ws.addRow(['商品编码', '卡号', '卡密', '有效期']);
    ws.addRow([sku, 'X1', 'XLSX-CODE-0001', '2031-01-01']);
    const xlsx = path.join(dir, 'codes.xlsx');
    await wb.xlsx.writeFile(xlsx);
    expect((await importFile(xlsx, sku)).imported).toBe(1);

    const gbk = path.join(dir, 'codes-gbk.csv');
    await fs.writeFile(gbk, iconv.encode(`商品编码,卡号,卡密,有效期\n${sku},G1,GBK-CODE-0001,2031-01-01\n`, 'gbk'));
    expect((await importFile(gbk, sku)).imported).toBe(1);
  });

  it('rejects a whole file with duplicates, an existing code and a wrong SKU, naming each line, and stores nothing', async () => {
    const sku = await cardSku();
    await importFile(await csv('first.csv', ['sku,serial,code', `${sku},S0,ALREADY-IN-STOCK`]), sku);
    const before = await codeCount();
    const file = await csv('bad.csv', [
      'sku,serial,code,expires_at',
      `${sku},S1,GOOD-CODE-1,2030-01-01`,
      `${sku},S2,DUP-CODE,2030-01-01`,
      `${sku},S3,DUP-CODE,2030-01-01`,
      `${sku},S4,ALREADY-IN-STOCK,2030-01-01`,
      `OTHER-SKU,S5,GOOD-CODE-5,2030-01-01`,
      `${sku},S6,OLD-CODE,2020-01-01`,
    ]);
    const error = await importFile(file, sku).catch((e) => e);
    expect(error).toBeInstanceOf(ImportRejectedError);
    const summary = (error as ImportRejectedError).problems.map((p) => `${p.line} ${p.column}: ${p.message}`);
    expect(summary).toEqual([
      '4 code: duplicate of the code on line 3',
      '5 code: code already in stock (batch ' + summary[1]!.match(/batch (\d+)/)![1] + ')',
      `6 sku: SKU "OTHER-SKU" does not belong in a batch of ${sku}`,
      '7 expires_at: code expired on 2020-01-01',
    ].sort((a, b) => Number(a.split(' ')[0]) - Number(b.split(' ')[0])));
    expect(error.message).toMatch(/bad\.csv:4 \(code\): duplicate of the code on line 3/);
    expect(await codeCount()).toBe(before);
  });

  it('rejects a file missing a column, and an unknown SKU', async () => {
    const sku = await cardSku();
    const noCode = await csv('no-code.csv', ['sku,serial', `${sku},S1`]);
    await expect(importFile(noCode, sku)).rejects.toThrow(/no-code\.csv:1: header is missing column\(s\): code\/卡密/);
    const file = await csv('unknown.csv', ['sku,serial,code', 'NOPE,S1,C1']);
    await expect(importFile(file, 'NOPE')).rejects.toThrow(/unknown SKU "NOPE"/);
  });

  it('imports the same batch key only once', async () => {
    const sku = await cardSku();
    const file = await csv('twice.csv', ['sku,serial,code', `${sku},S1,ONCE-ONLY-1`, `${sku},S2,ONCE-ONLY-2`]);
    const first = await importFile(file, sku, 'supplier-x:order-42');
    const again = await importFile(file, sku, 'supplier-x:order-42');
    expect(again).toEqual({ ...first, created: false });
    expect(await h.db('card_codes').where({ sku_code: sku }).count('* as n')).toEqual([{ n: 2 }]);
  });
});
