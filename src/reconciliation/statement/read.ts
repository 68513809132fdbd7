import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import { FIELD_LABELS, resolveColumns, type ColumnMapping } from './columns.ts';
import { StatementFormatError, type StatementProblem } from './errors.ts';
import { checkRow, type Cell, type StatementLine } from './rows.ts';

export interface StatementSource {
  path: string;
  /** Name to report problems against; defaults to the file's base name. */
  name?: string;
  /** By extension when absent: .xlsx is XLSX, anything else CSV. */
  format?: 'csv' | 'xlsx';
  /** CSV only. `auto` reads UTF-8 when the bytes are valid UTF-8, else GBK. */
  encoding?: 'utf8' | 'gbk' | 'auto';
  columns?: Partial<ColumnMapping>;
  onProgress?: (linesRead: number) => void;
}

const MAX_PROBLEMS = 100;

/**
 * Streams a supplier statement line by line, never holding the file in memory. Valid lines are
 * yielded as they are read; if any line was bad, a StatementFormatError listing every problem
 * (file, line, column) is thrown at the end, so a caller that stages inside a transaction rolls
 * the whole file back.
 */
export async function* readStatement(source: StatementSource): AsyncGenerator<StatementLine> {
  const name = source.name ?? path.basename(source.path);
  const format = source.format ?? (source.path.toLowerCase().endsWith('.xlsx') ? 'xlsx' : 'csv');
  const rows = format === 'xlsx' ? xlsxRows(source.path) : csvRows(source.path, source.encoding ?? 'auto');
  const problems: StatementProblem[] = [];
  let total = 0;
  let header: string[] | undefined;
  let index: ReturnType<typeof resolveColumns>['index'] | undefined;
  let count = 0;

  for await (const { cells, line } of rows) {
    if (!header) {
      header = cells.map((c) => (c === null || c === undefined ? '' : String(c).trim()));
      const resolved = resolveColumns(header, source.columns);
      if (resolved.missing.length) {
        throw new StatementFormatError(name, [{
          file: name, line,
          message: `header is missing column(s): ${resolved.missing.map((f) => FIELD_LABELS[f]).join(', ')}; found: ${header.join(', ')}`,
        }]);
      }
      index = resolved.index;
      continue;
    }
    if (cells.every((c) => c === null || c === undefined || String(c).trim() === '')) continue;
    if (format === 'csv' && cells.length !== header.length) {
      total++;
      if (problems.length < MAX_PROBLEMS) problems.push({ file: name, line, message: `has ${cells.length} columns, the header has ${header.length}` });
      continue;
    }
    const checked = checkRow(cells, line, name, header, index!);
    if ('problems' in checked) {
      total += checked.problems.length;
      for (const p of checked.problems) if (problems.length < MAX_PROBLEMS) problems.push(p);
    } else {
      yield checked.value;
    }
    if (++count % 10_000 === 0) source.onProgress?.(count);
  }
  source.onProgress?.(count);
  if (!header) throw new StatementFormatError(name, [{ file: name, line: 1, message: 'the file is empty' }]);
  if (total > 0) throw new StatementFormatError(name, problems, total);
}

async function* csvRows(file: string, encoding: 'utf8' | 'gbk' | 'auto'): AsyncGenerator<{ cells: Cell[]; line: number }> {
  const chosen = encoding === 'auto' ? await detectEncoding(file) : encoding;
  const raw = createReadStream(file);
  const text = chosen === 'gbk' ? raw.pipe(iconv.decodeStream('gbk')) : raw.pipe(iconv.decodeStream('utf8'));
  const parser = text.pipe(parse({ bom: true, relax_column_count: true, skip_empty_lines: true, info: true, relax_quotes: false }));
  try {
    for await (const record of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      yield { cells: record.record, line: record.info.lines };
    }
  } catch (err) {
    const e = err as { code?: string; lines?: number; message: string };
    if (e.code?.startsWith('CSV_')) {
      throw new StatementFormatError(path.basename(file), [{ file: path.basename(file), line: e.lines ?? 0, message: `not valid CSV: ${e.message}` }]);
    }
    throw err;
  }
}

/** UTF-8 if the first 64 KB decode as UTF-8 (a multi-byte character cut at the end is fine), else GBK. */
async function detectEncoding(file: string): Promise<'utf8' | 'gbk'> {
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

async function* xlsxRows(file: string): AsyncGenerator<{ cells: Cell[]; line: number }> {
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(file, { entries: 'emit', sharedStrings: 'cache', styles: 'cache', hyperlinks: 'ignore', worksheets: 'emit' });
  let sheets = 0;
  try {
    for await (const sheet of reader) {
      if (sheets++ > 0) break; // the statement is the first sheet
      for await (const row of sheet as AsyncIterable<ExcelJS.Row>) {
        const values = (row.values as unknown[]).slice(1); // exceljs rows are 1-based
        yield { cells: values.map(toCell), line: row.number };
      }
    }
  } catch (err) {
    if (err instanceof StatementFormatError) throw err;
    throw new StatementFormatError(path.basename(file), [{ file: path.basename(file), line: 0, message: `not a readable XLSX workbook: ${(err as Error).message}` }]);
  }
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

/** SHA-256 of a file's bytes: the same statement uploaded twice is recognised by it. */
export async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
