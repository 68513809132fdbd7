import { createReadStream } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { xlsxRows } from '../../files/tabular.ts';
import type { ColumnMapping } from './columns.ts';
import { CsvStageFeed } from './csv-stage-feed.ts';
import { CsvStructureError, StatementFormatError } from './errors.ts';
import { csvHead, findHeader, HEADER_SEARCH_ROWS, isHeaderRow, sniffFormat, type Preamble } from './header.ts';
import { DEFAULT_PROFILE, parseProfile, type StatementProfile } from './profile.ts';
import { readStatement } from './read.ts';
import type { StatementFinding, StatementLine } from './rows.ts';
import { STAGE_TABLE, StageRows } from './stage-rows.ts';
import { utf8Lines } from './utf8-lines.ts';

export interface StageSource {
  path: string;
  /** Name problems are reported against (the name the supplier gave the file). */
  name: string;
  format?: 'csv' | 'xlsx';
  encoding?: 'utf8' | 'gbk' | 'auto';
  /** Extra header aliases (the older per-supplier mapping); a profile's come first. */
  columns?: Partial<ColumnMapping>;
  /** How this supplier's statements are read (default: the common shapes). */
  profile?: StatementProfile;
  onProgress?: (linesRead: number) => void;
}

export interface Staged {
  lines: number;
  /** Refund and processing lines (not staged: classified on their own). */
  side: StatementLine[];
  /** Preamble, footers, notes and control-total mismatches: shown on the run. */
  findings: StatementFinding[];
}

/** The profile a source is read by: its own, with the older column mapping added. */
export const profileOf = (source: { profile?: StatementProfile; columns?: Partial<ColumnMapping> }): StatementProfile =>
  source.columns && Object.keys(source.columns).length ? parseProfile(source.profile ?? {}, source.columns) : source.profile ?? DEFAULT_PROFILE;

/**
 * Loads a statement into the temporary table `stmt` (STAGE_TABLE) of the caller's transaction,
 * every line checked by the statement grammar and typed on its way into COPY, so PostgreSQL only
 * stores it. CSV is streamed from the file, XLSX row by row through exceljs. A file with any
 * problem is refused as a whole with every problem's file, line and column (StatementFormatError);
 * the caller's transaction, which holds nothing else yet, is then rolled back.
 */
export async function stageStatement(conn: pg.Client, source: StageSource): Promise<Staged> {
  const format = await sniffFormat(source.path, source.name, source.format ?? statementFormat(source.path));
  await conn.query(STAGE_TABLE);
  const { rows, preamble } = format === 'csv' ? await copyCsv(conn, source) : await copyXlsx(conn, source);
  rows.finish();
  // sized for the planner: without it, matching's hash join is planned for a small stage, and spills.
  // Its size is what matters, which a small sample gives (a tenth of the default's time).
  await conn.query('SET LOCAL default_statistics_target = 10');
  await conn.query('ANALYZE stmt');
  await conn.query('RESET default_statistics_target');
  return { lines: rows.lines, side: rows.side, findings: findingsOf(preamble, rows) };
}

export const findingsOf = (preamble: Preamble[], rows: StageRows): StatementFinding[] => [
  ...preamble.map((p) => ({ kind: 'preamble' as const, line: p.line, message: `before the header (skipped): ${p.text}` })),
  ...rows.body.findings(),
];

/** The file after its header, checked and typed line by line on its way into COPY. */
const copyCsv = async (conn: pg.Client, source: StageSource) => {
  let preamble: Preamble[] = [];
  const rows = await stageCsv(source, () => conn.query(copyFrom('COPY stmt FROM STDIN')), (p) => { preamble = p; });
  return { rows, preamble };
};

/**
 * A CSV statement as the COPY text of its stage rows, into the sink (opened once the header has
 * been read): what staging sends PostgreSQL. The rows' problems are thrown by their finish().
 */
export async function stageCsv(source: StageSource, sink: () => NodeJS.WritableStream, onPreamble?: (preamble: Preamble[]) => void): Promise<StageRows> {
  const profile = profileOf(source);
  const csv = await csvHead(source.path, source.name, profile, source.encoding);
  onPreamble?.(csv.preamble);
  const rows = new StageRows(source.name, csv.header, csv.index, true, profile);
  try {
    await pipeline(createReadStream(source.path, { start: csv.bodyStart, highWaterMark: 256 * 1024 }), utf8Lines(csv.encoding), new CsvStageFeed(rows, csv.firstLine, source.onProgress, csv.delimiter), sink());
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
    for await (const _ of readStatement({ path: source.path, name: source.name, format: 'csv', encoding, columns: source.columns, profile: source.profile })) { /* only its problems matter */ }
  } catch (err) {
    if (err instanceof StatementFormatError) return err;
    throw err;
  }
  return new StatementFormatError(source.name, [{ file: source.name, line: 0, message: `cannot be read as CSV: ${structureError.message}` }]);
}

async function copyXlsx(conn: pg.Client, source: StageSource): Promise<{ rows: StageRows; preamble: Preamble[] }> {
  const profile = profileOf(source);
  const sheet = xlsxRows(source.path, source.name, { isHeader: (cells) => isHeaderRow(cells, profile) })[Symbol.asyncIterator]();
  const unreadable = (err: unknown, line: number) => new StatementFormatError(source.name, [{ file: source.name, line, message: (err as Error).message.replace(`${source.name}:0: `, '') }]);
  let first;
  try {
    first = await sheet.next();
  } catch (err) {
    throw unreadable(err, 1);
  }
  if (first.done) throw new StatementFormatError(source.name, [{ file: source.name, line: 1, message: 'the file is empty' }]);
  // the header is within the first rows: title and account lines come before it
  const head = [first.value];
  while (head.length < HEADER_SEARCH_ROWS && !isHeaderRow(head[head.length - 1]!.cells, profile)) {
    let next;
    try {
      next = await sheet.next();
    } catch (err) {
      throw unreadable(err, head.length + 1);
    }
    if (next.done) break;
    head.push(next.value);
  }
  const found = findHeader(head, profile, source.name);
  const header = found.header;
  const rows = new StageRows(source.name, header, found.index, false, profile);

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
  return { rows, preamble: found.preamble };
}

export const statementFormat = (file: string): 'csv' | 'xlsx' => (['.xlsx', '.xls', '.xlsm'].includes(path.extname(file).toLowerCase()) ? 'xlsx' : 'csv');
