import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { CsvError, parse } from 'csv-parse';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import { KamengError } from '../errors.ts';

/**
 * Streaming readers for the spreadsheets suppliers and finance exchange: CSV (UTF-8 or GBK) and
 * XLSX, one row at a time with its line number, never the whole file in memory.
 */

/** A cell as the file gave it: text from CSV; text, number, Date or a formula from XLSX. */
export type Cell = string | number | Date | { formula: string } | null | undefined;

/** The file as a whole cannot be read (not CSV, not a workbook). */
export class FileFormatError extends KamengError {
  constructor(readonly file: string, readonly line: number, message: string) {
    super('FILE_FORMAT_ERROR', `${file}:${line}: ${message}`, { details: { file, line } });
  }
}

export async function* csvRows(file: string, encoding: 'utf8' | 'gbk' | 'auto', name = path.basename(file)): AsyncGenerator<{ cells: Cell[]; line: number }> {
  const chosen = encoding === 'auto' ? await detectEncoding(file) : encoding;
  const raw = createReadStream(file);
  const text = chosen === 'gbk' ? raw.pipe(iconv.decodeStream('gbk')) : raw.pipe(iconv.decodeStream('utf8'));
  const parser = text.pipe(parse({ bom: true, relax_column_count: true, skip_empty_lines: true, info: true, relax_quotes: false }));
  try {
    for await (const record of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      yield { cells: record.record, line: record.info.lines };
    }
  } catch (err) {
    // csv-parse's own errors (a stray quote, an unclosed field) are about the file, not about us.
    if (err instanceof CsvError) throw new FileFormatError(name, Math.max(1, Number(err.lines) || 1), `not valid CSV: ${err.message}`);
    throw err;
  }
}

/** UTF-8 if the first 64 KB decode as UTF-8 (a multi-byte character cut at the end is fine), else GBK. */
export async function detectEncoding(file: string): Promise<'utf8' | 'gbk'> {
  const handle = await fs.open(file);
  try {
    const buffer = Buffer.alloc(65536);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    new TextDecoder('utf-8', { fatal: true }).decode(buffer.subarray(0, bytesRead), { stream: true });
    return 'utf8';
  } catch {
    return 'gbk';
  } finally {
    await handle.close();
  }
}

/** A workbook that produces nothing for this long is corrupt (a damaged deflate stream can stall the unzipper). */
export const XLSX_STALL_MS = 30_000;

export async function* xlsxRows(file: string, name = path.basename(file), options: { stallMs?: number } = {}): AsyncGenerator<{ cells: Cell[]; line: number }> {
  const input = createReadStream(file);
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(input, { entries: 'emit', sharedStrings: 'cache', styles: 'cache', hyperlinks: 'ignore', worksheets: 'emit' });
  const stallMs = options.stallMs ?? XLSX_STALL_MS;
  try {
    const sheets = (reader as AsyncIterable<AsyncIterable<ExcelJS.Row>>)[Symbol.asyncIterator]();
    const first = await withinStall(sheets.next(), stallMs); // the statement is the first sheet
    if (first.done) return;
    const rows = first.value[Symbol.asyncIterator]();
    for (;;) {
      const next = await withinStall(rows.next(), stallMs);
      if (next.done) break;
      const values = (next.value.values as unknown[]).slice(1); // exceljs rows are 1-based
      yield { cells: values.map(toCell), line: next.value.number };
    }
  } catch (err) {
    throw new FileFormatError(name, 0, `not a readable XLSX workbook: ${(err as Error).message}`);
  } finally {
    input.destroy();
  }
}

function withinStall<T>(step: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no progress for ${ms / 1000} s: the file is damaged or truncated`)), ms);
  });
  return Promise.race([step, stalled]).finally(() => clearTimeout(timer));
}

function toCell(value: unknown): Cell {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string' || typeof value === 'number' || value instanceof Date) return value;
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'object') {
    const v = value as { formula?: string; sharedFormula?: string; richText?: { text: string }[]; text?: string; error?: string };
    if (v.formula !== undefined || v.sharedFormula !== undefined) return { formula: v.formula ?? v.sharedFormula ?? '' };
    if (v.richText) return v.richText.map((r) => r.text).join('');
    if (v.text !== undefined) return v.text;
    if (v.error !== undefined) return `#ERROR ${v.error}`;
  }
  return String(value);
}

