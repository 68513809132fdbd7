import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse as parseCsv } from 'csv-parse/sync';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { decodeStrictly, detectEncoding, FileFormatError, xlsxRows, type Cell } from '../../files/tabular.ts';
import { FIELD_LABELS, resolveColumns, type ColumnMapping, type StatementField } from './columns.ts';
import { StatementFormatError, type StatementProblem } from './errors.ts';
import { headerEnd, NumberedRecords } from './numbered-records.ts';
import { asStatementError, readStatement } from './read.ts';
import { checkRow, STATUS } from './rows.ts';

export interface StageSource {
  path: string;
  /** Name problems are reported against (the name the supplier gave the file). */
  name: string;
  format?: 'csv' | 'xlsx';
  encoding?: 'utf8' | 'gbk' | 'auto';
  columns?: Partial<ColumnMapping>;
  onProgress?: (linesRead: number) => void;
}

const MAX_PROBLEMS = 100;
const HEAD_BYTES = 1 << 20;

/**
 * Loads a statement into the temporary table `stmt` of the caller's transaction; read it through
 * STATEMENT_LINES. CSV bytes go straight into PostgreSQL's COPY (it parses CSV far faster than JS
 * can), each record numbered with its file line, first into typed columns; a file that does not
 * fit them, or has a bad cell, is loaded again as text and checked cell by cell in one set-based
 * pass, so the StatementFormatError names file, line and column. XLSX rows are streamed in by
 * exceljs. On a problem the caller's transaction (which holds nothing else yet) is rolled back.
 */
export async function stageStatement(conn: pg.Client, source: StageSource): Promise<{ lines: number }> {
  const format = source.format ?? statementFormat(source.path);
  if (format === 'csv') {
    const csv = await csvHeader(source);
    // every cell as text, then typed by one set of expressions: COPY's own parsers for int, numeric
    // and timestamptz take more than the statement grammar (which the streaming reader shares)
    await copyCsvText(conn, source, csv);
    return checkTextStage(conn, source, { ...csv, problems: [], moreProblems: 0 });
  }
  return checkTextStage(conn, source, await copyXlsx(conn, source));
}

async function checkTextStage(conn: pg.Client, source: StageSource, staged: Copied): Promise<{ lines: number }> {
  await typeTextStage(conn, staged.index);
  // one pass to count; the bad rows are looked at (and worded) only when there are some
  const { rows: [counted] } = await conn.query(`SELECT count(*) FILTER (WHERE ${BAD})::int AS bad, count(*) FILTER (WHERE NOT ${BLANK})::int AS n FROM stmt`);
  const cells = counted.bad > 0 ? await cellProblems(conn, source.name, staged.header, staged.index) : { problems: [], unshownRows: 0 };
  const problems = [...staged.problems, ...cells.problems];
  if (problems.length) {
    const total = problems.length + staged.moreProblems + cells.unshownRows;
    throw new StatementFormatError(source.name, problems.sort((a, b) => a.line - b.line).slice(0, MAX_PROBLEMS), total);
  }
  await conn.query('ANALYZE stmt');
  return { lines: counted.n };
}

const quoted = (words: string[]) => words.map((w) => `'${w.replace(/'/g, "''")}'`).join(', ');
const SUCCESS_WORDS = quoted(Object.entries(STATUS).filter(([, s]) => s === 'success').map(([w]) => w));
const FAILED_WORDS = quoted(Object.entries(STATUS).filter(([, s]) => s === 'failed').map(([w]) => w));

/** An all-empty row: skipped, as a spreadsheet's trailing rows are. */
const BLANK = `(supplier_txn_id IS NULL AND merchant_ref IS NULL AND sku IS NULL AND quantity IS NULL AND amount IS NULL AND status_text IS NULL AND completed_at IS NULL)`;
/** A row that is not acceptable as it stands. */
const BAD = `(NOT ${BLANK} AND (coalesce(btrim(supplier_txn_id), '') = '' OR coalesce(btrim(merchant_ref, ' |;'), '') = '' OR coalesce(btrim(sku), '') = ''
  OR quantity IS NULL OR quantity < 1 OR amount IS NULL OR amount = 'NaN' OR amount <> trunc(amount, 2) OR abs(amount) >= 1e13
  OR lower(btrim(status_text)) NOT IN (${SUCCESS_WORDS}, ${FAILED_WORDS}) OR status_text IS NULL OR completed_at IS NULL OR NOT isfinite(completed_at)))`;

