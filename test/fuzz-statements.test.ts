import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import fc from 'fast-check';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StatementFormatError } from '../src/reconciliation/statement/errors.ts';
import { readStatement } from '../src/reconciliation/statement/read.ts';

/**
 * Whatever bytes a supplier sends, reading its statement either yields well-formed lines or
 * refuses the file with StatementFormatError naming file and line: never a TypeError, never a hang.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
let dir: string;
let n = 0;
beforeAll(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-fuzz-stmt-')); });
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

async function outcome(bytes: Buffer, ext: 'csv' | 'xlsx'): Promise<'read' | 'refused'> {
  const file = path.join(dir, `f${n++ % 64}.${ext}`);
  await fs.writeFile(file, bytes);
  try {
    for await (const line of readStatement({ path: file, name: `statement.${ext}`, stallMs: 250 })) {
      // A line that is read is a line we can trust: integer fen, a real instant, a known status.
      if (!Number.isSafeInteger(line.amountFen) || Number.isNaN(line.completedAt.getTime()) || !['success', 'failed', 'processing'].includes(line.status)) {
        throw new Error(`accepted a malformed line: ${JSON.stringify(line)}`);
      }
    }
    return 'read';
  } catch (err) {
    if (!(err instanceof StatementFormatError)) throw err;
    expect(err.problems.length).toBeGreaterThan(0);
    for (const p of err.problems) {
      expect(p.file).toBe(`statement.${ext}`);
      expect(Number.isInteger(p.line) && p.line >= 0).toBe(true);
    }
    expect(err.message).toMatch(/statement\.(csv|xlsx)(:\d+)?/);
    return 'refused';
  }
}

const HEADERS = [
  'supplier_txn_id,merchant_order_no,sku,quantity,amount,status,completed_at',
  '订单号,商户订单号,商品编码,数量,金额(元),状态,完成时间',
];
// Cells that look like what suppliers send, and what goes wrong in them.
const cell = fc.oneof(
  fc.constantFrom('T-1', 'kameng-1-1', 'kameng-2-1|kameng-3-1', 'CMCC-50', '1', '2', '49.50', '-3.00', '1,234.56', '4x.50', '', ' ', 'SUCCESS', '成功', 'FAILED',
    '失败', '2026-11-24 23:59:58', '2026/11/24 10:00', '2026-02-30 10:00:00', '2026-11-24T23:59:58+08:00', '=1+1', '"', '""', '|', ';', '\u0000', '\uFEFF'),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
);
const row = fc.array(cell, { minLength: 5, maxLength: 9 }).map((cells) => cells.map((c) => (/[",\n]/.test(c) && Math.random() < 0.7 ? `"${c.replace(/"/g, '""')}"` : c)).join(','));
const csvText = fc.record({
  header: fc.oneof(fc.constantFrom(...HEADERS), row),
  rows: fc.array(row, { maxLength: 12 }),
  eol: fc.constantFrom('\n', '\r\n'),
});

describe('statement reading under fuzz', () => {
  it(`answers ${RUNS} generated CSV files (UTF-8 or GBK, truncated or not) with lines or a located refusal`, async () => {
    await fc.assert(fc.asyncProperty(csvText, fc.boolean(), fc.option(fc.nat(), { nil: undefined }), async (csv, gbk, cut) => {
      let bytes = gbk ? iconv.encode([csv.header, ...csv.rows].join(csv.eol), 'gbk') : Buffer.from([csv.header, ...csv.rows].join(csv.eol));
      if (cut !== undefined && bytes.length > 0) bytes = bytes.subarray(0, cut % bytes.length);
      await outcome(bytes, 'csv');
    }), { numRuns: RUNS });
  });

  it(`answers ${RUNS} random byte strings given as CSV with a located refusal or nothing to read`, async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
      await outcome(Buffer.from(bytes), 'csv');
    }), { numRuns: RUNS });
  });

  describe('XLSX', () => {
    const pool: Buffer[] = [];
    beforeAll(async () => {
      // Workbooks of the shapes suppliers send, with formulas, errors, rich text and dates in cells.
      const odd: ExcelJS.CellValue[] = [
        { formula: '1+1', result: 2 } as ExcelJS.CellFormulaValue, { formula: 'SUM(A1:A2)' } as ExcelJS.CellFormulaValue, { error: '#N/A' } as ExcelJS.CellErrorValue,
        { richText: [{ text: '49' }, { text: '.50' }] }, new Date(Date.UTC(2026, 10, 24, 15, 59, 58)), 49.5, 'SUCCESS', null, '', 'kameng-1-1', '=HYPERLINK("x")',
      ];
      for (let i = 0; i < 24; i++) {
        const book = new ExcelJS.Workbook();
        const sheet = book.addWorksheet('对账单');
        sheet.addRow(HEADERS[i % 2]!.split(','));
        for (let r = 0; r < 1 + (i % 5); r++) {
          sheet.addRow(Array.from({ length: 7 }, (_, c) => (i > 3 && (r + c + i) % 4 === 0 ? odd[(r * 7 + c + i) % odd.length] : ['T' + r, `kameng-${r}-1`, 'CMCC-50', 1, '49.50', 'SUCCESS', '2026-11-24 10:00:00'][c])));
        }
        pool.push(Buffer.from(await book.xlsx.writeBuffer()));
      }
    });

    it(`answers ${RUNS} workbooks (formula, error and rich-text cells; bytes flipped or cut) with lines or a located refusal`, async () => {
      await fc.assert(fc.asyncProperty(
        fc.nat({ max: 23 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.option(fc.nat(), { nil: undefined }),
        async (which, flips, cut) => {
          let bytes = Buffer.from(pool[which]!);
          for (const [at, value] of flips) bytes[at % bytes.length] = value;
          if (cut !== undefined) bytes = bytes.subarray(0, cut % bytes.length);
          await outcome(bytes, 'xlsx');
        },
      ), { numRuns: RUNS, timeout: 5_000 });
    }, 600_000);
  });
});
