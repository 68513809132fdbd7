import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse as parseCsv } from 'csv-parse/sync';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { decodeStrictly, detectEncoding, FileFormatError, lineBreaks, xlsxRows } from '../../files/tabular.ts';
import { FIELD_LABELS, resolveColumns, type ColumnMapping, type StatementField } from './columns.ts';
import { CsvStageFeed, headerEnd } from './csv-stage-feed.ts';
import { CsvStructureError, StatementFormatError } from './errors.ts';
import { asStatementError, readStatement } from './read.ts';
import { STAGE_TABLE, StageRows } from './stage-rows.ts';
import { utf8Lines } from './utf8-lines.ts';

export interface StageSource {
  path: string;
  /** Name problems are reported against (the name the supplier gave the file). */
  name: string;
  format?: 'csv' | 'xlsx';
  encoding?: 'utf8' | 'gbk' | 'auto';
  columns?: Partial<ColumnMapping>;
  onProgress?: (linesRead: number) => void;
}

const HEAD_BYTES = 1 << 20;

/**
 * Loads a statement into the temporary table `stmt` (STAGE_TABLE) of the caller's transaction,
 * every line checked by the statement grammar and typed on its way into COPY, so PostgreSQL only
 * stores it. CSV is streamed from the file, XLSX row by row through exceljs. A file with any
 * problem is refused as a whole with every problem's file, line and column (StatementFormatError);
 * the caller's transaction, which holds nothing else yet, is then rolled back.
 */
export async function stageStatement(conn: pg.Client, source: StageSource): Promise<{ lines: number }> {
  const format = source.format ?? statementFormat(source.path);
  await conn.query(STAGE_TABLE);
  const rows = format === 'csv' ? await copyCsv(conn, source) : await copyXlsx(conn, source);
  rows.finish();
  // sized for the planner: without it, matching's hash join is planned for a small stage, and spills.
  // Its size is what matters, which a small sample gives (a tenth of the default's time).
  await conn.query('SET LOCAL default_statistics_target = 10');
  await conn.query('ANALYZE stmt');
  await conn.query('RESET default_statistics_target');
  return { lines: rows.lines };
}

interface CsvHeader {
  header: string[];
  index: Record<StatementField, number>;
  encoding: 'utf8' | 'gbk';
  bodyStart: number;
  firstLine: number;
}

function headerColumns(name: string, header: string[], mapping: Partial<ColumnMapping> | undefined, line: number) {
  const resolved = resolveColumns(header, mapping);
  if (resolved.missing.length) {
    throw new StatementFormatError(name, [{
      file: name, line,
      message: `header is missing column(s): ${resolved.missing.map((f) => FIELD_LABELS[f]).join(', ')}; found: ${header.join(', ')}`,
    }]);
  }
  return resolved.index;
}

async function csvHeader(source: StageSource): Promise<CsvHeader> {
  const encoding = !source.encoding || source.encoding === 'auto' ? await detectEncoding(source.path) : source.encoding;
  const head = await readHead(source.path);
  if (head.every((b) => b === 0x0a || b === 0x0d || b === 0x20)) throw new StatementFormatError(source.name, [{ file: source.name, line: 1, message: 'the file is empty' }]);
  // blank lines before the header are skipped, as the streaming reader skips them (after a BOM)
  let start = encoding === 'utf8' && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
  let blank = 0;
  for (;;) {
    const eol = head[start] === 0x0a ? 1 : head[start] === 0x0d && head[start + 1] === 0x0a ? 2 : 0;
    if (!eol) break;
    start += eol;
    blank++;
  }
  const rest = head.subarray(start);
  const inRest = headerEnd(rest) ?? (head.length < HEAD_BYTES ? { end: rest.length, lines: 1 } : undefined);
  if (!inRest) throw new StatementFormatError(source.name, [{ file: source.name, line: 1, message: 'the header line is longer than 1 MB: this is not a statement' }]);
  const headerStop = start + inRest.end;
  let cells: string[];
  // by the streaming reader's rules (COPY's): bytes not of the encoding, a NUL, or a lone CR (an old
  // Mac file, whose first LF-less "header" would hide every line) are refused here as there
  let decoded: string;
  try {
    decoded = decodeStrictly(head.subarray(0, headerStop), encoding, source.name);
  } catch (err) {
    throw err instanceof FileFormatError ? asStatementError(err) : err;
  }
  try {
    const text = decoded.replace(/^\uFEFF/, '').replace(/^(\r?\n)+/, '');
    cells = (parseCsv(text, { relax_column_count: true }) as string[][])[0] ?? [];
  } catch (err) {
    throw new StatementFormatError(source.name, [{ file: source.name, line: blank + 1, message: `not valid CSV: ${(err as Error).message}` }]);
  }
  const header = cells.map((h) => h.trim());
  const index = headerColumns(source.name, header, source.columns, blank + 1);
  // a quoted header cell may hold line breaks, a CR alone among them (which headerEnd does not count)
  return { header, index, encoding, bodyStart: headerStop, firstLine: blank + 1 + cells.reduce((n, cell) => n + lineBreaks(cell), 0) + 1 };
}