/** The staged statement's lines, typed and in our units. */
export const STATEMENT_LINES = `(
  SELECT line_no, btrim(supplier_txn_id) AS supplier_txn_id,
         CASE WHEN strpos(merchant_ref, '|') = 0 AND strpos(merchant_ref, ';') = 0 THEN ARRAY[btrim(merchant_ref)]
              ELSE array_remove(ARRAY(SELECT btrim(x) FROM regexp_split_to_table(merchant_ref, '[|;]') x), '') END AS refs,
         btrim(sku) AS sku, quantity, (amount * 100)::bigint AS amount_fen,
         CASE WHEN lower(btrim(status_text)) IN (${SUCCESS_WORDS}) THEN 'success' ELSE 'failed' END AS status,
         completed_at
  FROM stmt WHERE NOT ${BLANK})`;

/** Each field's stage column and how a text cell becomes it (NULL when not acceptable). */
const FIELD_STAGE: Record<StatementField, { column: string; from: (cell: string) => string; whenTrimmed?: (raw: string) => string }> = {
  supplierTxnId: { column: 'supplier_txn_id', from: (c) => c },
  merchantOrderNo: { column: 'merchant_ref', from: (c) => c },
  sku: { column: 'sku', from: (c) => c },
  // string tests, not a regular expression: per cell, a regular expression costs more than the COPY
  quantity: { column: 'quantity', from: (c) => `CASE WHEN translate(${c}, '0123456789', '') = '' AND length(ltrim(${c}, '0')) <= 9 THEN ${c}::int END` },
  amount: { column: 'amount', from: (c) => `km_yuan_to_fen(${c}) / 100.0`, whenTrimmed: (raw) => `${raw} = btrim(${raw}, '${WHITESPACE}')` },
  status: { column: 'status_text', from: (c) => c },
  completedAt: { column: 'completed_at', from: (c) => `km_statement_time(${c})`, whenTrimmed: (raw) => `${raw} = btrim(${raw}, '${WHITESPACE}')` },
};

/**
 * The typed value of a raw cell. The grammar functions are inlined, so their argument is repeated
 * in them: a cell that plainly needs no trimming (the usual case) is passed as it is.
 */
function typed(field: StatementField, raw: string): string {
  const { from, whenTrimmed } = FIELD_STAGE[field];
  return whenTrimmed ? `CASE WHEN ${whenTrimmed(raw)} THEN ${from(raw)} ELSE ${from(cellText(raw))} END` : from(cellText(raw));
}
const FIELDS = Object.keys(FIELD_STAGE) as StatementField[];
/**
 * What JavaScript's trim() removes (the streaming reader trims with it): spaces, tabs, line breaks,
 * no-break and ideographic spaces. btrim's default would leave a "\r" or a "　" in the cell.
 */
const WHITESPACE = ' \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff';
/** A cell as the checks see it: trimmed, and NULL when empty. */
const cellText = (raw: string) => `nullif(btrim(${raw}, '${WHITESPACE}'), '')`;

interface CsvHeader {
  header: string[];
  index: Record<StatementField, number>;
  encoding: 'utf8' | 'gbk';
  bodyStart: number;
  firstLine: number;
}

