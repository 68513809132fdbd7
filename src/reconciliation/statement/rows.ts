import type { Fen } from '../../money.ts';
import { headerUnit, type ColumnIndex, type StatementField } from './columns.ts';
import type { StatementProblem } from './errors.ts';
import { DEFAULT_PROFILE, footerReader, parseAmount, parseDateAndTime, parseTime, serialTime, statusReader, wallClockToInstant, type LineStatus, type StatementProfile } from './profile.ts';

/** One line of a supplier statement, checked and in our units. */
export interface StatementLine {
  line: number;
  supplierTxnId: string;
  /** Our request ids this line covers: usually one; several when the supplier aggregates. */
  merchantOrderNos: string[];
  sku: string;
  quantity: number;
  amountFen: Fen;
  /** refund: a refund or reversal (its amount negative); processing: not final at the supplier yet. */
  status: LineStatus;
  completedAt: Date;
}

import type { Cell } from '../../files/tabular.ts';

/** What a status word means by the default vocabulary; undefined for any other text. */
export const statusOf = statusReader(DEFAULT_PROFILE);

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

/** How one statement's rows are read: its header, its columns, and its supplier's profile. */
export interface Grammar {
  file: string;
  header: string[];
  index: ColumnIndex;
  profile: StatementProfile;
  status: (text: string) => LineStatus | undefined;
  footer: (cells: unknown[]) => boolean;
  unit: 'yuan' | 'fen';
  /** The header's named columns end here: a CSV row may end early or run on only with empty cells past it. */
  named: number;
}

export function grammarOf(file: string, header: string[], index: ColumnIndex, profile: StatementProfile = DEFAULT_PROFILE): Grammar {
  return {
    file, header, index, profile, status: statusReader(profile), footer: footerReader(profile),
    unit: (index.amount >= 0 ? headerUnit(header[index.amount] ?? '') : undefined) ?? profile.amountUnit,
    named: header.reduce((n, h, i) => (h ? i + 1 : n), 0),
  };
}

