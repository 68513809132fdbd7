import { once } from 'node:events';
import type { Writable } from 'node:stream';
import ExcelJS from 'exceljs';
import { businessDateOf, isoShanghai } from '../dates.ts';
import { formatYuan as yuan } from '../money.ts';

/** Yuan with thousands separators: money is kept in fen and shown as yuan. */
export const YUAN_FORMAT = '#,##0.00';
export const TIME_FORMAT = 'yyyy-mm-dd hh:mm:ss';
export const DATE_FORMAT = 'yyyy-mm-dd';
const SHANGHAI_OFFSET_MS = 8 * 3_600_000;

/**
 * An instant as an XLSX date cell showing Asia/Shanghai wall time: a spreadsheet's date has no
 * zone and exceljs writes a Date as its UTC serial, so the instant is moved by +08:00 first.
 */
export const xlsxShanghaiTime = (instant: Date | string | number) => new Date(new Date(instant).getTime() + SHANGHAI_OFFSET_MS);
/** A business date ("YYYY-MM-DD") as an XLSX date cell (midnight, no time part). */
export const xlsxDate = (date: string) => new Date(`${date}T00:00:00Z`);

/** A column finance reads: a Chinese and English header, and either a value or an amount in fen. */
export interface ExportColumn<T> {
  /** "中文 English" */
  header: string;
  width: number;
  value?: (row: T) => string | number | Date | null;
  /** Money: written as yuan with YUAN_FORMAT and summed into the totals row. */
  fen?: (row: T) => number;
  /**
   * What `value` gives: 'time', an instant (a Date, or a string a Date reads: XLSX a date cell in
   * Shanghai wall time, TIME_FORMAT; CSV ISO 8601 with +08:00); 'date', a business date "YYYY-MM-DD"
   * (XLSX a date cell, DATE_FORMAT). A Date value without a kind is a time.
   */
  kind?: 'time' | 'date';
}

function cell<T>(c: ExportColumn<T>, row: T): string | number | Date | null {
  if (c.fen) return c.fen(row) / 100;
  const v = c.value?.(row) ?? null;
  if (v === null || v === '') return v;
  if (c.kind === 'date') return xlsxDate(v instanceof Date ? businessDateOf(v) : String(v));
  if (c.kind === 'time' || v instanceof Date) return xlsxShanghaiTime(v);
  return v;
}

const styleOf = <T>(c: ExportColumn<T>) => (c.fen ? { numFmt: YUAN_FORMAT } : c.kind === 'date' ? { numFmt: DATE_FORMAT } : c.kind === 'time' ? { numFmt: TIME_FORMAT } : {});

/** The totals row's second column says how many rows it sums (when that column is not money). */
const countLabel = (rows: number) => `${rows} 行 rows`;

/**
 * One worksheet of an exceljs streaming workbook: a frozen bold header, yuan-formatted money
 * columns, rows committed as they are added (never held), and a totals row of the money columns.
 */
export class XlsxSection<T> {
  private readonly sheet: ExcelJS.Worksheet;
  private readonly sums: number[];
  rows = 0;

  constructor(workbook: ExcelJS.stream.xlsx.WorkbookWriter, name: string, private readonly columns: ExportColumn<T>[]) {
    this.sheet = workbook.addWorksheet(name, { views: [{ state: 'frozen', ySplit: 1 }] });
    this.sheet.columns = columns.map((c, i) => ({ header: c.header, key: String(i), width: c.width, style: styleOf(c) }));
    this.sheet.getRow(1).font = { bold: true };
    this.sheet.getRow(1).commit();
    this.sums = columns.map(() => 0);
  }

  add(row: T): void {
    const values = this.columns.map((c, i) => {
      if (c.fen) this.sums[i] = this.sums[i]! + c.fen(row);
      return cell(c, row);
    });
    const added = this.sheet.addRow(values);
    // a Date without a kind has no column format: give its cell the time format
    this.columns.forEach((c, i) => { if (!c.kind && values[i] instanceof Date) added.getCell(i + 1).numFmt = TIME_FORMAT; });
    added.commit();
    this.rows++;
  }

  /** Fen totals of the money columns so far, by header. */
  totals(): Record<string, number> {
    return Object.fromEntries(this.columns.flatMap((c, i) => (c.fen ? [[c.header, this.sums[i]!]] : [])));
  }

  /** Adds the totals row (label in the first column; `override` replaces a column's sum) and closes the sheet. */
  finish(label = '合计 Total', override: Record<string, number | null> = {}): void {
    const values = this.columns.map((c, i) => {
      if (i === 0) return label;
      if (i === 1 && !c.fen) return countLabel(this.rows);
      if (!c.fen) return null;
      const fen = c.header in override ? override[c.header]! : this.sums[i]!;
      return fen === null ? null : fen / 100;
    });
    const total = this.sheet.addRow(values);
    // the count is text in what may be a date column
    if (!this.columns[1]?.fen) total.getCell(2).numFmt = '@';
    total.font = { bold: true };
    total.commit();
    this.sheet.commit();
  }
}

export function streamingWorkbook(stream: Writable): ExcelJS.stream.xlsx.WorkbookWriter {
  return new ExcelJS.stream.xlsx.WorkbookWriter({ stream, useStyles: true, useSharedStrings: false });
}

/**
 * CSV for spreadsheets finance opens in Excel: UTF-8 with a byte-order mark (so Chinese shows),
 * CRLF, quoted where needed, money as yuan with two decimals; writes respect backpressure.
 */
export class CsvSection<T> {
  private readonly sums: number[];
  rows = 0;

  constructor(private readonly out: Writable, private readonly columns: ExportColumn<T>[]) {
    this.sums = columns.map(() => 0);
  }

  static async begin(out: Writable): Promise<void> {
    await write(out, '\uFEFF');
  }

  async header(): Promise<void> {
    await write(this.out, csvLine(this.columns.map((c) => c.header)));
  }

  async add(row: T): Promise<void> {
    await write(this.out, csvLine(this.columns.map((c, i) => {
      if (c.fen) {
        this.sums[i] = this.sums[i]! + c.fen(row);
        return yuan(c.fen(row));
      }
      const v = c.value?.(row);
      if (v === null || v === undefined || v === '') return '';
      if (c.kind === 'date') return v instanceof Date ? businessDateOf(v) : String(v);
      return c.kind === 'time' || v instanceof Date ? isoShanghai(v) : v;
    })));
    this.rows++;
  }

  async finish(label = '合计 Total', override: Record<string, number | null> = {}): Promise<void> {
    await write(this.out, csvLine(this.columns.map((c, i) => {
      if (i === 0) return label;
      if (i === 1 && !c.fen) return countLabel(this.rows);
      if (!c.fen) return '';
      const fen = c.header in override ? override[c.header]! : this.sums[i]!;
      return fen === null ? '' : yuan(fen);
    })));
  }

  static async blankLine(out: Writable): Promise<void> {
    await write(out, '\r\n');
  }
}

function csvLine(values: (string | number | null)[]): string {
  return `${values.map((v) => {
    const s = v === null ? '' : String(v);
    // A leading = + - @ would be run as a formula by a spreadsheet: prefix it (CSV injection).
    const safe = /^[=+@]/.test(s) || (/^-/.test(s) && !/^-\d/.test(s)) ? `'${s}` : s;
    return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
  }).join(',')}\r\n`;
}

async function write(stream: Writable, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}
