import { once } from 'node:events';
import { PassThrough, type Writable } from 'node:stream';
import archiver from 'archiver';
import type { BusinessDate } from '../dates.ts';
import { CsvSection, streamingWorkbook, XlsxSection, type ExportColumn } from '../files/export-sheet.ts';
import { SECTION_LABELS, type Section } from './sections.ts';
import type { StatementLine, Statements } from './statements.ts';
import type { ResellerStatement } from './types.ts';

/** csv: a zip of CSV files, one table per file (a CSV holds one table: one header, one totals row). */
export type ExportFormat = 'xlsx' | 'csv';

const SECTIONS: Section[] = ['topup', 'order', 'refund', 'adjustment', 'rebate', 'other'];

const OPENING = '期初余额(元) Opening (¥)';
const CLOSING = '期末余额(元) Closing (¥)';

const SUMMARY_COLUMNS: ExportColumn<ResellerStatement>[] = [
  { header: '结算日 Settlement date', width: 14, value: (s) => s.businessDate, kind: 'date' },
  { header: '分销商 Reseller', width: 14, value: (s) => s.resellerCode },
  { header: '名称 Name', width: 20, value: (s) => s.resellerName },
  { header: OPENING, width: 16, fen: (s) => s.openingFen },
  { header: '充值(元) Top-ups (¥)', width: 16, fen: (s) => s.topupsFen },
  { header: '订单数 Orders', width: 10, value: (s) => s.ordersCount },
  { header: '订单金额(元) Orders gross (¥)', width: 18, fen: (s) => s.ordersGrossFen },
  { header: '退款(元) Refunds (¥)', width: 16, fen: (s) => s.refundsFen },
  { header: '调整(元) Adjustments (¥)', width: 16, fen: (s) => s.adjustmentsFen },
  { header: '返利(元) Rebates (¥)', width: 16, fen: (s) => s.rebatesFen },
  { header: '其他(元) Other (¥)', width: 14, fen: (s) => s.otherFen },
  { header: CLOSING, width: 16, fen: (s) => s.closingFen },
  { header: '明细行数 Lines', width: 10, value: (s) => s.lines },
  { header: '补记行数 Late lines', width: 12, value: (s) => s.lateLines },
];

export const AMOUNT_HEADER = '金额(元) Amount (¥)';

const lineColumns = (withReseller: boolean): ExportColumn<StatementLine>[] => [
  { header: '结算日 Settlement date', width: 14, value: (l) => l.statementDate, kind: 'date' },
  ...(withReseller ? [{ header: '分销商 Reseller', width: 14, value: (l: StatementLine) => l.resellerCode }] : []),
  { header: '记账时间 Posted at', width: 22, value: (l) => l.postedAt, kind: 'time' },
  { header: '订单号 Order no.', width: 12, value: (l) => l.orderId },
  { header: '分销商单号 Reseller order id', width: 22, value: (l) => l.resellerOrderId },
  { header: '商品 SKU', width: 14, value: (l) => l.sku },
  { header: '数量 Qty', width: 8, value: (l) => l.quantity },
  { header: AMOUNT_HEADER, width: 16, fen: (l) => l.amountFen },
  { header: '说明 Description', width: 40, value: (l) => l.description },
  // A late line belongs to an earlier, already settled day: say which, and which entry it is.
  { header: '补记 Late (original date)', width: 16, value: (l) => (l.entryDate < l.statementDate ? l.entryDate : null), kind: 'date' },
  { header: '凭证 Ledger entry', width: 26, value: (l) => l.entryKey },
];

export interface ExportResult {
  statements: number;
  lines: number;
  /** Fen per section, as written in the totals rows. */
  sectionTotals: Partial<Record<Section, number>>;
  openingFen: number;
  closingFen: number;
}

/**
 * A reseller's statement over a range of settled days, the way finance sends it: a summary of the
 * days, then every line of each section (XLSX: a sheet per section; CSV: one block per section),
 * streamed page by page.
 */
export async function exportResellerStatement(
  statements: Statements,
  request: { resellerCode: string; from: BusinessDate; to: BusinessDate; format: ExportFormat },
  out: Writable,
  onLines: (n: number) => void = () => {},
): Promise<ExportResult> {
  const days = await statements.forReseller(request.resellerCode, request.from, request.to);
  return request.format === 'xlsx'
    ? writeXlsx(statements, days, out, onLines, false)
    : writeCsvZip(statements, days, out, onLines, false);
}

/** The day's summary as CSV: a zip of one CSV per table, like the workbook's sheets. */
export async function exportDaySummaryCsv(statements: Statements, date: BusinessDate, out: Writable, onLines: (n: number) => void = () => {}): Promise<ExportResult> {
  await statements.assertSettled(date);
  return writeCsvZip(statements, await allOfDay(statements, date), out, onLines, true);
}

async function allOfDay(statements: Statements, date: BusinessDate): Promise<ResellerStatement[]> {
  const days: ResellerStatement[] = [];
  for (let offset = 0; ; offset += 1_000) {
    const page = await statements.forDay(date, { limit: 1_000, offset });
    days.push(...page.rows);
    if (page.rows.length < 1_000) break;
  }
  return days;
}

