import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { csvRows, FileFormatError, xlsxRows, type Cell } from '../../files/tabular.ts';
import type { ColumnIndex, ColumnMapping } from './columns.ts';
import { StatementFormatError, type StatementProblem } from './errors.ts';
import { csvHead, findHeader, HEADER_SEARCH_ROWS, isHeaderRow, sniffFormat, type Preamble } from './header.ts';
import { DEFAULT_PROFILE, parseProfile, type StatementProfile } from './profile.ts';
import { grammarOf, StatementBody, type StatementFinding, type StatementLine } from './rows.ts';

export interface StatementSource {
  path: string;
  /** Name to report problems against; defaults to the file's base name. */
  name?: string;
  /** By extension when absent: .xlsx is XLSX, anything else CSV (a ZIP's bytes are XLSX whatever its name). */
  format?: 'csv' | 'xlsx';
  /** CSV only. `auto` reads UTF-8 when the bytes are valid UTF-8, else GBK. */
  encoding?: 'utf8' | 'gbk' | 'auto';
  columns?: Partial<ColumnMapping>;
  profile?: StatementProfile;
  onProgress?: (linesRead: number) => void;
  /** The header as found, once it is. */
  onHeader?: (header: { header: string[]; index: ColumnIndex; line: number; delimiter?: string; encoding?: string }) => void;
  /** At the end of a file that reads: its preamble, footers, notes and control totals. */
  onFindings?: (findings: StatementFinding[]) => void;
  /** XLSX only: give up on a workbook that produces nothing for this long (default 30 s). */
  stallMs?: number;
}

const MAX_PROBLEMS = 100;

/**
 * Streams a supplier statement line by line, never holding the file in memory. The header is
 * looked for in the first rows (a title or account line may come first); footer (合计) rows are
 * not lines. Valid lines are yielded as they are read; if any line was bad, a StatementFormatError
 * listing every problem (file, line, column) is thrown at the end, so a caller that stages inside
 * a transaction rolls the whole file back.
 */
export async function* readStatement(source: StatementSource): AsyncGenerator<StatementLine> {
  const name = source.name ?? path.basename(source.path);
  const profile = source.columns && Object.keys(source.columns).length ? parseProfile(source.profile ?? {}, source.columns) : source.profile ?? DEFAULT_PROFILE;
  const format = await sniffFormat(source.path, name, source.format ?? (/\.xls[xm]?$/i.test(source.path) ? 'xlsx' : 'csv'));
  let rows: AsyncGenerator<{ cells: Cell[]; line: number }>;
  let headerLine: number | undefined;
  let csvPreamble: Preamble[] = [];
  let delimiter: string | undefined;
  let encoding: 'utf8' | 'gbk' | undefined;
  if (format === 'csv') {
    const head = await csvHead(source.path, name, profile, source.encoding);
    headerLine = head.headerLine;
    csvPreamble = head.preamble;
    delimiter = head.delimiter;
    encoding = head.encoding;
    rows = asStatementErrors(csvRows(source.path, head.encoding, name, { copyRules: true, delimiter: head.delimiter }));
  } else {
    rows = asStatementErrors(xlsxRows(source.path, name, { stallMs: source.stallMs, isHeader: (cells) => isHeaderRow(cells, profile) }));
  }
  const problems: StatementProblem[] = [];
  let total = 0;
  let body: StatementBody | undefined;
  let preamble: Preamble[] = csvPreamble;
  const head: { cells: Cell[]; line: number }[] = [];
  let count = 0;

  for await (const { cells, line } of rows) {
    if (!body) {
      if (headerLine !== undefined) {
        if (line < headerLine) continue;
        head.push({ cells, line });
      } else {
        head.push({ cells, line });
        if (!isHeaderRow(cells, profile) && head.length < HEADER_SEARCH_ROWS) continue;
      }
      const found = findHeader(head, profile, name);
      if (headerLine === undefined) preamble = found.preamble;
      body = new StatementBody(grammarOf(name, found.header, found.index, profile), format === 'csv');
      source.onHeader?.({ header: found.header, index: found.index, line, delimiter, encoding });
      continue;
    }
    const checked = body.read(cells, line);
    if (!checked) continue;
    if ('problems' in checked) {
      total += checked.problems.length;
      for (const p of checked.problems) if (problems.length < MAX_PROBLEMS) problems.push(p);
    } else {
      yield checked.value;
    }
    if (++count % 10_000 === 0) source.onProgress?.(count);
  }
  source.onProgress?.(count);
  if (!body) {
    if (head.length) findHeader(head, profile, name); // says what the rows had
    throw new StatementFormatError(name, [{ file: name, line: 1, message: 'the file is empty' }]);
  }
  if (total > 0) throw new StatementFormatError(name, problems, total);
  source.onFindings?.([
    ...preamble.map((p) => ({ kind: 'preamble' as const, line: p.line, message: `before the header (skipped): ${p.text}` })),
    ...body.findings(),
  ]);
}

async function* asStatementErrors(rows: AsyncGenerator<{ cells: Cell[]; line: number }>) {
  try {
    yield* rows;
  } catch (err) {
    throw err instanceof FileFormatError ? asStatementError(err) : err;
  }
}

/** A file that cannot be read, as a statement's problem (file:line and what). */
export function asStatementError(err: FileFormatError): StatementFormatError {
  return new StatementFormatError(err.file, [{ file: err.file, line: err.line, message: err.message.slice(`${err.file}:${err.line}: `.length) }]);
}

/** SHA-256 of a file's bytes: the same statement uploaded twice is recognised by it. */
export async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
