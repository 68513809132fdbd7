import type { Writable } from 'node:stream';
import ExcelJS from 'exceljs';
import { DATE_FORMAT, TIME_FORMAT, xlsxDate, xlsxShanghaiTime } from '../files/export-sheet.ts';
import type { ReconCases, CaseFilter } from './cases.ts';
import { CLASS_LABELS, RESOLUTION_LABELS, type ReconCase } from './types.ts';

const YUAN = '#,##0.00';
const STATE_LABELS = { open: '待处理 Open', investigating: '调查中 Investigating', resolved: '已解决 Resolved' } as const;

/** Columns finance reads: Chinese and English in every header; money as yuan with a number format. */
const COLUMNS: { header: string; key: string; width: number; yuan?: boolean; numFmt?: string; value: (c: ReconCase) => unknown }[] = [
  { header: '差异编号 Case', key: 'id', width: 10, value: (c) => c.id },
  { header: '供应商 Supplier', key: 'supplier', width: 14, value: (c) => c.supplierCode },
  { header: '业务日期 Business date', key: 'date', width: 14, numFmt: DATE_FORMAT, value: (c) => xlsxDate(c.businessDate) },
  { header: '差异类型 Class', key: 'class', width: 26, value: (c) => `${CLASS_LABELS[c.class].zh} ${CLASS_LABELS[c.class].en}` },
  { header: '供应商流水号 Supplier txn', key: 'txn', width: 22, value: (c) => c.supplierTxnId ?? '' },
  { header: '我方单号 Our references', key: 'refs', width: 30, value: (c) => c.requestIds.join(', ') },
  { header: '对账单行 Statement line', key: 'line', width: 12, value: (c) => c.lineNo ?? '' },
  { header: '商品 SKU', key: 'sku', width: 14, value: (c) => c.sku ?? '' },
  { header: '我方金额(元) Ours (¥)', key: 'ours', width: 16, yuan: true, value: (c) => c.ourFen / 100 },
  { header: '供应商金额(元) Supplier (¥)', key: 'theirs', width: 18, yuan: true, value: (c) => c.theirFen / 100 },
  { header: '差额(元) Difference (¥)', key: 'delta', width: 16, yuan: true, value: (c) => c.deltaFen / 100 },
  { header: '状态 State', key: 'state', width: 20, value: (c) => STATE_LABELS[c.state] },
  { header: '处理结果 Resolution', key: 'resolution', width: 24, value: (c) => resolutionLabel(c.resolution) },
  { header: '说明 Note', key: 'note', width: 40, value: (c) => [c.note, c.resolutionReason].filter(Boolean).join(' / ') },
  { header: '处理时间 Resolved at', key: 'resolvedAt', width: 20, numFmt: TIME_FORMAT, value: (c) => (c.resolvedAt ? xlsxShanghaiTime(c.resolvedAt) : null) },
];

function resolutionLabel(resolution: string | null): string {
  if (!resolution) return '';
  const label = RESOLUTION_LABELS[resolution as keyof typeof RESOLUTION_LABELS];
  return label ? `${label.zh} ${label.en}` : resolution;
}

/**
 * Writes the discrepancy cases matching a filter to an XLSX stream with exceljs's streaming writer,
 * a page of cases at a time (never the whole list in memory), with a totals row.
 */
export async function exportDiscrepancies(cases: ReconCases, filter: CaseFilter, stream: Writable): Promise<{ rows: number }> {
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream, useStyles: true });
  const sheet = workbook.addWorksheet('差异 Discrepancies', { views: [{ state: 'frozen', ySplit: 1 }] });
  sheet.columns = COLUMNS.map((c) => ({ header: c.header, key: c.key, width: c.width, style: c.yuan ? { numFmt: YUAN } : c.numFmt ? { numFmt: c.numFmt } : {} }));
  sheet.getRow(1).font = { bold: true };
  sheet.getRow(1).commit();
  const totals = { ours: 0, theirs: 0, delta: 0 };
  let rows = 0;
  for (let page = 1; ; page++) {
    const { cases: batch } = await cases.list({ ...filter, page, pageSize: 500 });
    for (const c of batch) {
      sheet.addRow(Object.fromEntries(COLUMNS.map((col) => [col.key, col.value(c)]))).commit();
      totals.ours += c.ourFen;
      totals.theirs += c.theirFen;
      totals.delta += c.deltaFen;
      rows++;
    }
    if (batch.length < 500) break;
  }
  const total = sheet.addRow({ id: '合计 Total', supplier: `${rows} 行 rows`, ours: totals.ours / 100, theirs: totals.theirs / 100, delta: totals.delta / 100 });
  total.font = { bold: true };
  total.commit();
  sheet.commit();
  await workbook.commit();
  return { rows };
}
