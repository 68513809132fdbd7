import { Transform, type TransformCallback } from 'node:stream';

const NL = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const COMMA = 0x2c;

/** A quote where CSV allows none: COPY would read on, quoting differently from any CSV reader. */
export class StrayQuoteError extends Error {}

/**
 * Feeds a CSV file's bytes to PostgreSQL's COPY with each record's file line number put in front
 * as an extra first field, so every problem found later in SQL can be reported as file:line.
 * Blank lines are dropped, CRLF becomes LF, and quoted fields may span lines (the record keeps the
 * number of the line it starts on). Works on bytes: in UTF-8 and GBK alike, '"', '\r' and '\n'
 * never occur inside a multi-byte character, so nothing needs decoding here.
 */
export class NumberedRecords extends Transform {
  private line: number;
  private carry: Buffer | undefined;
  private inQuotes = false;
  /** Inside a quoted field, by the CSV rules (a quote opens a field or closes it, "" is a quote). */
  private open = false;
  records = 0;

  constructor(firstLine: number, private readonly onRecords?: (records: number) => void, private readonly strictQuotes = false) {
    super();
    this.line = firstLine;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const data = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = undefined;
    const lastNl = data.lastIndexOf(NL);
    if (lastNl === -1) {
      this.carry = data;
      return done();
    }
    try {
      if (this.strictQuotes) this.checkQuotes(data, lastNl + 1);
    } catch (err) {
      return done(err as Error);
    }
    this.push(this.number(data, lastNl + 1));
    if (lastNl + 1 < data.length) this.carry = data.subarray(lastNl + 1);
    this.onRecords?.(this.records);
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.carry?.length) {
      const last = Buffer.concat([this.carry, Buffer.from([NL])]);
      this.carry = undefined;
      try {
        if (this.strictQuotes) this.checkQuotes(last, last.length);
      } catch (err) {
        return done(err as Error);
      }
      this.push(this.number(last, last.length));
    }
    this.onRecords?.(this.records);
    done();
  }

  /**
   * Refuses a quote in the middle of an unquoted field, or a closing quote followed by more than a
   * separator: COPY would quote on from there, so the file would read differently here and in the
   * streaming reader (which refuses it, and then says where). data[0, end) starts at a line start.
   */
  private checkQuotes(data: Buffer, end: number): void {
    for (let q = data.indexOf(QUOTE); q !== -1 && q < end; q = data.indexOf(QUOTE, q + 1)) {
      if (!this.open) {
        const before = q === 0 ? NL : data[q - 1];
        if (before !== COMMA && before !== NL) throw new StrayQuoteError('a quote in the middle of a field');
        this.open = true;
      } else if (data[q + 1] === QUOTE) {
        q++; // "" stands for one quote
      } else {
        const after = data[q + 1];
        if (after !== COMMA && after !== NL && after !== CR) throw new StrayQuoteError('a closing quote followed by more than a separator');
        this.open = false;
      }
    }
  }

  /** Numbers the complete lines in data[0, end). */
  private number(data: Buffer, end: number): Buffer {
    let lines = 0;
    for (let p = data.indexOf(NL); p !== -1 && p < end; p = data.indexOf(NL, p + 1)) lines++;
    const out = Buffer.allocUnsafe(end + lines * 12);
    let o = 0;
    let pos = 0;
    // the next quote at or after pos: searched once, not once per line (most statements have none)
    let nextQuote = data.indexOf(QUOTE);
    while (pos < end) {
      const nl = data.indexOf(NL, pos);
      let stop = nl;
      const continuing = this.inQuotes;
      let quotes = 0;
      while (nextQuote !== -1 && nextQuote < nl) {
        quotes++;
        nextQuote = data.indexOf(QUOTE, nextQuote + 1);
      }
      if (quotes % 2 === 1) this.inQuotes = !this.inQuotes;
      if (!this.inQuotes && stop > pos && data[stop - 1] === CR) stop--;
      if (!continuing && stop === pos) {
        // a blank line between records
        this.line++;
        pos = nl + 1;
        continue;
      }
      if (!continuing) {
        o += out.write(`${this.line},`, o, 'latin1');
        this.records++;
      }
      o += data.copy(out, o, pos, stop);
      out[o++] = NL;
      this.line++;
      pos = nl + 1;
    }
    return out.subarray(0, o);
  }
}

/** Byte offset just past the first record (the header), and its line count; quote-aware. */
export function headerEnd(head: Buffer): { end: number; lines: number } | undefined {
  let inQuotes = false;
  let lines = 0;
  for (let i = 0; i < head.length; i++) {
    const b = head[i];
    if (b === QUOTE) inQuotes = !inQuotes;
    else if (b === NL) {
      lines++;
      if (!inQuotes) return { end: i + 1, lines };
    }
  }
  return undefined;
}