/** Every reseller's statement of one settled day, with every line: finance's summary workbook. */
export async function exportDaySummary(statements: Statements, date: BusinessDate, out: Writable, onLines: (n: number) => void = () => {}): Promise<ExportResult> {
  await statements.assertSettled(date);
  return writeXlsx(statements, await allOfDay(statements, date), out, onLines, true);
}

function rangeTotals(days: ResellerStatement[]) {
  // Opening and closing of a range are not sums: the first day's opening, the last day's closing
  // (per reseller, so a day summary adds them across resellers).
  const firsts = new Map<number, number>();
  const lasts = new Map<number, number>();
  for (const d of days) {
    if (!firsts.has(d.resellerId)) firsts.set(d.resellerId, d.openingFen);
    lasts.set(d.resellerId, d.closingFen);
  }
  const sum = (m: Map<number, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  return { openingFen: sum(firsts), closingFen: sum(lasts) };
}

async function writeXlsx(
  statements: Statements, days: ResellerStatement[], out: Writable, onLines: (n: number) => void, withReseller: boolean,
): Promise<ExportResult> {
  const workbook = streamingWorkbook(out);
  const summary = new XlsxSection(workbook, '汇总 Summary', SUMMARY_COLUMNS);
  for (const d of days) summary.add(d);
  const { openingFen, closingFen } = rangeTotals(days);
  summary.finish('合计 Total', { [OPENING]: openingFen, [CLOSING]: closingFen });

  const result: ExportResult = { statements: days.length, lines: 0, sectionTotals: {}, openingFen, closingFen };
  const withLines = days.filter((d) => d.lines > 0).map((d) => d.id);
  for (const section of SECTIONS) {
    let sheet: XlsxSection<StatementLine> | undefined;
    for await (const page of statements.lines(withLines, section)) {
      sheet ??= new XlsxSection(workbook, sectionName(section), lineColumns(withReseller));
      for (const line of page) sheet.add(line);
      result.lines += page.length;
      onLines(page.length);
    }
    if (sheet) {
      result.sectionTotals[section] = sheet.totals()[AMOUNT_HEADER];
      sheet.finish();
    }
  }
  await workbook.commit();
  return result;
}

/** The file names in a CSV zip: the summary, then one per section with lines. */
export const CSV_FILE_NAMES: Record<'summary' | Section, string> = {
  summary: '01-summary-汇总.csv', topup: '02-topups-充值.csv', order: '03-orders-订单.csv', refund: '04-refunds-退款.csv',
  adjustment: '05-adjustments-调整.csv', rebate: '06-rebates-返利.csv', other: '07-other-其他.csv',
};

/**
 * CSV as finance opens it: one table per file (a header, its rows, its totals row with the count),
 * the files in one zip streamed to `out`. Each file is written in turn, with backpressure.
 */
async function writeCsvZip(statements: Statements, days: ResellerStatement[], out: Writable, onLines: (n: number) => void, withReseller: boolean): Promise<ExportResult> {
  const zip = archiver('zip', { zlib: { level: 6 } });
  const failed = new Promise<never>((_resolve, reject) => zip.on('error', reject));
  failed.catch(() => undefined);
  zip.pipe(out);
  const file = (name: string) => {
    const stream = new PassThrough();
    zip.append(stream, { name });
    return stream;
  };
  const close = async (stream: PassThrough) => {
    stream.end();
    await Promise.race([once(stream, 'end'), failed]);
  };

  const summaryFile = file(CSV_FILE_NAMES.summary);
  await CsvSection.begin(summaryFile);
  const summary = new CsvSection(summaryFile, SUMMARY_COLUMNS);
  await summary.header();
  for (const d of days) await summary.add(d);
  const { openingFen, closingFen } = rangeTotals(days);
  await summary.finish('合计 Total', { [OPENING]: openingFen, [CLOSING]: closingFen });
  await close(summaryFile);

  const result: ExportResult = { statements: days.length, lines: 0, sectionTotals: {}, openingFen, closingFen };
  const withLines = days.filter((d) => d.lines > 0).map((d) => d.id);
  for (const section of SECTIONS) {
    let stream: PassThrough | undefined;
    let block: CsvSection<StatementLine> | undefined;
    let sum = 0;
    for await (const page of statements.lines(withLines, section)) {
      if (!stream || !block) {
        stream = file(CSV_FILE_NAMES[section]);
        await CsvSection.begin(stream);
        block = new CsvSection(stream, lineColumns(withReseller));
        await block.header();
      }
      for (const line of page) {
        await block.add(line);
        sum += line.amountFen;
      }
      result.lines += page.length;
      onLines(page.length);
    }
    if (stream && block) {
      result.sectionTotals[section] = sum;
      await block.finish(`${sectionName(section)} 合计 Total`);
      await close(stream);
    }
  }
  const done = once(out, 'finish').catch(() => undefined);
  await Promise.race([zip.finalize(), failed]);
  await done;
  return result;
}

const sectionName = (section: Section) => `${SECTION_LABELS[section].zh} ${SECTION_LABELS[section].en}`;
