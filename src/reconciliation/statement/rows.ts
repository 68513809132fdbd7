import { parseYuan, type Fen } from '../../money.ts';
import type { StatementField } from './columns.ts';
import type { StatementProblem } from './errors.ts';

/** One line of a supplier statement, checked and in our units. */
export interface StatementLine {
  line: number;
  supplierTxnId: string;
  /** Our request ids this line covers: usually one; several when the supplier aggregates. */
  merchantOrderNos: string[];
  sku: string;
  quantity: number;
  amountFen: Fen;
  status: 'success' | 'failed';
  completedAt: Date;
}

import type { Cell } from '../../files/tabular.ts';

/** Status words suppliers use (compared lower-cased), and what they mean. */
export const STATUS: Record<string, StatementLine['status']> = {
  success: 'success', succeeded: 'success', ok: 'success', '成功': 'success', '已完成': 'success', '交易成功': 'success',
  failed: 'failed', fail: 'failed', failure: 'failed', '失败': 'failed', '交易失败': 'failed',
};

/** What a status word means; undefined for any other text (not an Object.prototype key such as "constructor"). */
export const statusOf = (text: string): StatementLine['status'] | undefined => {
  const word = text.toLowerCase();
  return Object.hasOwn(STATUS, word) ? STATUS[word] : undefined;
};

const SHANGHAI_OFFSET_MS = 8 * 3600 * 1000;

/**
 * "2026-11-24 23:59:58" or "2026/11/24 23:59:58" (Asia/Shanghai), one-digit parts allowed, optional
 * fraction of a second, or an explicit offset ("Z", "+08:00"): the grammar km_statement_time
 * accepts in SQL, so this reader and reconciliation agree on every cell.
 */
export function parseStatementTime(text: string): Date | undefined {
  const m = /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, fraction, offset] = m;
  if (Number(y) === 0) return undefined; // there was no year 0
  const ms = Math.floor(Number(`0${fraction ?? ''}`) * 1000);
  // built in year 2000, then moved: Date.UTC reads years 0-99 as 1900-1999
  const check = new Date(Date.UTC(2000, Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0), ms));
  check.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  const utc = check.getTime();
  // Date.UTC rolls over (month 13, second 61): a time that does not come back as written does not exist
  const back = [check.getUTCFullYear(), check.getUTCMonth() + 1, check.getUTCDate(), check.getUTCHours(), check.getUTCMinutes(), check.getUTCSeconds()];
  if (back.join() !== [y, mo, d, h, mi, s ?? 0].map(Number).join()) return undefined;
  if (!offset) return new Date(utc - SHANGHAI_OFFSET_MS);
  if (offset === 'Z') return check;
  const sign = offset.startsWith('-') ? -1 : 1;
  const digits = offset.slice(1).replace(':', '');
  if (Number(digits.slice(0, 2)) > 15 || Number(digits.slice(2)) > 59) return undefined; // no place on earth is further
  return new Date(utc - sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000);
}

/** Checks one row; returns the line, or the problems with it (each naming its column). */
export function checkRow(
  cells: Cell[], line: number, file: string, header: string[], index: Record<StatementField, number>,
): { value: StatementLine } | { problems: StatementProblem[] } {
  const problems: StatementProblem[] = [];
  const at = (field: StatementField) => ({ file, line, column: header[index[field]], columnNumber: index[field] + 1 });
  const text = (field: StatementField): string | undefined => {
    const cell = cells[index[field]];
    if (cell !== null && typeof cell === 'object' && !(cell instanceof Date)) {
      problems.push({ ...at(field), message: `formulas are not accepted in a statement (found =${cell.formula})` });
      return undefined;
    }
    if (cell === undefined || cell === null || String(cell).trim() === '') {
      problems.push({ ...at(field), message: 'is empty' });
      return undefined;
    }
    return cell instanceof Date ? cell.toISOString() : String(cell).trim();
  };

  const supplierTxnId = text('supplierTxnId');
  const merchant = text('merchantOrderNo');
  const sku = text('sku');
  const quantityText = text('quantity');
  const amountText = text('amount');
  const statusText = text('status');
  const completedCell = cells[index.completedAt];
  const completedText = text('completedAt');

  let quantity = 0;
  if (quantityText !== undefined) {
    quantity = Number(quantityText);
    if (!/^\d+$/.test(quantityText) || quantity < 1 || quantity > 999_999_999) problems.push({ ...at('quantity'), message: `"${quantityText}" is not a positive whole number` });
  }
  let amountFen = 0;
  if (amountText !== undefined) {
    try {
      amountFen = parseYuan(amountText);
    } catch {
      problems.push({ ...at('amount'), message: `"${amountText}" is not an amount in yuan with at most two decimals` });
    }
  }
  const status = statusText === undefined ? undefined : statusOf(statusText);
  if (statusText !== undefined && !status) problems.push({ ...at('status'), message: `"${statusText}" is not a known status (成功/SUCCESS or 失败/FAILED)` });
  let completedAt: Date | undefined;
  if (completedCell instanceof Date) {
    // XLSX stores wall-clock time; exceljs reads it as if it were UTC. The supplier meant Shanghai time.
    completedAt = new Date(completedCell.getTime() - SHANGHAI_OFFSET_MS);
  } else if (completedText !== undefined) {
    completedAt = parseStatementTime(completedText);
    if (!completedAt) problems.push({ ...at('completedAt'), message: `"${completedText}" is not a time like 2026-11-24 23:59:58` });
  }
  const merchantOrderNos = merchant?.split(/[|;]/).map((s) => s.trim()).filter(Boolean) ?? [];
  // a line with no reference would match nothing and be counted nowhere
  if (merchant !== undefined && merchantOrderNos.length === 0) problems.push({ ...at('merchantOrderNo'), message: `"${merchant}" holds no order reference` });

  if (problems.length) return { problems };
  return {
    value: { line, supplierTxnId: supplierTxnId!, merchantOrderNos, sku: sku!, quantity, amountFen, status: status!, completedAt: completedAt! },
  };
}

/**
 * A row of a statement file after its header: undefined when it is blank (skipped, as a
 * spreadsheet's trailing rows are), else its line or its problems. A CSV row must be as wide as
 * the header first, even an empty one (",,"): a ragged row is no record of the file.
 */
export function checkRecord(
  cells: Cell[], line: number, file: string, header: string[], index: Record<StatementField, number>, fixedWidth: boolean,
): ReturnType<typeof checkRow> | undefined {
  if (fixedWidth && cells.length !== header.length) return { problems: [{ file, line, message: `has ${cells.length} columns, the header has ${header.length}` }] };
  if (cells.every((c) => c === null || c === undefined || String(c).trim() === '')) return undefined;
  return checkRow(cells, line, file, header, index);
}
