import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StatementFormatError } from '../src/reconciliation/statement/errors.ts';
import { fileSha256, readStatement } from '../src/reconciliation/statement/read.ts';
import type { StatementLine } from '../src/reconciliation/statement/rows.ts';

let dir: string;
beforeAll(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-stmt-')); });
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

async function write(name: string, content: string | Buffer): Promise<string> {
  const file = path.join(dir, name);
  await fs.writeFile(file, content);
  return file;
}

async function readAll(file: string, options: Parameters<typeof readStatement>[0] extends infer S ? Partial<S> : never = {}) {
  const lines: StatementLine[] = [];
  for await (const l of readStatement({ path: file, ...options })) lines.push(l);
  return lines;
}

async function rejection(file: string): Promise<StatementFormatError> {
  const error = await readAll(file).catch((e) => e);
  expect(error).toBeInstanceOf(StatementFormatError);
  return error as StatementFormatError;
}

describe('supplier statements', () => {
  it('reads a UTF-8 CSV with English headers into fen and Shanghai instants', async () => {
    const file = await write('acme-2026-11-24.csv', [
      'supplier_txn_id,merchant_order_no,sku,quantity,amount,status,completed_at',
      'T1,kameng-1-1,CMCC-50,1,49.50,SUCCESS,2026-11-24 23:59:58',
      'T2,kameng-2-1|kameng-3-1,GAME-100,2,190.00,FAILED,2026-11-24 10:00:00',
    ].join('\n'));
    const lines = await readAll(file);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ line: 2, supplierTxnId: 'T1', merchantOrderNos: ['kameng-1-1'], amountFen: 4950, status: 'success', quantity: 1 });
    expect(lines[0]!.completedAt.toISOString()).toBe('2026-11-24T15:59:58.000Z');
    expect(lines[1]!.merchantOrderNos).toEqual(['kameng-2-1', 'kameng-3-1']);
  });

  it('reads a GBK CSV with Chinese headers, detecting the encoding', async () => {
    const csv = ['订单号,商户订单号,商品编码,数量,金额(元),状态,完成时间', 'G1,kameng-9-1,CUCC-100,1,98.00,成功,2026/11/24 08:00:00'].join('\r\n');
    const file = await write('联通供应商.csv', iconv.encode(csv, 'gbk'));
    const lines = await readAll(file);
    expect(lines).toEqual([expect.objectContaining({ supplierTxnId: 'G1', amountFen: 9800, status: 'success', sku: 'CUCC-100' })]);
  });

  it('reads an XLSX statement, with dates stored as spreadsheet dates', async () => {
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('对账单');
    ws.addRow(['订单号', '商户订单号', '商品编码', '数量', '金额(元)', '状态', '完成时间']);
    ws.addRow(['X1', 'kameng-5-1', 'QQ-10', 1, 9.8, '成功', new Date(Date.UTC(2026, 10, 24, 12, 30, 0))]);
    const file = path.join(dir, 'xlsx-supplier.xlsx');
    await wb.xlsx.writeFile(file);
    const lines = await readAll(file);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ supplierTxnId: 'X1', amountFen: 980 });
    expect(lines[0]!.completedAt.toISOString()).toBe('2026-11-24T04:30:00.000Z');
  });

  it('rejects a file missing a column, naming the column', async () => {
    const file = await write('no-amount.csv', 'supplier_txn_id,merchant_order_no,sku,quantity,status,completed_at\nT1,a,b,1,SUCCESS,2026-11-24 00:00:00\n');
    const error = await rejection(file);
    expect(error.message).toMatch(/no-amount\.csv:1: header is missing column\(s\): 金额\(元\) amount/);
  });

  it('names the file, line and column of every bad cell, and yields nothing trusted', async () => {
    const file = await write('bad-cells.csv', [
      'supplier_txn_id,merchant_order_no,sku,quantity,amount,status,completed_at',
      'T1,kameng-1-1,CMCC-50,1,49.50,SUCCESS,2026-11-24 23:59:58',
      'T2,kameng-2-1,CMCC-50,1,abc,SUCCESS,2026-11-24 10:00:00',
      'T3,kameng-3-1,CMCC-50,1,1.00,MAYBE,2026-13-40 10:00:00',
      'T4,kameng-4-1,CMCC-50,1',
    ].join('\n'));
    const error = await rejection(file);
    expect(error.totalProblems).toBe(4);
    const text = error.problems.map((p) => `${p.line}:${p.columnNumber ?? '-'}:${p.column ?? ''}`);
    expect(text).toEqual(['3:5:amount', '4:6:status', '4:7:completed_at', '5:-:']);
    expect(error.message).toContain('bad-cells.csv:3:5 (amount): "abc" is not an amount in yuan');
  });

  it('refuses formulas in XLSX cells', async () => {
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('s');
    ws.addRow(['supplier_txn_id', 'merchant_order_no', 'sku', 'quantity', 'amount', 'status', 'completed_at']);
    ws.addRow(['T1', 'k-1', 'S', 1, { formula: 'SUM(1,2)', result: 3 }, 'SUCCESS', '2026-11-24 10:00:00']);
    const file = path.join(dir, 'formula.xlsx');
    await wb.xlsx.writeFile(file);
    const error = await rejection(file);
    expect(error.message).toMatch(/formula\.xlsx:2:5 \(amount\): formulas are not accepted/);
  });

  it('rejects random bytes and an empty file with a clear error', async () => {
    expect((await rejection(await write('empty.csv', ''))).message).toMatch(/the file is empty/);
    expect((await rejection(await write('junk.xlsx', Buffer.from([0x50, 0x4b, 1, 2, 3, 4, 5])))).message).toMatch(/not a readable XLSX workbook/);
  });

  it('recognises the same file by its content hash', async () => {
    const a = await write('a.csv', 'x,y\n1,2\n');
    const b = await write('b.csv', 'x,y\n1,2\n');
    expect(await fileSha256(a)).toBe(await fileSha256(b));
  });
});
