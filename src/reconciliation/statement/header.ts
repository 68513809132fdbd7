import fs from 'node:fs/promises';
import { parse as parseCsv } from 'csv-parse/sync';
import { decodeStrictly, detectEncoding, FileFormatError, lineBreaks, type Cell } from '../../files/tabular.ts';
import { FIELD_LABELS, resolveColumns, type ColumnIndex } from './columns.ts';
import { headerEnd } from './csv-stage-feed.ts';
import { StatementFormatError } from './errors.ts';
import type { StatementProfile } from './profile.ts';

/** How far down a statement its header may be: title and account lines come first. */
export const HEADER_SEARCH_ROWS = 20;
const HEAD_BYTES = 1 << 20;

/** Whether a row is a header under a profile's aliases. */
export const isHeaderRow = (cells: Cell[], profile: StatementProfile) => resolveColumns(headerCells(cells), profile.columns).missing.length === 0;

export const headerCells = (cells: Cell[]) => cells.map((c) => (c === null || c === undefined ? '' : c instanceof Date ? c.toISOString() : typeof c === 'object' ? '' : String(c).trim()));

/** A preamble row (title, account line) shown to finance as read. */
export interface Preamble { line: number; text: string }

/**
 * Finds the header among a statement's first rows: the first that names every column a statement
 * needs. The rows before it are its preamble. Refused when none within HEADER_SEARCH_ROWS does,
 * saying what the likeliest row had and lacked.
 */
export function findHeader(rows: { cells: Cell[]; line: number }[], profile: StatementProfile, file: string): { at: number; header: string[]; index: ColumnIndex; preamble: Preamble[] } {
  let best: { line: number; header: string[]; missing: string[] } | undefined;
  const preamble: Preamble[] = [];
  for (let i = 0; i < rows.length && i < HEADER_SEARCH_ROWS; i++) {
    const header = headerCells(rows[i]!.cells);
    const resolved = resolveColumns(header, profile.columns);
    if (resolved.missing.length === 0) return { at: i, header, index: resolved.index, preamble };
    const filled = header.filter(Boolean).length;
    if (!best || (filled > 1 && resolved.missing.length < best.missing.length)) best = { line: rows[i]!.line, header, missing: resolved.missing };
    if (filled) preamble.push({ line: rows[i]!.line, text: header.filter(Boolean).join(' ').slice(0, 200) });
  }
  if (!best) throw new StatementFormatError(file, [{ file, line: 1, message: 'the file is empty' }]);
  throw new StatementFormatError(file, [{
    file, line: best.line,
    message: `header is missing column(s): ${best.missing.map((f) => FIELD_LABELS[f as keyof typeof FIELD_LABELS]).join(', ')}; found: ${best.header.join(', ')} (no row of the first ${HEADER_SEARCH_ROWS} names them all; a supplier's own column names go in its statement profile: ${best.missing.map((f) => `columns.${f}`).join(', ')})`,
  }]);
}

const OLE2 = Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);
const ZIP = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

/**
 * What a statement file is by its first bytes: an XLSX workbook (a ZIP), or CSV text. A legacy
 * .xls (OLE2) workbook is refused with what to do: no maintained library reads it without install
 * scripts, and Excel and WPS save it as .xlsx in a click.
 */
export async function sniffFormat(file: string, name: string, fallback: 'csv' | 'xlsx'): Promise<'csv' | 'xlsx'> {
  const handle = await fs.open(file);
  try {
    const magic = Buffer.alloc(8);
    const { bytesRead } = await handle.read(magic, 0, 8, 0);
    if (bytesRead === 8 && magic.equals(OLE2)) {
      throw new StatementFormatError(name, [{ file: name, line: 0, message: 'is a legacy Excel 97-2003 workbook (.xls), which is not read: open it in Excel or WPS, save it as .xlsx (Excel 工作簿 / Excel Workbook) or CSV, and upload that. 旧版 .xls 文件无法读取，请另存为 .xlsx 后上传' }]);
    }
    if (bytesRead >= 4 && magic.subarray(0, 4).equals(ZIP)) return 'xlsx';
    return fallback;
  } finally {
    await handle.close();
  }
}

