import { createReadStream, type ReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import { CsvError, parse } from 'csv-parse';
import type ExcelJS from 'exceljs';
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

const CSV_OPTIONS = { bom: true, relax_column_count: true, skip_empty_lines: true, info: true, relax_quotes: false } as const;

export function csvRows(
  file: string, encoding: 'utf8' | 'gbk' | 'auto', name = path.basename(file),
  /** Also refuse what statement staging refuses (a NUL, a stray carriage return): for a reader that must agree with it. */
  options: { copyRules?: boolean; delimiter?: string } = {},
): AsyncGenerator<{ cells: Cell[]; line: number }> {
  const delimiter = options.delimiter ?? ',';
  // the generator itself, not one delegating to it: a million rows pay for every layer
  return !options.copyRules && delimiter.length === 1 && !'"\r\n'.includes(delimiter)
    ? plainCsvRows(file, encoding, name, delimiter)
    : parsedCsvRows(file, encoding, name, options);
}

/**
 * csvRows by csv-parse alone, every line: what statements read (copyRules), and the reference
 * the plain-line path is held to (test/csv-rows.test.ts).
 */
export async function* parsedCsvRows(
  file: string, encoding: 'utf8' | 'gbk' | 'auto', name = path.basename(file), options: { copyRules?: boolean; delimiter?: string } = {},
): AsyncGenerator<{ cells: Cell[]; line: number }> {
  const chosen = encoding === 'auto' ? await detectEncoding(file) : encoding;
  // pipeline: an error anywhere (unreadable bytes, the file itself) ends the loop of parsedRecords with it
  yield* parsedRecords(pipeline(
    createReadStream(file), strictDecoder(chosen, name, options.copyRules ?? false),
    // as staging reads Excel's ="0012" (CsvStageFeed): a field whose cell is ="0012"
    ...(options.copyRules ? [excelTexts(options.delimiter ?? ',')] : []),
    parse({
      ...CSV_OPTIONS, delimiter: options.delimiter ?? ',',
      // as staging splits records (CsvStageFeed): LF or CRLF ends a record, mixed in one file; csv-parse
      // would otherwise take the first line's ending as the only one
      ...(options.copyRules ? { record_delimiter: ['\r\n', '\n'] } : {}),
    }),
    () => {},
  ), name);
}

async function* parsedRecords(parser: unknown, name: string): AsyncGenerator<{ cells: Cell[]; line: number }> {
  try {
    for await (const record of parser as unknown as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      // the line a record starts on: csv-parse counts to its end, past line breaks in quoted cells
      yield { cells: record.record, line: record.info.lines - record.record.reduce((n, cell) => n + lineBreaks(cell), 0) };
    }
  } catch (err) {
    // csv-parse's own errors (a stray quote, an unclosed field) are about the file, not about us.
    if (err instanceof CsvError) throw new FileFormatError(name, Math.max(1, Number(err.lines) || 1), `not valid CSV: ${err.message}`);
    throw err;
  }
}

const QUOTE = 0x22;
const CR = 0x0d;
const NL = 0x0a;

/**
 * csvRows for a file that is nearly all plain lines (a supplier's million card codes): a line
 * without a quote is split on the delimiter right from the decoded text, which is all csv-parse
 * does with it, at a fraction of the cost. From the first line that is not that plain on, csv-parse
 * reads the rest of the file, as it would have: a line with a quote in it, or one with a carriage
 * return other than its CRLF ending when the first line ended in CRLF, or any carriage return when
 * it ended in LF (csv-parse takes the first line's ending as the only one, with quirks beyond it).
 * A first line with a quote, or ending in a CR alone, leaves the whole file to csv-parse. The bytes
 * go through the same strict decoder, 64 KB at a time as before, so the rows, their line numbers
 * and the errors are csv-parse's own (test/csv-rows.test.ts compares both on generated files).
 */
async function* plainCsvRows(file: string, encoding: 'utf8' | 'gbk' | 'auto', name: string, delimiter: string): AsyncGenerator<{ cells: Cell[]; line: number }> {
  const decode = textDecoder(encoding === 'auto' ? await detectEncoding(file) : encoding, name, false);
  const input = createReadStream(file);
  const chunks = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let ended = false;
  /** The next piece of the file's text ('' when a chunk ends inside a character); the last when ended. */
  const next = async (): Promise<string> => {
    const chunk = await chunks.next();
    ended = chunk.done === true;
    const text = decode(chunk.done ? undefined : chunk.value);
    if (text instanceof FileFormatError) throw text;
    return text;
  };
  /** The record delimiter csv-parse finds: the first line's ending. */
  let ending: '\n' | '\r\n' | undefined;
  let text = '';
  let pos = 0; // where the first line not read yet starts in text
  let line = 1; // and its number
  let scanned = 0; // how much of the first line was looked at for its ending
  try {
    plain: while (!ended) {
      text = text.slice(pos) + (await next());
      pos = 0;
      if (!ending) {
        let at = scanned;
        for (; at < text.length; at++) {
          const c = text.charCodeAt(at);
          if (c === QUOTE || c === CR || c === NL) break;
        }
        // no line ending in the first megabyte: not a file of short plain lines
        if (at === text.length) {
          scanned = at;
          if (ended || at > 1 << 20) break plain;
          continue;
        }
        const c = text.charCodeAt(at);
        if (c === CR && at + 1 === text.length && !ended) {
          scanned = at;
          continue;
        }
        if (c === QUOTE || (c === CR && text.charCodeAt(at + 1) !== NL)) break plain;
        ending = c === NL ? '\n' : '\r\n';
        if (text.charCodeAt(0) === 0xfeff) pos = 1; // csv-parse's bom: true
      }
      const crlf = ending === '\r\n';
      let quote = text.indexOf('"', pos);
      if (quote < 0) quote = Infinity;
      let cr = text.indexOf('\r', pos);
      if (cr < 0) cr = Infinity;
      for (let nl = text.indexOf('\n', pos); nl >= 0; nl = text.indexOf('\n', pos)) {
        if (quote < nl) break plain;
        let end = nl;
        if (crlf) {
          if (cr !== nl - 1) break plain;
          end = nl - 1;
          cr = text.indexOf('\r', nl);
          if (cr < 0) cr = Infinity;
        } else if (cr < nl) break plain;
        if (end > pos) yield { cells: text.slice(pos, end).split(delimiter), line };
        line++;
        pos = nl + 1;
      }
      if (ended && pos < text.length) {
        // the last line, without an ending
        if (quote < Infinity || cr < Infinity) break plain;
        yield { cells: text.slice(pos).split(delimiter), line };
        pos = text.length;
      }
      // a line of over a megabyte, looked through again at every chunk: csv-parse reads it in one pass
      if (text.length - pos > 1 << 20) break plain;
    }
    if (ended && pos >= text.length) return;
    // csv-parse from here: as it would be after the lines before, which padding with empty lines
    // (skipped, but counted) gives its line numbers and error messages
    const first = ending ? ending.repeat(line - 1) + text.slice(pos) : text;
    const rest = async function* () {
      yield first;
      while (!ended) {
        const piece = await next();
        if (piece) yield piece;
      }
    };
    yield* parsedRecords(pipeline(
      Readable.from(rest(), { objectMode: false }),
      parse({ ...CSV_OPTIONS, delimiter, ...(ending ? { record_delimiter: ending } : {}) }),
      () => {},
    ), name);
  } finally {
    input.destroy();
  }
}

/**
 * Bytes to text, refusing bytes that are not the encoding, as statement staging does: a lenient
 * decoder's U+FFFD would let this reader accept a file that reconciliation then refuses. decode()
 * takes the chunks in order, then undefined for the end; a problem comes back as the error.
 */
export function textDecoder(encoding: 'utf8' | 'gbk', name: string, copyRules: boolean) {
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  // as statement staging decodes GBK (utf8Lines): the platform's decoder when there is one
  const platform = (() => { try { return new TextDecoder('gbk'); } catch { return undefined; } })();
  const lite = iconv.getDecoder('gbk');
  const gbk = platform
    ? { write: (chunk: Buffer) => platform.decode(chunk, { stream: true }), end: () => platform.decode() }
    : lite;
  const copy = copyRules ? copyChecker(name) : undefined;
  let line = 1;
  let endsWithCr = false;
  return (chunk: Buffer | undefined): string | FileFormatError => {
    let text: string;
    try {
      text = encoding === 'utf8' ? utf8.decode(chunk, { stream: chunk !== undefined }) : chunk ? gbk.write(chunk) : gbk.end() ?? '';
    } catch {
      // where: the first replacement character a lenient decoding of the chunk gives
      const lenient = chunk ? iconv.decode(chunk, 'utf8') : '';
      return new FileFormatError(name, line + newlines(lenient.slice(0, Math.max(0, lenient.indexOf('\uFFFD')))), 'bytes that are not valid UTF-8');
    }
    const bad = encoding === 'gbk' ? text.indexOf('\uFFFD') : -1; // GBK has no U+FFFD of its own
    if (bad >= 0) return new FileFormatError(name, line + newlines(text.slice(0, bad)), 'bytes that are not valid GBK');
    const refused = copy?.(text, line);
    if (refused) return refused;
    line += newlines(text);
    if (text) endsWithCr = text.endsWith('\r');
    // a file cut after the CR of its last CRLF: staging ends that record, so does this
    return chunk === undefined && copy && endsWithCr ? `${text}\n` : text;
  };
}

function strictDecoder(encoding: 'utf8' | 'gbk', name: string, copyRules: boolean): Transform {
  const decode = textDecoder(encoding, name, copyRules);
  const finish = (text: string | FileFormatError, done: TransformCallback) => (text instanceof FileFormatError ? done(text) : done(null, text || undefined));
  return new Transform({
    decodeStrings: true,
    transform: (chunk: Buffer, _encoding, done) => finish(decode(chunk), done),
    flush: (done) => finish(decode(undefined), done),
  });
}

/** A whole piece of a file (a statement's header) decoded by the rules csvRows reads it by with copyRules. */
export function decodeStrictly(bytes: Buffer, encoding: 'utf8' | 'gbk', name: string): string {
  const decode = textDecoder(encoding, name, true);
  const parts = [decode(bytes), decode(undefined)];
  for (const part of parts) if (part instanceof FileFormatError) throw part;
  return parts.join('');
}

/**
 * What staging (CsvStageFeed, which ends records at LF or CRLF outside quotes) refuses and
 * csv-parse would take: a NUL anywhere, and a carriage return outside quotes that does not end a line.
 */
function copyChecker(name: string): (text: string, line: number) => FileFormatError | undefined {
  let inQuotes = false;
  let pendingCr = false;
  return (text, line) => {
    const nul = text.indexOf('\u0000');
    if (nul >= 0) return new FileFormatError(name, line + newlines(text.slice(0, nul)), 'a NUL byte: this is not a text file');
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (pendingCr) {
        pendingCr = false;
        if (c !== 0x0a) return new FileFormatError(name, line + newlines(text.slice(0, i)), 'a carriage return outside quotes that does not end a line');
      }
      if (c === 0x22) inQuotes = !inQuotes;
      else if (c === 0x0d && !inQuotes) pendingCr = true;
    }
    return undefined; // a CR as the very last byte is a CRLF cut short: the decoder ends the record
  };
}