/** Checks one row; returns the line, or the problems with it (each naming its column). */
export function checkRow(cells: Cell[], line: number, g: Grammar): { value: StatementLine } | { problems: StatementProblem[] } {
  const { file, header, index } = g;
  const problems: StatementProblem[] = [];
  const at = (field: StatementField) => ({ file, line, column: header[index[field]], columnNumber: index[field] + 1 });
  const text = (field: StatementField, optional = false): string | undefined => {
    if (index[field] < 0) return undefined;
    const cell = cells[index[field]];
    if (cell !== null && typeof cell === 'object' && !(cell instanceof Date)) {
      problems.push({ ...at(field), message: `formulas are not accepted in a statement (found =${cell.formula})` });
      return undefined;
    }
    if (cell === undefined || cell === null || String(cell).trim() === '') {
      if (!optional) problems.push({ ...at(field), message: field === 'completedAt' ? "is empty (every line needs a time; to read another column, such as 下单时间, name it in the profile's columns.completedAt)" : 'is empty' });
      return undefined;
    }
    const value = cell instanceof Date ? cell.toISOString() : String(cell).trim();
    // Excel's way of keeping a number as text (="0012"), as exported CSV files carry it
    return value.startsWith('="') && value.endsWith('"') && value.length >= 3 ? value.slice(2, -1).trim() : value;
  };

  const txnText = text('supplierTxnId');
  const merchant = index.merchantOrderNo >= 0 ? text('merchantOrderNo') : txnText;
  const supplierTxnId = txnText ?? merchant;
  const sku = text('sku') ?? '';
  const quantityText = text('quantity');
  // a failed or processing line may leave its amount out (blank, - or --): nothing was charged yet
  const statusCell = index.status >= 0 ? cells[index.status] : undefined;
  const said = typeof statusCell === 'string' ? g.status(statusCell) : undefined;
  const amountOptional = said === 'failed' || said === 'processing';
  const amountRaw = text('amount', amountOptional);
  const amountText = amountOptional && amountRaw !== undefined && /^[-–—]+$/.test(amountRaw) ? undefined : amountRaw;
  const statusText = text('status');
  const kindText = text('kind', true);
  const tz = g.profile.timeZone;

  let quantity = g.profile.quantityDefault;
  if (quantityText !== undefined) {
    quantity = Number(quantityText.normalize('NFKC'));
    if (!/^\d+$/.test(quantityText.normalize('NFKC')) || quantity < 1 || quantity > 999_999_999) problems.push({ ...at('quantity'), message: `"${quantityText}" is not a positive whole number` });
  }
  let amountFen = 0;
  if (amountText !== undefined) {
    const cell = cells[index.amount];
    amountFen = typeof cell === 'number' ? numberAmount(cell, g.unit) : parseAmount(amountText, g.unit);
    if (!Number.isSafeInteger(amountFen)) {
      problems.push({ ...at('amount'), message: `"${amountText}" is not an amount ${g.unit === 'fen' ? 'in whole fen' : 'in yuan with at most two decimals'}` });
      amountFen = 0;
    }
  }
  let status: LineStatus | undefined = index.status < 0 ? 'success' : statusText === undefined ? undefined : g.status(statusText);
  if (statusText !== undefined && !status) problems.push({ ...at('status'), message: `"${statusText}" is not a known status (成功/SUCCESS, 失败/FAILED, 处理中/PROCESSING, 已退款/REFUNDED; a supplier's own words go in its statement profile)` });
  // a negative amount is money going back: a refund or reversal, never a sale
  if (amountFen < 0 && (status === 'success' || status === 'refund')) status = 'refund';
  // a line whose kind (交易类型) is a refund or reversal is one, whatever its status says
  if (kindText !== undefined && status === 'success' && g.status(kindText) === 'refund') status = 'refund';
  if (status === 'refund') amountFen = -Math.abs(amountFen);

  let completedAt: Date | undefined;
  if (index.completedAt >= 0) {
    const cell = cells[index.completedAt];
    const completedText = text('completedAt');
    if (cell instanceof Date) completedAt = new Date(wallClockToInstant(cell.getTime(), tz)); // XLSX: wall-clock time read as if UTC
    else if (typeof cell === 'number') completedAt = serialTime(cell, tz);
    else if (completedText !== undefined) completedAt = parseTime(completedText, tz);
    if (completedText !== undefined && !completedAt) problems.push({ ...at('completedAt'), message: `"${completedText}" is not a time like 2026-11-24 23:59:58` });
  } else {
    const dateCell = cells[index.completedDate];
    const timeCell = cells[index.completedTime];
    const dateText = text('completedDate');
    const timeText = text('completedTime');
    if (dateText !== undefined && timeText !== undefined) {
      const asText = (c: Cell, t: string) => (c instanceof Date ? c.toISOString().slice(0, 19).replace('T', ' ') : t);
      if (dateCell instanceof Date) {
        const day = dateCell.toISOString().slice(0, 10);
        completedAt = timeCell instanceof Date ? new Date(wallClockToInstant(Date.parse(`${day}T${timeCell.toISOString().slice(11, 19)}Z`), tz)) : parseDateAndTime(day, String(timeText), tz);
      } else {
        completedAt = parseDateAndTime(asText(dateCell, dateText), timeCell instanceof Date ? timeCell.toISOString().slice(11, 19) : timeText, tz);
      }
      if (!completedAt) problems.push({ ...at('completedTime'), message: `"${dateText} ${timeText}" is not a date and time like 2026/11/23 9:05:01` });
    }
  }
  const merchantOrderNos = merchant?.split(/[|;]/).map((s) => s.trim()).filter(Boolean) ?? [];
  // a long reference Excel turned into a number has lost its last digits: it would match nothing, or the wrong order
  const refField = index.merchantOrderNo >= 0 ? 'merchantOrderNo' : 'supplierTxnId';
  const refCell = cells[index[refField]];
  if (merchant !== undefined && ((typeof refCell === 'number' && !Number.isSafeInteger(refCell)) || /^\d+(\.\d+)?e\+\d+$/i.test(merchant))) {
    problems.push({ ...at(refField), message: `"${merchant}" is a number Excel rounded, not the reference as issued: ask the supplier to export this column as text (="..." or a text cell)` });
  }
  // a line with no reference would match nothing and be counted nowhere
  if (merchant !== undefined && merchantOrderNos.length === 0) problems.push({ ...at(index.merchantOrderNo >= 0 ? 'merchantOrderNo' : 'supplierTxnId'), message: `"${merchant}" holds no order reference` });

  if (problems.length) return { problems };
  return {
    value: { line, supplierTxnId: supplierTxnId!, merchantOrderNos, sku, quantity, amountFen, status: status!, completedAt: completedAt! },
  };
}

