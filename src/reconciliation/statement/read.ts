import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { csvRows, FileFormatError, xlsxRows, type Cell } from '../../files/tabular.ts';
import { FIELD_LABELS, resolveColumns, type ColumnMapping } from './columns.ts';
import { StatementFormatError, type StatementProblem } from './errors.ts';
import { checkRecord, type StatementLine } from './rows.ts';

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
  /** XLSX only: give up on a workbook that produces nothing for this long (default 30 s). */
  stallMs?: number;
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
  const rows = asStatementErrors(format === 'xlsx' ? xlsxRows(source.path, name, { stallMs: source.stallMs }) : csvRows(source.path, source.encoding ?? 'auto', name, { copyRules: true }));
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
    const checked = checkRecord(cells, line, name, header, index!, format === 'csv');
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
  if (!header) throw new StatementFormatError(name, [{ file: name, line: 1, message: 'the file is empty' }]);
  if (total > 0) throw new StatementFormatError(name, problems, total);
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