/**
 * Excel's way of keeping a number as text in a CSV file, ="0012" (a quote after an equals sign
 * opening a field), rewritten as the quoted field "=""0012""" whose cell is ="0012", which
 * csv-parse reads (it refuses a quote in an unquoted field), as staging reads it (CsvStageFeed).
 * Jumps from quote to quote.
 */
export function excelTexts(delimiter: string): Transform {
  let inQuotes = false;
  let tail = '\n\n';
  let carry = '';
  const rewrite = (chunk: string, final: boolean): string => {
    let text = carry + chunk;
    carry = '';
    // an equals sign at the end may open an Excel field in the next chunk: keep it until then
    if (!final && text.endsWith('=')) {
      carry = '=';
      text = text.slice(0, -1);
    }
    let out = '';
    let from = 0;
    const at = (i: number) => (i >= 0 ? text[i] : tail[tail.length + i]);
    for (let q = text.indexOf('"'); q !== -1; q = text.indexOf('"', q + 1)) {
      if (inQuotes) {
        inQuotes = false; // a closing quote, or the first of a doubled one (the second opens again)
        continue;
      }
      const start = at(q - 2);
      if (at(q - 1) !== '=' || !(start === delimiter || start === '\n')) {
        inQuotes = true;
        continue;
      }
      let close = q + 1;
      for (;;) {
        close = text.indexOf('"', close);
        if (close === -1 || (close + 1 >= text.length && !final)) break;
        if (text[close + 1] === '"') close += 2;
        else break;
      }
      if (close === -1 || (close + 1 >= text.length && !final)) {
        if (final) { inQuotes = true; break; } // never closed: csv-parse says so
        // the field goes on in the next chunk: keep it, from its equals sign
        carry = text.slice(q - 1);
        out += text.slice(from, q - 1);
        from = text.length;
        break;
      }
      out += `${text.slice(from, q - 1)}"=""${text.slice(q + 1, close)}"""`;
      from = close + 1;
      q = close;
    }
    out += text.slice(from);
    if (out) tail = (tail + out).slice(-2);
    return out;
  };
  return new Transform({
    decodeStrings: false,
    transform: (chunk: Buffer | string, _encoding, done) => done(null, rewrite(String(chunk), false) || undefined),
    flush: (done) => done(null, carry ? rewrite('', true) || undefined : undefined),
  });
}

