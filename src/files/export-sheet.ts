import { once } from 'node:events';
import type { Writable } from 'node:stream';
import ExcelJS from 'exceljs';
import { formatYuan as yuan } from '../money.ts';

/** Yuan with thousands separators: money is kept in fen and shown as yuan. */
export const YUAN_FORMAT = '#,##0.00';

/** A column finance reads: a Chinese and English header, and either a value or an amount in fen. */
export interface ExportColumn<T> {
  /** "中文 English" */
  header: string;
  width: number;
  value?: (row: T) => string | number | Date | null;
  /** Money: written as yuan with YUAN_FORMAT and summed into the totals row. */
  fen?: (row: T) => number;
}

const cell = <T>(c: ExportColumn<T>, row: T) => (c.fen ? c.fen(row) / 100 : c.value?.(row) ?? null);

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
    this.sheet.columns = columns.map((c, i) => ({ header: c.header, key: String(i), width: c.width, style: c.fen ? { numFmt: YUAN_FORMAT } : {} }));
    this.sheet.getRow(1).font = { bold: true };
    this.sheet.getRow(1).commit();
    this.sums = columns.map(() => 0);
  }

  add(row: T): void {
    const values = this.columns.map((c, i) => {
      if (c.fen) this.sums[i] = this.sums[i]! + c.fen(row);
      return cell(c, row);
    });
    this.sheet.addRow(values).commit();
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
      if (!c.fen) return null;
      const fen = c.header in override ? override[c.header]! : this.sums[i]!;
      return fen === null ? null : fen / 100;
    });
    const total = this.sheet.addRow(values);
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
      return v instanceof Date ? v.toISOString() : v ?? '';
    })));
  }

  async finish(label = '合计 Total', override: Record<string, number | null> = {}): Promise<void> {
    await write(this.out, csvLine(this.columns.map((c, i) => {
      if (i === 0) return label;
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
