import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StatementFormatError } from '../src/reconciliation/statement/errors.ts';
import { DEFAULT_PROFILE, parseProfile, type StatementProfile } from '../src/reconciliation/statement/profile.ts';
import { readStatement } from '../src/reconciliation/statement/read.ts';
import type { StatementFinding, StatementLine } from '../src/reconciliation/statement/rows.ts';
import { stageCsv } from '../src/reconciliation/statement/stage.ts';

/**
 * Statements of the whole class issue 19 describes, in shapes no earlier test wrote: header names
 * as suppliers vary them, columns shuffled, unknown and empty columns, Excel's ="123", failed lines
 * with no amount or time, a 交易类型 column that says a line is a refund, footers such as 共10笔.
 * Each is read by both readers reconciliation has (the streaming reader, and staging for COPY),
 * which must agree; each comes out as the lines it holds, or is refused with file:line:column.
 */
let dir: string;
beforeAll(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-shapes-')); });
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

let n = 0;
async function write(name: string, content: string | Buffer): Promise<string> {
  const target = path.join(dir, `${n++}-${name}`);
  await fs.writeFile(target, content);
  return target;
}

type Read = { lines: StatementLine[]; findings: StatementFinding[] } | { refused: StatementFormatError };

async function streamed(file: string, name: string, profile: StatementProfile): Promise<Read> {
  const lines: StatementLine[] = [];
  let findings: StatementFinding[] = [];
  try {
    for await (const l of readStatement({ path: file, name, profile, onFindings: (f) => { findings = f; } })) lines.push(l);
    return { lines, findings };
  } catch (err) {
    if (err instanceof StatementFormatError) return { refused: err };
    throw err;
  }
}

/** What staging (reconciliation's COPY path) reads: its line count and findings, or its refusal. */
async function staged(file: string, name: string, profile: StatementProfile): Promise<{ lines: number; findings: StatementFinding[] } | { refused: StatementFormatError }> {
  const sink = new Writable({ write(_chunk, _encoding, done) { done(); } });
  try {
    const { findingsOf } = await import('../src/reconciliation/statement/stage.ts');
    let preamble: Parameters<typeof findingsOf>[0] = [];
    const rows = await stageCsv({ path: file, name, profile }, () => sink, (p) => { preamble = p; });
    rows.finish();
    return { lines: rows.lines, findings: findingsOf(preamble, rows) };
  } catch (err) {
    if (err instanceof StatementFormatError) return { refused: err };
    throw err;
  }
}

/** A CSV statement read by both readers, which must agree. */
async function readCsv(name: string, content: string | Buffer, profileInput: unknown = {}): Promise<Read> {
  const profile = profileInput === DEFAULT_PROFILE ? DEFAULT_PROFILE : parseProfile(profileInput);
  const file = await write(name, content);
  const read = await streamed(file, name, profile);
  const stage = await staged(file, name, profile);
  if ('refused' in read) {
    expect('refused' in stage ? stage.refused.problems : stage, 'staging reads it as the streaming reader does').toEqual(read.refused.problems);
  } else {
    expect('refused' in stage ? stage.refused.message : stage, 'staging reads it as the streaming reader does').toEqual({ lines: read.lines.length, findings: read.findings });
  }
  return read;
}

/** Lines as compared: reference(s), fen, status, Shanghai wall time. */
const brief = (l: StatementLine) => [l.merchantOrderNos.join('|'), l.amountFen, l.status, new Date(l.completedAt.getTime() + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ')];
const linesOf = (r: Read) => {
  if ('refused' in r) throw new Error(`refused: ${r.refused.message}`);
  return r.lines.map(brief);
};
const refusal = (r: Read) => {
  if (!('refused' in r)) throw new Error(`read ${r.lines.length} lines, expected a refusal`);
  return r.refused.message;
};
const kinds = (r: Read) => ('refused' in r ? [] : r.findings.map((f) => f.kind));

const T = '2026-11-23 09:05:01';
const STANDARD = [['R-1', 4850, 'success', T], ['R-2', 4950, 'success', T], ['R-3', 4850, 'failed', T], ['R-4', -4850, 'refund', T], ['R-5', 4850, 'processing', T]];

describe('statements in shapes suppliers send, read alike by the streaming reader and staging', () => {
  it('1. Chinese header variants, columns shuffled, unknown columns (充值账号, 手续费, 备注), 订单号 + 商户订单号', async () => {
    const r = await readCsv('s1.csv', [
      '充值账号,交易状态,结算金额,面值,商户订单号,手续费,订单号,完成时间,备注',
      `13800138000,交易成功,48.50,50,R-1,0.00,T-1,${T},`,
      `13800138001,充值成功,49.50,50,R-2,0.00,T-2,${T},补单`,
      `13800138002,交易关闭,48.50,50,R-3,0.00,T-3,${T},用户取消`,
      `13800138003,已退款,48.50,50,R-4,0.00,T-4,${T},`,
      `13800138004,充值中,48.50,50,R-5,0.00,T-5,${T},`,
    ].join('\n'));
    expect(linesOf(r)).toEqual(STANDARD);
  });

  it('2. English header variants with punctuation and spaces ("Order ID", "Merchant Order No.", "Amount (CNY)", "Transaction Time")', async () => {
    const r = await readCsv('s2.csv', [
      'Order ID,Merchant Order No.,Product,Amount (CNY),Order Status,Transaction Time',
      `T-1,R-1,CMCC 50,48.50,Success,${T}`,
      `T-2,R-2,CMCC 50,49.50,SUCCESS,${T}`,
      `T-3,R-3,CMCC 50,48.50,Failed,${T}`,
      `T-4,R-4,CMCC 50,-48.50,Refunded,${T}`,
      `T-5,R-5,CMCC 50,48.50,Processing,${T}`,
    ].join('\r\n'));
    expect(linesOf(r)).toEqual(STANDARD);
  });

  it('3. Excel-exported CSV: ="123" references, quoted numbers, a UTF-8 BOM before a title line', async () => {
    const r = await readCsv('s3.csv', `\uFEFF${[
      'XX公司对账单 2026-11-23',
      '流水号,外部订单号,实付金额,订单状态,下单时间',
      `="0001",="R-1","48.50",成功,${T}`,
      `="0002",="R-2","49.50",成功,${T}`,
      `"=""0003""","=""R-3""","48.50",失败,${T}`,
      `="0004",="R-4","-48.50",成功,${T}`,
      `="0005",="R-5","48.50",处理中,${T}`,
    ].join('\r\n')}\r\n`);
    expect(linesOf(r)).toEqual(STANDARD);
  });

  it('4. amounts with spaces, ¥ and 元, full-width digits, (1.00) negatives, and trailing zeros beyond fen', async () => {
    const r = await readCsv('s4.csv', [
      '交易号,商户订单号,交易金额,状态,交易时间',
      `T-1,R-1, ¥ 48.50 ,成功,${T}`,
      `T-2,R-2,49.5000,成功,${T}`,
      `T-3,R-3,"￥４８．５０",失败,${T}`,
      `T-4,R-4,"（48.50）",成功,${T}`,
      `T-5,R-5,48.50 元,处理中,${T}`,
    ].join('\n'));
    expect(linesOf(r)).toEqual(STANDARD);
  });

  it('5. failed and processing lines with no amount (blank, "-"): nothing was charged', async () => {
    const r = await readCsv('s5.csv', [
      '系统订单号,商户订单号,扣款金额,充值状态,下单时间,完成时间',
      `T-1,R-1,48.50,充值成功,2026-11-23 09:00:00,${T}`,
      `T-2,R-2,49.50,充值成功,2026-11-23 09:00:00,${T}`,
      `T-3,R-3,-,充值失败,2026-11-23 09:05:01,${T}`,
      `T-4,R-4,48.50,已退款,2026-11-23 09:00:00,${T}`,
      `T-5,R-5,,充值中,2026-11-23 09:05:01,${T}`,
    ].join('\n'));
    expect(linesOf(r)).toEqual([STANDARD[0], STANDARD[1], ['R-3', 0, 'failed', T], STANDARD[3], ['R-5', 0, 'processing', T]]);
  });

  it('6. a 交易类型 column: a refund or reversal with a positive amount and status 成功 is no sale', async () => {
    const r = await readCsv('s6.csv', [
      '交易流水号,商户订单号,交易类型,金额,交易状态,交易时间',
      `T-1,R-1,消费,48.50,成功,${T}`,
      `T-2,R-2,消费,49.50,成功,${T}`,
      `T-3,R-3,消费,48.50,失败,${T}`,
      `T-4,R-4,退款,48.50,成功,${T}`,
      `T-5,R-5,消费,48.50,处理中,${T}`,
      `T-6,R-1,冲正,48.50,成功,${T}`,
    ].join('\n'));
    expect(linesOf(r)).toEqual([...STANDARD, ['R-1', -4850, 'refund', T]]);
  });

  it('7. a footer 共5笔 in the first cell, and 总笔数/总金额 on one line, are totals, not lines', async () => {
    const body = ['订单号,商户订单号,成本价,订单状态,完成时间', ...STANDARD.map(([ref, fen, status], i) => `T-${i},${ref},${(Math.abs(Number(fen)) / 100).toFixed(2)},${{ success: '成功', failed: '失败', refund: '已退款', processing: '处理中' }[status as string]},${T}`)];
    const a = await readCsv('s7a.csv', [...body, '共5笔,,"243.50",,'].join('\n'));
    expect(linesOf(a)).toEqual(STANDARD);
    expect(kinds(a)).toEqual(['footer']);
    const b = await readCsv('s7b.csv', [...body, '总笔数：5  总金额：243.50元'].join('\n'));
    expect(linesOf(b)).toEqual(STANDARD);
    expect(kinds(b)).toEqual(['footer']);
    const cut = await readCsv('s7c.csv', [...body, '共10笔'].join('\n'));
    expect(kinds(cut)).toEqual(['footer', 'control_total_mismatch']);
  });

  it('8. empty trailing columns, trailing blank lines and whitespace-only lines at the end', async () => {
    const r = await readCsv('s8.csv', `${[
      '流水号,商户订单号,金额,状态,交易时间,,',
      `T-1,R-1,48.50,成功,${T},,`,
      `T-2,R-2,49.50,成功,${T},,`,
      `T-3,R-3,48.50,失败,${T},,`,
      `T-4,R-4,-48.50,成功,${T},,`,
      `T-5,R-5,48.50,处理中,${T},,`,
      ',,,,,,', '', '   ', ',,',
    ].join('\r\n')}\r\n\r\n`);
    expect(linesOf(r)).toEqual(STANDARD);
  });

  it('9. the header repeated in the middle (a multi-page export) is not a bad line', async () => {
    const header = '流水号,商户订单号,金额,状态,交易时间';
    const r = await readCsv('s9.csv', [
      header, `T-1,R-1,48.50,成功,${T}`, `T-2,R-2,49.50,成功,${T}`, header, `T-3,R-3,48.50,失败,${T}`, `T-4,R-4,-48.50,成功,${T}`, `T-5,R-5,48.50,处理中,${T}`,
    ].join('\n'));
    expect(linesOf(r)).toEqual(STANDARD);
  });

  it('10. GBK, semicolons, date and time in two columns, an account line, 合计 with 共5笔', async () => {
    const r = await readCsv('s10.csv', iconv.encode(`${[
      '商户名称：卡盟;商户号：10086', '', '交易日期;交易时间;平台订单号;商户单号;结算金额;处理状态',
      '2026/11/23;9:05:01;T-1;R-1;48.50;成功', '2026/11/23;9:05:01;T-2;R-2;49.50;成功', '2026/11/23;9:05:01;T-3;R-3;48.50;失败',
      '2026/11/23;9:05:01;T-4;R-4;-48.50;成功', '2026/11/23;9:05:01;T-5;R-5;48.50;处理中', '合计;共5笔;;;146.50;',
    ].join('\r\n')}\r\n`, 'gbk'));
    expect(linesOf(r)).toEqual(STANDARD);
    expect(kinds(r)).toEqual(['preamble', 'footer']);
  });

  it('11. tabs, ISO times with +08:00, quoted fields with commas and line breaks in 备注', async () => {
    const r = await readCsv('s11.csv', [
      'trade_no\tout_trade_no\tsettle_amount\ttrade_status\tfinish_time\tremark',
      'T-1\tR-1\t48.50\tSUCCESS\t2026-11-23T09:05:01+08:00\t"a, b"',
      'T-2\tR-2\t49.50\tSUCCESS\t2026-11-23T09:05:01+08:00\t"two\nlines"',
      'T-3\tR-3\t48.50\tFAILED\t2026-11-23T09:05:01+08:00\t',
      'T-4\tR-4\t-48.50\tSUCCESS\t2026-11-23T09:05:01+08:00\t',
      'T-5\tR-5\t48.50\tPROCESSING\t2026-11-23T09:05:01+08:00\t',
    ].join('\n'));
    expect(linesOf(r)).toEqual(STANDARD);
  });

  it('12. a supplier in another time zone, Chinese date-time with 年月日', async () => {
    const r = await readCsv('s12.csv', [
      '交易号,外部订单号,金额,状态,成功时间',
      'T-1,R-1,48.50,成功,2026年11月22日 20时05分01秒',
    ].join('\n'), { timeZone: 'America/New_York' });
    expect(linesOf(r)).toEqual([['R-1', 4850, 'success', '2026-11-23 09:05:01']]);
  });

  it('13. amounts in fen by the profile, and a header that says 金额(分)', async () => {
    const a = await readCsv('s13a.csv', ['订单号,金额(分),状态,时间', `T-1,4850,成功,${T}`].join('\n'));
    expect(linesOf(a)).toEqual([['T-1', 4850, 'success', T]]);
    const b = await readCsv('s13b.csv', ['订单号,金额,状态,时间', `T-1,4850,成功,${T}`].join('\n'), { amountUnit: 'fen' });
    expect(linesOf(b)).toEqual([['T-1', 4850, 'success', T]]);
  });

  it('14. a truly bad line refuses the file with file:line:column for each problem', async () => {
    const r = await readCsv('s14.csv', [
      'XX公司对账单', '流水号,商户订单号,金额,状态,完成时间', `T-1,R-1,48.50,成功,${T}`, `T-2,R-2,4x.50,成功,${T}`, 'T-3,R-3,48.50,好的,2026-13-01 00:00:00',
    ].join('\n'));
    expect(refusal(r)).toContain('s14.csv:4:3 (金额): "4x.50" is not an amount');
    expect(refusal(r)).toContain('s14.csv:5:4 (状态): "好的" is not a known status');
    expect(refusal(r)).toContain('s14.csv:5:5 (完成时间)');
  });

  it('15. a successful line with no amount is refused (only a failed or processing line may leave it out)', async () => {
    const r = await readCsv('s15.csv', ['流水号,商户订单号,金额,状态,完成时间', `T-1,R-1,,成功,${T}`].join('\n'));
    expect(refusal(r)).toContain('s15.csv:2:3 (金额): is empty');
  });
});

describe('more shapes', () => {
  it('17. every row one wider than the header (a trailing separator), or a header with empty trailing names and rows without them', async () => {
    const a = await readCsv('s17a.csv', ['流水号,商户订单号,金额,状态,交易时间', `T-1,R-1,48.50,成功,${T},`, `T-2,R-2,49.50,成功,${T},`].join('\n'));
    expect(linesOf(a)).toEqual(STANDARD.slice(0, 2));
    const b = await readCsv('s17b.csv', ['流水号,商户订单号,金额,状态,交易时间,,,', `T-1,R-1,48.50,成功,${T}`, `T-2,R-2,49.50,成功,${T},`].join('\n'));
    expect(linesOf(b)).toEqual(STANDARD.slice(0, 2));
    // a cell beyond the header that is not empty: the row is shifted (an unquoted 1,234.50), refused
    const c = await readCsv('s17c.csv', ['流水号,商户订单号,金额,状态,交易时间', `T-1,R-1,1,234.50,成功,${T}`].join('\n'));
    expect(refusal(c)).toContain('s17c.csv:2: has 6 columns, the header has 5');
  });

  it('18. a reference Excel rounded (1.23457E+17, or a number cell past 2^53) is refused, saying to keep the column as text', async () => {
    const r = await readCsv('s18.csv', ['订单号,商户订单号,金额,状态,交易时间', `T-1,1.23457E+17,48.50,成功,${T}`].join('\n'));
    expect(refusal(r)).toContain('s18.csv:2:2 (商户订单号): "1.23457E+17" is a number Excel rounded');
    const x = await readXlsx((book) => {
      const sheet = book.addWorksheet('s');
      sheet.addRow(['订单号', '商户订单号', '金额', '状态', '交易时间']);
      sheet.addRow(['T-1', Number('202611230000000123'), 48.5, '成功', T]);
    });
    expect(refusal(x)).toContain('book.xlsx:2:2 (商户订单号)');
    expect(refusal(x)).toContain('Excel rounded');
  });

  it('19. header cells broken by spaces or line breaks between Chinese characters, and 金额(人民币)', async () => {
    const r = await readCsv('s19.csv', ['"商户\n订单号",结算 金额(人民币),交易 状态,完成  时间', `R-1,48.50,成功,${T}`].join('\n'));
    expect(linesOf(r)).toEqual([STANDARD[0]]);
  });

  it('20. status words in other common forms (SUCCEED, 已受理, 已退货) and a U+2212 minus sign', async () => {
    const r = await readCsv('s20.csv', ['订单号,金额,状态,时间', `R-1,48.50,SUCCEED,${T}`, `R-5,48.50,已受理,${T}`, `R-4,48.50,已退货,${T}`, `R-6,\u221248.50,成功,${T}`].join('\n'));
    expect(linesOf(r)).toEqual([STANDARD[0], ['R-5', 4850, 'processing', T], STANDARD[3], ['R-6', -4850, 'refund', T]]);
  });

  it('21. a failed line with no time: refused, saying which profile setting names another time column', async () => {
    const text = ['订单号,金额,状态,下单时间,完成时间', `R-1,48.50,成功,${T},${T}`, `R-3,48.50,失败,${T},`].join('\n');
    expect(refusal(await readCsv('s21.csv', text))).toContain('s21.csv:3:5 (完成时间): is empty (every line needs a time; to read another column, such as 下单时间, name it in the profile\'s columns.completedAt)');
    expect(linesOf(await readCsv('s21.csv', text, { columns: { completedAt: ['下单时间'] } }))).toEqual([['R-1', 4850, 'success', T], ['R-3', 4850, 'failed', T]]);
  });

  it('22. times written 下午 3:05:01 or 3:05:01 PM, seconds since 1970, and a 日期 column holding the whole time', async () => {
    const r = await readCsv('s22.csv', ['订单号,金额,状态,时间', 'R-1,48.50,成功,2026/11/23 上午 9:05:01', 'R-2,48.50,成功,2026-11-23 3:05:01 PM', 'R-3,48.50,成功,1795482301'].join('\n'));
    expect(linesOf(r)).toEqual([['R-1', 4850, 'success', T], ['R-2', 4850, 'success', '2026-11-23 15:05:01'], ['R-3', 4850, 'success', '2026-11-24 09:05:01']]);
    const d = await readCsv('s22b.csv', ['订单号,金额,状态,日期', `R-1,48.50,成功,${T}`, 'R-2,48.50,成功,2026-11-23'].join('\n'));
    expect(refusal(d)).toContain('s22b.csv:3:4 (日期): "2026-11-23" is not a time');
  });
});

async function readXlsx(build: (book: ExcelJS.Workbook) => void, profileInput: unknown = {}): Promise<Read> {
  const book = new ExcelJS.Workbook();
  build(book);
  const file = path.join(dir, `${n++}-book.xlsx`);
  await book.xlsx.writeFile(file);
  return streamed(file, 'book.xlsx', parseProfile(profileInput));
}

describe('workbooks', () => {
  it('16. XLSX: a merged title, the header on the second sheet in row 4, date cells, a 共5笔 footer', async () => {
    const r = await readXlsx((book) => {
      book.addWorksheet('说明').addRow(['本文件由系统导出']);
      const sheet = book.addWorksheet('对账明细');
      sheet.addRow(['XX公司对账单 2026-11-23']);
      sheet.mergeCells('A1:F1');
      sheet.addRow(['账户：卡盟']);
      sheet.addRow([]);
      sheet.addRow(['交易号', '商户订单号', '面值', '结算金额', '订单状态', '完成时间', null, null]);
      const at = new Date(Date.UTC(2026, 10, 23, 9, 5, 1));
      sheet.addRow(['T-1', 'R-1', 50, 48.5, '交易成功', at]);
      sheet.addRow(['T-2', 'R-2', 50, 49.5, '交易成功', at]);
      sheet.addRow(['T-3', 'R-3', 50, 48.5, '交易关闭', at]);
      sheet.addRow(['T-4', 'R-4', 50, -48.5, '交易成功', at]);
      sheet.addRow(['T-5', 'R-5', 50, 48.5, '处理中', at]);
      sheet.addRow(['共5笔', null, null, 146.5]);
    });
    expect(linesOf(r)).toEqual(STANDARD);
    expect(kinds(r)).toEqual(['preamble', 'preamble', 'footer']);
  });
});

describe("Excel's =\"0012\" in the streaming reader", () => {
  it('is rewritten the same however the text is cut into chunks', async () => {
    const { excelTexts } = await import('../src/files/tabular.ts');
    const text = 'a,b\n="01",="x,""y"""\n"q=""z""",=1\n=,"="\n="2\n3"';
    const whole = async (chunks: string[]) => {
      const t = excelTexts(',');
      const out: string[] = [];
      t.on('data', (d: Buffer | string) => out.push(String(d)));
      for (const c of chunks) t.write(c);
      await new Promise((r) => t.end(r));
      return out.join('');
    };
    const expected = await whole([text]);
    expect(expected).toBe('a,b\n"=""01""","=""x,""y"""""\n"q=""z""",=1\n=,"="\n"=""2\n3"""');
    for (let i = 1; i < text.length; i++) {
      for (let j = i + 1; j <= text.length; j += 3) expect(await whole([text.slice(0, i), text.slice(i, j), text.slice(j)]), `cut at ${i} and ${j}`).toBe(expected);
    }
  });
});

describe('through the whole reconciliation', () => {
  const D = '2026-10-07';
  let h: import('./support/harness.ts').Harness;
  beforeAll(async () => {
    const { openHarness } = await import('./support/harness.ts');
    h = await openHarness();
    await h.ledger.openPlatformAccounts();
  });
  afterAll(async () => { await h?.close(); });

  /** As statement-profiles.test.ts plants them: ours for ok, amount, status, proc, omitted; the file's lines as labelled. */
  async function plantedRun(label: string, build: (ref: (l: string) => string) => string | Buffer, name = 'stmt.csv') {
    const { businessDayRange } = await import('../src/dates.ts');
    const { reconcileDay } = await import('../src/reconciliation/reconcile.ts');
    const { recordPlacement, recordResult } = await import('../src/supplier-api/transactions.ts');
    const { supplierCode } = await import('./support/world.ts');
    const { TEST_RECON_SETTINGS } = await import('./support/harness.ts');
    const code = supplierCode(label);
    const s = await h.deps.suppliers.upsert({ code, name: `${code} 供应商`, apiBaseUrl: 'http://127.0.0.1:1', apiKey: 'k' });
    const ref = (l: string) => `${s.code}-${l}`;
    const noon = new Date(businessDayRange(D).start.getTime() + 12 * 3600_000);
    for (const l of ['ok', 'amount', 'status', 'proc', 'omitted']) {
      await recordPlacement(h.db, { requestId: ref(l), supplierId: s.id, kind: 'topup', skuCode: 'CMCC-50', supplierSku: 'CM50', quantity: 1, costFen: 4_850 });
      await recordResult(h.db, ref(l), { status: 'success', supplierTxnId: `T-${ref(l)}`, completedAt: noon });
    }
    const file = await write(name, build(ref));
    const summary = await reconcileDay(h.db, {
      supplier: s, date: D, file, fileName: name, source: 'uploaded', workflowId: 'test', triggeredBy: 'test',
      archiveDir: TEST_RECON_SETTINGS.archiveDir, windowMinutes: 10, checkSuspicious: true,
    });
    const rows = await h.db('recon_results').where({ run_id: summary.runId });
    const classes = Object.fromEntries(rows.map((r) => [r.class === 'missing_in_ours' ? 'unknown' : `${String(r.request_id).replace(`${s.code}-`, '')}${r.class === 'refund_at_supplier' ? '/refund' : ''}`, r.class]));
    return { summary, classes };
  }
  const EXPECTED = {
    ok: 'matched', 'ok/refund': 'refund_at_supplier', amount: 'amount_mismatch', status: 'status_mismatch',
    unknown: 'missing_in_ours', proc: 'processing_at_supplier', omitted: 'missing_at_supplier',
  };
  const at = '2026-10-07 12:00:00';

  it('Excel-exported CSV: ="..." references, a trailing separator, trade_status, a 交易类型 refund with a positive amount, 48.5000, a failed line with "-", 共6笔', async () => {
    const { classes, summary } = await plantedRun('excelcsv', (ref) => `\uFEFF${[
      'XX公司对账单 2026-10-07',
      'Order ID,Merchant Order No.,交易类型,Amount (CNY),trade_status,Transaction Time,',
      `="0001",="${ref('ok')}",消费,48.5000,SUCCESS,${at},`,
      `="0002",="${ref('amount')}",消费,49.50,SUCCESS,${at},`,
      `="0003",="${ref('status')}",消费,-,FAILED,${at},`,
      `="0004",="other-unknown",消费,"1,010.00",SUCCESS,${at},`,
      `="0005",="${ref('proc')}",消费,48.50,PROCESSING,${at},`,
      `="0006",="${ref('ok')}",退款,48.50,SUCCESS,${at},`,
      '共6笔,,,,,,',
    ].join('\r\n')}\r\n`);
    expect(classes).toEqual(EXPECTED);
    expect(summary.findings!.some((f) => f.kind === 'control_total_mismatch')).toBe(false);
  });

  it('a status column under a name we do not know refuses the file instead of reading every line as successful', async () => {
    const error = await plantedRun('unknownstatus', (ref) => ['订单号,金额,Settle Status,完成时间', `${ref('status')},48.50,FAILED,${at}`].join('\n')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StatementFormatError);
    expect((error as Error).message).toContain('header is missing column(s): 状态 status');
    expect((error as Error).message).toContain('columns.status');
  });
});