/** Line breaks in a cell as CSV readers count them: LF, CRLF, or a CR alone. */
export function lineBreaks(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a || (c === 0x0d && text.charCodeAt(i + 1) !== 0x0a)) n++;
  }
  return n;
}

const newlines = (text: string) => {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
};

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

export async function* xlsxRows(
  file: string, name = path.basename(file),
  /** isHeader: read the first sheet whose first rows hold a row it accepts (the first sheet when none does). */
  options: { stallMs?: number; isHeader?: (cells: Cell[]) => boolean } = {},
): AsyncGenerator<{ cells: Cell[]; line: number }> {
  const stallMs = options.stallMs ?? XLSX_STALL_MS;
  for (let attempt = 1; ; attempt++) {
    let rowsRead = 0;
    try {
      for await (const row of firstSheetRows(file, stallMs, options.isHeader)) {
        rowsRead++;
        yield row;
      }
      return;
    } catch (err) {
      // unzipper can end its list of a workbook's parts early when the end of the file races its
      // parser, and exceljs then fails with a TypeError on the parts it never saw (about one read in
      // 500): when not a row was read yet, reading again is safe.
      if (rowsRead === 0 && attempt < 3 && err instanceof TypeError) continue;
      throw new FileFormatError(name, 0, `not a readable XLSX workbook: ${(err as Error).message}`);
    }
  }
}