export interface CsvHead {
  header: string[];
  index: ColumnIndex;
  encoding: 'utf8' | 'gbk';
  delimiter: string;
  /** Byte offset of the first line after the header. */
  bodyStart: number;
  /** File line number of the header, and of the first line after it. */
  headerLine: number;
  firstLine: number;
  preamble: Preamble[];
}

/**
 * A CSV statement's head: its encoding, separator, header (searched for in the first rows) and
 * where its body starts. Read from the file's first megabyte, by the streaming reader's rules.
 */
export async function csvHead(path: string, name: string, profile: StatementProfile, encodingOverride?: 'utf8' | 'gbk' | 'auto'): Promise<CsvHead> {
  const wanted = encodingOverride && encodingOverride !== 'auto' ? encodingOverride : profile.encoding;
  const encoding = wanted === 'auto' ? await detectEncoding(path) : wanted;
  const head = await readHead(path);
  if (head.every((b) => b === 0x0a || b === 0x0d || b === 0x20)) throw new StatementFormatError(name, [{ file: name, line: 1, message: 'the file is empty' }]);
  let start = encoding === 'utf8' && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
  let line = 1;
  const rows: { cells: string[]; line: number; end: number }[] = [];
  const delimiters = profile.delimiter === 'auto' ? [',', '\t', ';'] : [profile.delimiter];
  const candidates: Map<string, { cells: Cell[]; line: number; bad?: string }[]> = new Map(delimiters.map((d) => [d, []]));
  while (rows.length < HEADER_SEARCH_ROWS && start < head.length) {
    // blank lines are skipped, as the streaming reader skips them
    const eol = head[start] === 0x0a ? 1 : head[start] === 0x0d && head[start + 1] === 0x0a ? 2 : 0;
    if (eol) {
      start += eol;
      line++;
      continue;
    }
    const rest = head.subarray(start);
    const inRest = headerEnd(rest) ?? (head.length < HEAD_BYTES ? { end: rest.length, lines: 1 } : undefined);
    if (!inRest) {
      if (rows.length === 0) throw new StatementFormatError(name, [{ file: name, line, message: 'the header line is longer than 1 MB: this is not a statement' }]);
      break;
    }
    let decoded: string;
    try {
      decoded = decodeStrictly(head.subarray(start, start + inRest.end), encoding, name);
    } catch (err) {
      if (err instanceof FileFormatError) throw new StatementFormatError(name, [{ file: name, line, message: err.message.slice(`${err.file}:${err.line}: `.length) }]);
      throw err;
    }
    const text = decoded.replace(/^\uFEFF/, '');
    for (const d of delimiters) {
      // by the streaming reader's rules: a row that is not CSV (a stray quote) is refused there, so here
      try {
        candidates.get(d)!.push({ cells: (parseCsv(text, { relax_column_count: true, delimiter: d }) as string[][])[0] ?? [], line });
      } catch (err) {
        candidates.get(d)!.push({ cells: [], line, bad: `not valid CSV: ${(err as Error).message}` });
      }
    }
    rows.push({ cells: [], line, end: start + inRest.end });
    start += inRest.end;
    line += Math.max(1, lineBreaksOf(text));
  }
  let failure: unknown;
  for (const d of delimiters) {
    try {
      const all = candidates.get(d)!;
      const firstBad = all.findIndex((r) => r.bad);
      const usable = firstBad === -1 ? all : all.slice(0, firstBad);
      let found;
      try {
        found = findHeader(usable, profile, name);
      } catch (err) {
        if (firstBad === -1) throw err;
        throw new StatementFormatError(name, [{ file: name, line: all[firstBad]!.line, message: all[firstBad]!.bad! }]);
      }
      const headerRow = all[found.at]!;
      // a quoted header cell may hold line breaks
      const breaks = (headerRow.cells as string[]).reduce((n, cell) => n + lineBreaks(cell), 0);
      return {
        header: found.header, index: found.index, encoding, delimiter: d, bodyStart: rows[found.at]!.end, headerLine: headerRow.line,
        firstLine: headerRow.line + breaks + 1, preamble: found.preamble,
      };
    } catch (err) {
      failure ??= err;
    }
  }
  throw failure;
}

/** Lines a record's text spans (its ending line feed included). */
const lineBreaksOf = (text: string) => {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
};

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