/** The file after its header, checked and typed line by line on its way into COPY. */
const copyCsv = (conn: pg.Client, source: StageSource) => stageCsv(source, () => conn.query(copyFrom('COPY stmt FROM STDIN')));

/**
 * A CSV statement as the COPY text of its stage rows, into the sink (opened once the header has
 * been read): what staging sends PostgreSQL. The rows' problems are thrown by their finish().
 */
export async function stageCsv(source: StageSource, sink: () => NodeJS.WritableStream): Promise<StageRows> {
  const csv = await csvHeader(source);
  const rows = new StageRows(source.name, csv.header, csv.index, true);
  try {
    await pipeline(createReadStream(source.path, { start: csv.bodyStart, highWaterMark: 256 * 1024 }), utf8Lines(csv.encoding), new CsvStageFeed(rows, csv.firstLine, source.onProgress), sink());
  } catch (err) {
    if (err instanceof CsvStructureError) throw await diagnose(source, csv.encoding, err);
    throw err;
  }
  return rows;
}

/**
 * The file is not CSV (a stray or unterminated quote, bytes that are not the encoding): read it
 * again with the streaming reader, which says exactly where, as it would for the file on its own.
 */
async function diagnose(source: StageSource, encoding: 'utf8' | 'gbk', structureError: Error): Promise<Error> {
  try {
    for await (const _ of readStatement({ path: source.path, name: source.name, format: 'csv', encoding, columns: source.columns })) { /* only its problems matter */ }
  } catch (err) {
    if (err instanceof StatementFormatError) return err;
    throw err;
  }
  return new StatementFormatError(source.name, [{ file: source.name, line: 0, message: `cannot be read as CSV: ${structureError.message}` }]);
}

async function readHead(file: string): Promise<Buffer> {
  const handle = await fs.open(file);
  try {
    const buffer = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, HEAD_BYTES, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

async function copyXlsx(conn: pg.Client, source: StageSource): Promise<StageRows> {
  const sheet = xlsxRows(source.path, source.name)[Symbol.asyncIterator]();
  const unreadable = (err: unknown, line: number) => new StatementFormatError(source.name, [{ file: source.name, line, message: (err as Error).message.replace(`${source.name}:0: `, '') }]);
  let first;
  try {
    first = await sheet.next();
  } catch (err) {
    throw unreadable(err, 1);
  }
  if (first.done) throw new StatementFormatError(source.name, [{ file: source.name, line: 1, message: 'the file is empty' }]);
  const header = first.value.cells.map((c) => (c === null || c === undefined ? '' : String(c).trim()));
  const rows = new StageRows(source.name, header, headerColumns(source.name, header, source.columns, first.value.line), false);

  let count = 0;
  async function* copyText() {
    let chunk = '';
    for (;;) {
      let next;
      try {
        next = await sheet.next();
      } catch (err) {
        throw unreadable(err, count + 2);
      }
      if (next.done) break;
      const { cells, line } = next.value;
      // a formula is refused in any column, not only the statement's own: its value is whatever
      // the supplier's spreadsheet last computed, which is not a statement
      const values = cells.map((cell, i) => {
        if (cell === null || typeof cell !== 'object' || cell instanceof Date) return cell;
        rows.problem({ file: source.name, line, column: header[i], columnNumber: i + 1, message: `formulas are not accepted in a statement (found =${cell.formula})` });
        return null;
      });
      chunk += rows.row(values, line);
      if (++count % 10_000 === 0) source.onProgress?.(count);
      if (chunk.length > 262_144) {
        yield chunk;
        chunk = '';
      }
    }
    if (chunk) yield chunk;
    source.onProgress?.(count);
  }
  await pipeline(Readable.from(copyText()), conn.query(copyFrom('COPY stmt FROM STDIN')));
  return rows;
}

export const statementFormat = (file: string): 'csv' | 'xlsx' => (path.extname(file).toLowerCase() === '.xlsx' ? 'xlsx' : 'csv');