/** A number cell of a workbook as fen: yuan with at most two decimals (floating point's noise rounded off), or whole fen. */
function numberAmount(n: number, unit: 'yuan' | 'fen'): number {
  if (!Number.isFinite(n)) return NaN;
  if (unit === 'fen') return Number.isInteger(n) ? n : NaN;
  const fen = Math.round(n * 100);
  return Math.abs(fen - n * 100) < 1e-6 ? fen : NaN;
}

/** A footer (totals) row: its figures when it gives them. */
export interface Footer { line: number; text: string; count?: number; amountFen?: number }

/** What finance should know about a file that still reads: skipped preamble, notes, control totals. */
export interface StatementFinding { kind: 'preamble' | 'footer' | 'note' | 'control_total_mismatch'; line: number; message: string }

/**
 * A statement's rows after its header, one by one: lines, footers (合计 ...), and, after a footer,
 * notes (signatures, remarks) that are no lines. Keeps what the control totals are checked against.
 */
export class StatementBody {
  readonly footers: Footer[] = [];
  readonly notes: { line: number; text: string }[] = [];
  /** Accepted lines, and their amounts (refunds negative), by status. */
  readonly count: Record<LineStatus, number> = { success: 0, failed: 0, processing: 0, refund: 0 };
  readonly fen: Record<LineStatus, number> = { success: 0, failed: 0, processing: 0, refund: 0 };

  constructor(readonly g: Grammar, private readonly fixedWidth: boolean) {}

  /** A row: undefined when it is blank, a footer or a note; else its line or its problems. */
  read(cells: Cell[], line: number): { value: StatementLine } | { problems: StatementProblem[] } | undefined {
    if (this.g.footer(cells)) {
      this.footers.push(footerOf(cells, line, this.g));
      return undefined;
    }
    if (this.repeatsHeader(cells)) {
      // a multi-page export repeats its header: no line
      this.notes.push({ line, text: `the header again: ${cellsText(cells)}` });
      return undefined;
    }
    const checked = checkRecord(cells, line, this.g, this.fixedWidth);
    if (!checked) return undefined;
    if ('problems' in checked) {
      // after the totals, what is not a line is a remark (制表人, 备注), not a bad line
      if (this.footers.length) {
        this.notes.push({ line, text: cellsText(cells) });
        return undefined;
      }
      return checked;
    }
    this.counted(checked.value.status, checked.value.amountFen);
    return checked;
  }

  /** Whether a row names the header's amount and reference columns as the header does. */
  private repeatsHeader(cells: Cell[]): boolean {
    const { index, header } = this.g;
    const ref = index.merchantOrderNo >= 0 ? index.merchantOrderNo : index.supplierTxnId;
    const same = (i: number) => typeof cells[i] === 'string' && (cells[i] as string).trim() === header[i];
    return same(index.amount) && same(ref);
  }

  counted(status: LineStatus, fen: number): void {
    this.count[status]++;
    this.fen[status] += fen;
  }