async function* firstSheetRows(file: string, stallMs: number, isHeader?: (cells: Cell[]) => boolean): AsyncGenerator<{ cells: Cell[]; line: number }> {
  // loaded when a workbook is read: about 20 MB of memory a process that reads only CSV never needs
  const { default: excel } = await import('exceljs');
  const input = createReadStream(file);
  const damaged = partErrors(input);
  const reader = new excel.stream.xlsx.WorkbookReader(input, { entries: 'emit', sharedStrings: 'cache', styles: 'cache', hyperlinks: 'ignore', worksheets: 'emit' });
  const step = <T>(next: Promise<T>) => withinStall(Promise.race([next, damaged]), stallMs);
  const HEAD_ROWS = 20;
  try {
    const sheets = (reader as AsyncIterable<AsyncIterable<ExcelJS.Row>>)[Symbol.asyncIterator]();
    let firstHead: { cells: Cell[]; line: number }[] | undefined;
    for (;;) {
      const sheet = await step(sheets.next());
      if (sheet.done) {
        // no sheet has a header: the first one's rows, for the reader to say what it found
        if (firstHead) yield* firstHead;
        return;
      }
      const rows = sheet.value[Symbol.asyncIterator]();
      const head: { cells: Cell[]; line: number }[] = [];
      let ended = false;
      while (head.length < (isHeader ? HEAD_ROWS : 0)) {
        const next = await step(rows.next());
        if (next.done) { ended = true; break; }
        head.push({ cells: (next.value.values as unknown[]).slice(1).map(toCell), line: next.value.number });
      }
      if (isHeader && !head.some((r) => isHeader(r.cells))) {
        firstHead ??= head;
        if (!ended) for (;;) if ((await step(rows.next())).done) break; // the next sheet comes after this one's rows
        continue;
      }
      yield* head;
      if (ended) return;
      for (;;) {
        const next = await step(rows.next());
        if (next.done) return;
        const values = (next.value.values as unknown[]).slice(1); // exceljs rows are 1-based
        yield { cells: values.map(toCell), line: next.value.number };
      }
    }
  } finally {
    input.destroy();
  }
}

/**
 * unzipper reports a damaged part (deflate data that does not inflate) as an error on its parse
 * stream, which exceljs does not listen to: it would wait for that part forever. exceljs pipes our
 * input into that stream, so listen to it there.
 */
function partErrors(input: ReadStream): Promise<never> {
  const failed = new Promise<never>((_, reject) => {
    const pipe = input.pipe.bind(input);
    input.pipe = (<T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean }): T => {
      destination.on('error', reject);
      return pipe(destination, options);
    }) as typeof input.pipe;
  });
  failed.catch(() => undefined); // also after the reading is over
  return failed;
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