interface Copied {
  header: string[];
  index: Record<StatementField, number>;
  /** Problems found while copying (XLSX formulas). */
  problems: StatementProblem[];
  moreProblems: number;
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

async function createRawStage(conn: pg.Client, columns: number) {
  const cols = Array.from({ length: columns }, (_, i) => `c${i + 1} text`).join(', ');
  await conn.query(`CREATE TEMP TABLE stmt_raw (line_no int NOT NULL, ${cols}) ON COMMIT DROP`);
}

async function csvHeader(source: StageSource): Promise<CsvHeader> {
  const encoding = !source.encoding || source.encoding === 'auto' ? await detectEncoding(source.path) : source.encoding;
  const head = await readHead(source.path);
  if (head.every((b) => b === 0x0a || b === 0x0d || b === 0x20)) throw new StatementFormatError(source.name, [{ file: source.name, line: 1, message: 'the file is empty' }]);
  const found = headerEnd(head) ?? (head.length < HEAD_BYTES ? { end: head.length, lines: 1 } : undefined);
  if (!found) throw new StatementFormatError(source.name, [{ file: source.name, line: 1, message: 'the header line is longer than 1 MB: this is not a statement' }]);
  let header: string[];
  // by the streaming reader's rules (COPY's): bytes not of the encoding, a NUL, or a lone CR (an old
  // Mac file, whose first LF-less "header" would hide every line) are refused here as there
  let decoded: string;
  try {
    decoded = decodeStrictly(head.subarray(0, found.end), encoding, source.name);
  } catch (err) {
    throw err instanceof FileFormatError ? asStatementError(err) : err;
  }
  try {
    const text = decoded.replace(/^\uFEFF/, '');
    header = ((parseCsv(text, { relax_column_count: true }) as string[][])[0] ?? []).map((h) => h.trim());
  } catch (err) {
    throw new StatementFormatError(source.name, [{ file: source.name, line: 1, message: `the header is not valid CSV: ${(err as Error).message}` }]);
  }
  const index = headerColumns(source.name, header, source.columns, 1);
  return { header, index, encoding, bodyStart: found.end, firstLine: found.lines + 1 };
}

/** Every cell as text, so each one can be judged and reported on its own. */
async function copyCsvText(conn: pg.Client, source: StageSource, csv: CsvHeader): Promise<void> {
  await createRawStage(conn, csv.header.length);
  try {
    await copyCsvBody(conn, source, csv, 'stmt_raw', source.onProgress);
  } catch (err) {
    throw await diagnose(source, csv.encoding, err as Error & { where?: string });
  }
}

/** The file after its header, each record prefixed with its file line number, through COPY. */
function copyCsvBody(conn: pg.Client, source: StageSource, csv: CsvHeader, table: 'stmt_raw', onProgress?: (lines: number) => void): Promise<void> {
  return pipeline(
    createReadStream(source.path, { start: csv.bodyStart, highWaterMark: 256 * 1024 }),
    new NumberedRecords(csv.firstLine, onProgress, true),
    conn.query(copyFrom(`COPY ${table} FROM STDIN WITH (FORMAT csv, ENCODING '${csv.encoding === 'gbk' ? 'GBK' : 'UTF8'}')`)),
  );
}

/**
 * COPY refused the file (a ragged row, an unterminated quote, bytes that are not the encoding):
 * read it again the slow way, which can say exactly where every problem is.
 */
async function diagnose(source: StageSource, encoding: 'utf8' | 'gbk', copyError: Error & { where?: string }): Promise<Error> {
  try {
    for await (const _ of readStatement({ path: source.path, name: source.name, format: 'csv', encoding, columns: source.columns })) { /* only its problems matter */ }
  } catch (err) {
    if (err instanceof StatementFormatError) return err;
    throw err;
  }
  const line = /line \d+: "(\d+),/.exec(copyError.where ?? '')?.[1];
  return new StatementFormatError(source.name, [{ file: source.name, line: line ? Number(line) : 0, message: `cannot be read as CSV: ${copyError.message}` }]);
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

const csvField = (text: string) => (/[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text);

async function copyXlsx(conn: pg.Client, source: StageSource): Promise<Copied> {
  const rows = xlsxRows(source.path, source.name)[Symbol.asyncIterator]();
  const problems: StatementProblem[] = [];
  let moreProblems = 0;
  let first;
  try {
    first = await rows.next();
  } catch (err) {
    throw new StatementFormatError(source.name, [{ file: source.name, line: 1, message: (err as Error).message.replace(`${source.name}:0: `, '') }]);
  }
  if (first.done) throw new StatementFormatError(source.name, [{ file: source.name, line: 1, message: 'the file is empty' }]);
  const header = first.value.cells.map((c) => (c === null || c === undefined ? '' : String(c).trim()));
  const index = headerColumns(source.name, header, source.columns, first.value.line);
  await createRawStage(conn, header.length);

  const text = (cell: Cell, line: number, column: number): string => {
    if (cell === null || cell === undefined) return '';
    // XLSX stores wall-clock times and exceljs reads them as if UTC: written back as wall-clock
    // text, the SQL check reads them as Shanghai time, which is what the supplier meant.
    if (cell instanceof Date) return cell.toISOString().replace('T', ' ').slice(0, 19);
    if (typeof cell === 'object') {
      if (problems.length < MAX_PROBLEMS) problems.push({ file: source.name, line, column: header[column], columnNumber: column + 1, message: `formulas are not accepted in a statement (found =${cell.formula})` });
      else moreProblems++;
      return '';
    }
    return String(cell);
  };
  let count = 0;
  async function* copyText() {
    let chunk = '';
    for (;;) {
      let next;
      try {
        next = await rows.next();
      } catch (err) {
        throw new StatementFormatError(source.name, [{ file: source.name, line: count + 2, message: (err as Error).message.replace(`${source.name}:0: `, '') }]);
      }
      if (next.done) break;
      const { cells, line } = next.value;
      const values = header.map((_, i) => csvField(text(cells[i], line, i)));
      chunk += `${line},${values.join(',')}\n`;
      if (++count % 10_000 === 0) source.onProgress?.(count);
      if (chunk.length > 262_144) {
        yield chunk;
        chunk = '';
      }
    }
    if (chunk) yield chunk;
    source.onProgress?.(count);
  }
  await pipeline(Readable.from(copyText()), conn.query(copyFrom(`COPY stmt_raw FROM STDIN WITH (FORMAT csv, ENCODING 'UTF8')`)));
  return { header, index, problems, moreProblems };
}

/** The text stage typed by the statement grammar: NULL where a cell is not acceptable. */
async function typeTextStage(conn: pg.Client, index: Record<StatementField, number>) {
  await conn.query(`
    CREATE TEMP TABLE stmt ON COMMIT DROP AS
    SELECT line_no, ${FIELDS.map((f) => `${typed(f, `c${index[f] + 1}`)} AS ${FIELD_STAGE[f].column}`).join(', ')}
    FROM stmt_raw`);
}

/** The bad rows' problems, worded by the same checks the streaming reader uses. */
async function cellProblems(conn: pg.Client, file: string, header: string[], index: Record<StatementField, number>): Promise<{ problems: StatementProblem[]; unshownRows: number }> {
  const { rows } = await conn.query(`
    SELECT r.* FROM stmt_raw r JOIN (SELECT line_no FROM stmt WHERE ${BAD} ORDER BY line_no LIMIT ${MAX_PROBLEMS}) b USING (line_no) ORDER BY r.line_no`);
  const problems: StatementProblem[] = [];
  for (const row of rows) {
    const cells = header.map((_, i) => row[`c${i + 1}`] as string | null);
    const checked = checkRow(cells, row.line_no, file, header, index);
    if ('problems' in checked) problems.push(...checked.problems);
    else problems.push({ file, line: row.line_no, message: 'is not an acceptable statement line' });
  }
  let unshownRows = 0;
  if (rows.length === MAX_PROBLEMS) {
    const { rows: more } = await conn.query(`SELECT count(*)::int AS n FROM stmt WHERE ${BAD}`);
    unshownRows = more[0].n - MAX_PROBLEMS;
  }
  return { problems, unshownRows };
}

export const statementFormat = (file: string): 'csv' | 'xlsx' => (path.extname(file).toLowerCase() === '.xlsx' ? 'xlsx' : 'csv');