  /** The file's findings: its footers' control totals against its lines, and its notes. */
  findings(): StatementFinding[] {
    const out: StatementFinding[] = [];
    for (const n of this.notes) out.push({ kind: 'note', line: n.line, message: `not a line, after the totals: ${n.text}` });
    // the grand total when there is one, else the last subtotal
    const control = [...this.footers].reverse().find((f) => !/^(小计|subtotal)/i.test(f.text) && (f.count !== undefined || f.amountFen !== undefined))
      ?? (this.footers.length === 1 ? this.footers[0] : undefined);
    for (const f of this.footers) out.push({ kind: 'footer', line: f.line, message: `totals row (not a line): ${f.text}` });
    if (!control) return out;
    const c = this.count;
    const all = c.success + c.failed + c.processing + c.refund;
    const counts = [all, c.success, c.success + c.refund, all - c.failed];
    const f = this.fen;
    const sums = [f.success + f.failed + f.processing + f.refund, f.success, f.success + f.refund, f.success + f.refund + f.processing, f.success - f.refund, f.success + f.failed + f.processing - f.refund];
    if (control.count !== undefined && !counts.includes(control.count)) {
      out.push({ kind: 'control_total_mismatch', line: control.line, message: `the totals row says ${control.count} lines; the file has ${all} (${c.success} successful): was the file cut?` });
    }
    if (control.amountFen !== undefined && !sums.includes(control.amountFen)) {
      out.push({ kind: 'control_total_mismatch', line: control.line, message: `the totals row says ${(control.amountFen / 100).toFixed(2)} yuan; the lines add up to ${(sums[0]! / 100).toFixed(2)} (successful: ${(f.success / 100).toFixed(2)}): was the file cut?` });
    }
    return out;
  }
}

const cellsText = (cells: Cell[]) => cells.filter((c) => c !== null && c !== undefined && String(c).trim() !== '').map((c) => (c instanceof Date ? c.toISOString() : typeof c === "object" && c !== null ? `=${c.formula}` : String(c).trim())).join(' ').slice(0, 200);

function footerOf(cells: Cell[], line: number, g: Grammar): Footer {
  const text = cellsText(cells);
  const footer: Footer = { line, text };
  const flat = text.normalize('NFKC');
  const count = /(\d+)\s*(?:笔|条|单|行|个|records?|lines?|txns?|transactions?|orders?)(?![a-z])/i.exec(flat) ?? /(?:笔数|条数|单数|总笔数|总数|数量|count|lines)\s*[:：=]?\s*(\d+)/i.exec(flat);
  if (count) footer.count = Number(count[1]);
  const amountCell = g.index.amount >= 0 ? cells[g.index.amount] : undefined;
  const fromCell = typeof amountCell === 'number' ? numberAmount(amountCell, g.unit) : typeof amountCell === 'string' && amountCell.trim() ? parseAmount(amountCell, g.unit) : NaN;
  if (Number.isSafeInteger(fromCell)) footer.amountFen = fromCell;
  else {
    const m = /(?:金额|总额|amount|sum)\s*[:：=]?\s*([-(¥￥]*[\d,]+(?:\.\d+)?\)?\s*元?)/i.exec(flat);
    const fen = m ? parseAmount(m[1]!, g.unit) : NaN;
    if (Number.isSafeInteger(fen)) footer.amountFen = fen;
  }
  // "合计,1003200,,..." : a whole number under the reference or id column is the line count
  if (footer.count === undefined) {
    for (const i of [g.index.merchantOrderNo, g.index.supplierTxnId, g.index.quantity]) {
      const cell = i >= 0 ? cells[i] : undefined;
      if (typeof cell === 'number' && Number.isInteger(cell)) footer.count = cell;
      else if (typeof cell === 'string' && /^\d{1,9}$/.test(cell.trim())) footer.count = Number(cell.trim());
      if (footer.count !== undefined) break;
    }
  }
  return footer;
}

/**
 * A row of a statement file after its header: undefined when it is blank (skipped, as a
 * spreadsheet's trailing rows are), else its line or its problems. A CSV row must be as wide as
 * the header first, even an empty one (",,"): a ragged row is no record of the file.
 */
export function checkRecord(cells: Cell[], line: number, g: Grammar, fixedWidth: boolean): ReturnType<typeof checkRow> | undefined {
  // a blank row (",,,", spaces) is skipped whatever its width: spreadsheets end with them
  if (cells.every((c) => c === null || c === undefined || String(c).trim() === '')) return undefined;
  // a trailing separator on every row, or a header with empty trailing names: only empty cells past the named columns
  const fits = cells.length >= g.named && cells.slice(g.named).every((c) => c === null || c === undefined || String(c).trim() === '');
  if (fixedWidth && cells.length !== g.header.length && !fits) return { problems: [{ file: g.file, line, message: `has ${cells.length} columns, the header has ${g.header.length}` }] };
  return checkRow(cells, line, g);
}
