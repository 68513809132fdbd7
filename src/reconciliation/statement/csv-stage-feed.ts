import { Transform, type TransformCallback } from 'node:stream';
import { lineBreaks } from '../../files/tabular.ts';
import { CsvStructureError } from './errors.ts';
import { wallClockToInstant } from './profile.ts';
import { digits, sameBytes, writeNumber, writeSmall, yuan } from './ascii-bytes.ts';
import { FNV_OFFSET, FNV_PRIME, type StageRows } from './stage-rows.ts';

const NL = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const TAB = 0x09;
const BACKSLASH = 0x5c;
const PIPE = 0x7c;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const PLUS = 0x2b;
const EXCEL_OPEN = Buffer.from('="');
const EXCEL_CLOSE = Buffer.from('"');

/**
 * A CSV statement's body (its UTF-8 bytes after the header, from utf8Lines) to COPY text rows of
 * the stage table. Records are split here by the rules the streaming reader reads CSV by: LF or
 * CRLF ends a record, blank lines are skipped, a quoted field may hold commas, quotes ("") and
 * line breaks (LF, CRLF or a CR alone, each a line); a quote anywhere else, or a CR that does not
 * end a line, is refused. Each record keeps the file line it starts on.
 *
 * Nearly every line of a real statement is plain: no quotes, cells that need no trimming, an
 * amount like 48.50 and a time like 2026-11-24 23:59:58. Those are typed here byte by byte, which
 * is what lets a million lines through in well under a second. Every other record goes to
 * StageRows.row, the statement grammar itself, so the fast path takes only what the grammar takes
 * and types it the same way.
 */
export class CsvStageFeed extends Transform {
  private carry: Buffer | undefined;
  private line: number;
  private readonly width: number;
  private readonly cuts: Int32Array;
  private readonly txn: number;
  private readonly ref: number;
  private readonly sku: number;
  private readonly quantity: number;
  private readonly amount: number;
  private readonly status: number;
  private readonly completedAt: number;
  private readonly kind: number;
  private readonly statuses: { bytes: Buffer; flag: number }[] = [];
  /** Kinds (交易类型) seen: whether each is a refund or reversal, which only the grammar writes. */
  private readonly kinds: { bytes: Buffer; refund: boolean }[] = [];
  /** Start of each Shanghai day (epoch ms) by its yyyymmdd; NaN for a day that does not exist. */
  private readonly days = new Map<number, number>();
  private out = Buffer.allocUnsafe(1 << 20);
  private o = 0;

  private readonly sep: number;
  private readonly fen: boolean;
  private readonly quantityDefault: number;
  /** Only Asia/Shanghai's times (no daylight saving) are typed here; other zones' go to the grammar. */
  private readonly shanghai: boolean;

  constructor(private readonly rows: StageRows, firstLine: number, private readonly onLines?: (lines: number) => void, separator = ',') {
    super();
    this.line = firstLine;
    this.sep = separator.charCodeAt(0);
    this.width = rows.header.length;
    // cuts[-1] is never read: a missing column's index is -1, handled before its cut is
    this.cuts = new Int32Array(this.width + 1);
    ({ supplierTxnId: this.txn, merchantOrderNo: this.ref, sku: this.sku, quantity: this.quantity, amount: this.amount, status: this.status, completedAt: this.completedAt, kind: this.kind } = rows.index);
    // without our reference column, the supplier's id stands for it
    if (this.ref < 0) this.ref = this.txn;
    this.fen = rows.g.unit === 'fen';
    this.quantityDefault = rows.g.profile.quantityDefault;
    this.shanghai = rows.g.profile.timeZone === 'Asia/Shanghai';
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const data = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = undefined;
    this.feed(data, false, done);
  }

  override _flush(done: TransformCallback): void {
    if (!this.carry) return done();
    const data = this.carry;
    this.carry = undefined;
    this.feed(data, true, done);
  }

  private feed(data: Buffer, final: boolean, done: TransformCallback): void {
    let used: number;
    try {
      used = this.records(data, final);
    } catch (err) {
      return done(err as Error);
    }
    if (used < data.length) this.carry = data.subarray(used);
    if (this.o > 0) {
      this.push(Buffer.from(this.out.subarray(0, this.o)));
      this.o = 0;
    }
    this.onLines?.(this.rows.lines);
    done();
  }

  /** Consumes the complete records in b (all of it when final); returns how many bytes that took. */
  private records(b: Buffer, final: boolean): number {
    const len = b.length;
    const width = this.width;
    const cuts = this.cuts;
    const sep = this.sep; // a local: read for every byte
    let pos = 0;
    while (pos < len) {
      cuts[0] = pos - 1;
      let k = 1;
      let crs = 0;
      let cr = -1;
      let quote = false;
      let i = pos;
      for (; i < len; i++) {
        const c = b[i]!;
        if (c === sep) {
          if (k < width) cuts[k] = i;
          k++;
        } else if (c === NL) break;
        else if (c === QUOTE) {
          quote = true;
          break;
        } else if (c === CR) {
          crs++;
          cr = i;
        }
      }
      if (quote) {
        const record = this.quoted(b, pos, final);
        if (!record) break;
        this.text(this.rows.row(record.cells, this.line));
        this.line += record.lines;
        pos = record.end;
        continue;
      }
      if (i >= len && !final) break;
      const end = crs === 1 && cr === i - 1 ? i - 1 : i;
      if (crs > 1 || (crs === 1 && cr !== end)) throw new CsvStructureError('a carriage return outside quotes that does not end a line');
      if (end > pos) {
        if (k !== width || !this.plain(b, pos, end)) this.text(this.rows.row(b.toString('utf8', pos, end).split(String.fromCharCode(this.sep)), this.line));
      }
      this.line++;
      pos = i + 1;
    }
    return Math.min(pos, len);
  }

  /**
   * One record starting at pos that has a quote in it: its cells, where it ends, and how many
   * lines it spans; undefined when it does not end within b yet.
   */
  private quoted(b: Buffer, pos: number, final: boolean): { cells: string[]; end: number; lines: number } | undefined {
    const cells: string[] = [];
    const len = b.length;
    let i = pos;
    let lines = 1;
    for (;;) {
      // Excel's ="0012" (a number kept as text) is a quoted field after an equals sign: its cell reads ="0012"
      const excel = i + 1 < len && b[i] === EQUALS && b[i + 1] === QUOTE;
      if (excel || (i < len && b[i] === QUOTE)) {
        const parts: Buffer[] = excel ? [EXCEL_OPEN] : [];
        if (excel) i++;
        let from = i + 1;
        for (;;) {
          const q = b.indexOf(QUOTE, from);
          if (q === -1 || (q + 1 >= len && !final)) {
            if (final && q === -1) throw new CsvStructureError('a quoted field is not closed');
            return undefined;
          }
          if (b[q + 1] === QUOTE) {
            parts.push(b.subarray(from, q + 1));
            from = q + 2;
            continue;
          }
          parts.push(b.subarray(from, q));
          if (excel) parts.push(EXCEL_CLOSE);
          i = q + 1;
          break;
        }
        const cell = Buffer.concat(parts).toString('utf8');
        lines += lineBreaks(cell);
        cells.push(cell);
        const after = i < len ? b[i] : NL;
        if (after === this.sep) {
          i++;
          continue;
        }
        if (after === NL) return { cells, end: i + 1, lines };
        if (after === CR) {
          if (i + 1 >= len && !final) return undefined;
          if (i + 1 >= len || b[i + 1] === NL) return { cells, end: i + 2, lines };
        }
        throw new CsvStructureError('a closing quote followed by more than a separator');
      }
      // an unquoted cell: to the next comma or the end of the line
      let stop = i;
      for (; stop < len; stop++) {
        const c = b[stop];
        if (c === this.sep || c === NL) break;
        if (c === QUOTE) throw new CsvStructureError('a quote in the middle of a field');
      }
      if (stop >= len && !final) return undefined;
      const lineEnd = stop >= len || b[stop] === NL;
      const cellEnd = lineEnd && stop > i && b[stop - 1] === CR ? stop - 1 : stop;
      if (b.subarray(i, cellEnd).includes(CR)) throw new CsvStructureError('a carriage return outside quotes that does not end a line');
      cells.push(b.toString('utf8', i, cellEnd));
      if (lineEnd) return { cells, end: stop + 1, lines };
      i = stop + 1;
    }
  }

  /** Types a plain line into the output; false when it needs the grammar (StageRows.row). */
  private plain(b: Buffer, start: number, end: number): boolean {
    const cuts = this.cuts;
    cuts[this.width] = end;
    if (this.completedAt < 0 || !this.shanghai) return false;
    const refFrom = cuts[this.ref]! + 1;
    const refTo = cuts[this.ref + 1]!;
    const txnFrom = this.txn < 0 ? refFrom : cuts[this.txn]! + 1;
    const txnTo = this.txn < 0 ? refTo : cuts[this.txn + 1]!;
    const skuFrom = this.sku < 0 ? 0 : cuts[this.sku]! + 1;
    const skuTo = this.sku < 0 ? 0 : cuts[this.sku + 1]!;
    if (!plainText(b, txnFrom, txnTo) || (this.sku >= 0 && !plainText(b, skuFrom, skuTo))) return false;
    const refHash = plainReference(b, refFrom, refTo);
    if (refHash === -1) return false;
    const quantity = this.quantity < 0 ? this.quantityDefault : digits(b, cuts[this.quantity]! + 1, cuts[this.quantity + 1]!, 9);
    if (!(quantity >= 1)) return false;
    const fen = this.fen ? digits(b, cuts[this.amount]! + 1, cuts[this.amount + 1]!, 15) : yuan(b, cuts[this.amount]! + 1, cuts[this.amount + 1]!);
    if (Number.isNaN(fen)) return false;
    const status = this.status < 0 ? 0x74 : this.statusFlag(b, cuts[this.status]! + 1, cuts[this.status + 1]!);
    if (status === 0) return false;
    if (this.kind >= 0 && this.refundKind(b, cuts[this.kind]! + 1, cuts[this.kind + 1]!)) return false;
    const ms = this.time(b, cuts[this.completedAt]! + 1, cuts[this.completedAt + 1]!);
    if (!(ms >= 0)) return false; // before 1970 (or not a time): the grammar's path writes it

    const body = this.rows.body;
    if (status === 0x74) {
      body.count.success++;
      body.fen.success += fen;
    } else {
      body.count.failed++;
      body.fen.failed += fen;
    }
    this.rows.lines++;
    if (this.rows.refused) return true;
    this.room(end - start + 96);
    const out = this.out;
    let o = this.o;
    o = writeNumber(out, o, this.line);
    out[o++] = TAB;
    out[o++] = 0x31; // one reference
    out[o++] = TAB;
    for (let i = txnFrom; i < txnTo; i++) out[o++] = b[i]!;
    out[o++] = TAB;
    for (let i = refFrom; i < refTo; i++) out[o++] = b[i]!;
    out[o++] = TAB;
    for (let i = skuFrom; i < skuTo; i++) out[o++] = b[i]!;
    out[o++] = TAB;
    o = writeNumber(out, o, quantity);
    out[o++] = TAB;
    const fenAt = o;
    o = writeNumber(out, o, fen);
    const fenEnd = o;
    out[o++] = TAB;
    for (let i = fenAt; i < fenEnd; i++) out[o++] = out[i]!; // the line's amount again, as its first reference's
    out[o++] = TAB;
    out[o++] = status;
    out[o++] = TAB;
    // whole seconds: their digits, then three zeros (a small integer until 2038 is quick to write)
    const seconds = ms / 1000;
    if (seconds < 0x80000000) {
      o = writeSmall(out, o, seconds);
      out[o++] = 0x30;
      out[o++] = 0x30;
      out[o++] = 0x30;
    } else {
      o = writeNumber(out, o, ms);
    }
    out[o++] = TAB;
    out[o++] = this.rows.refs.addHash(refHash) ? 0x74 : 0x66;
    out[o++] = NL;
    this.o = o;
    return true;
  }

  /** COPY text from the grammar's path. */
  private text(copy: string): void {
    if (!copy) return;
    this.room(Buffer.byteLength(copy));
    this.o += this.out.write(copy, this.o, 'utf8');
  }

  private room(bytes: number): void {
    if (this.o + bytes <= this.out.length) return;
    if (this.o > 0) this.push(Buffer.from(this.out.subarray(0, this.o)));
    this.o = 0;
    if (bytes > this.out.length) this.out = Buffer.allocUnsafe(bytes);
  }

  /** 't' or 'f' for a status word as written; 0 when it needs the grammar. */
  private statusFlag(b: Buffer, a: number, z: number): number {
    for (const known of this.statuses) {
      if (sameBytes(known.bytes, b, a, z)) return known.flag;
    }
    const text = b.toString('utf8', a, z);
    const meaning = text === text.trim() ? this.rows.g.status(text) : undefined;
    const flag = meaning === 'success' ? 0x74 : meaning === 'failed' ? 0x66 : 0;
    if (this.statuses.length < 16) this.statuses.push({ bytes: Buffer.from(b.subarray(a, z)), flag });
    return flag;
  }

  /** Whether a kind cell may make the line a refund (or is not plain): then the grammar reads the line. */
  private refundKind(b: Buffer, a: number, z: number): boolean {
    for (const known of this.kinds) {
      if (sameBytes(known.bytes, b, a, z)) return known.refund;
    }
    const text = b.toString('utf8', a, z);
    const refund = text !== text.trim() || this.rows.g.status(text) === 'refund';
    if (this.kinds.length < 16) this.kinds.push({ bytes: Buffer.from(b.subarray(a, z)), refund });
    return refund;
  }

  /** "2026-11-24 23:59:58", Shanghai time, as epoch ms (the grammar's usual form); NaN for anything else. */
  private time(b: Buffer, a: number, z: number): number {
    if (z - a !== 19 || b[a + 4] !== 0x2d || b[a + 7] !== 0x2d || b[a + 10] !== 0x20 || b[a + 13] !== 0x3a || b[a + 16] !== 0x3a) return NaN;
    const h = digits(b, a + 11, a + 13, 2);
    const m = digits(b, a + 14, a + 16, 2);
    const s = digits(b, a + 17, a + 19, 2);
    if (!(h <= 23 && m <= 59 && s <= 59)) return NaN;
    const y = digits(b, a, a + 4, 4);
    const mo = digits(b, a + 5, a + 7, 2);
    const d = digits(b, a + 8, a + 10, 2);
    const key = y * 10_000 + mo * 100 + d;
    if (Number.isNaN(key)) return NaN;
    let start = this.days.get(key);
    if (start === undefined) {
      const day = new Date(Date.UTC(2000, mo - 1, d));
      day.setUTCFullYear(y, mo - 1, d);
      start = y >= 1 && day.getUTCMonth() === mo - 1 && day.getUTCDate() === d ? wallClockToInstant(day.getTime(), 'Asia/Shanghai') : NaN;
      if (this.days.size > 1000) this.days.clear();
      this.days.set(key, start);
    }
    return start + ((h * 60 + m) * 60 + s) * 1000;
  }
}

/**
 * A cell that needs no trimming and no escaping for COPY: printable ASCII at both ends, no tab or
 * backslash inside.
 */
function plainText(b: Buffer, a: number, z: number): boolean {
  if (z <= a) return false;
  const first = b[a]!;
  const last = b[z - 1]!;
  if (first <= 0x20 || first >= 0x7f || last <= 0x20 || last >= 0x7f) return false;
  for (let i = a; i < z; i++) {
    const c = b[i];
    if (c === BACKSLASH || c === TAB) return false;
  }
  return true;
}

/** A plain cell (plainText) holding one reference, no separator (| or ;): its RefFilter hash; -1 if not. */
function plainReference(b: Buffer, a: number, z: number): number {
  if (z <= a) return -1;
  const first = b[a]!;
  const last = b[z - 1]!;
  if (first <= 0x20 || first >= 0x7f || last <= 0x20 || last >= 0x7f) return -1;
  let h = FNV_OFFSET;
  for (let i = a; i < z; i++) {
    const c = b[i]!;
    // a plus: perhaps 1.23457E+17, which the grammar refuses
    if (c === BACKSLASH || c === TAB || c === PIPE || c === SEMICOLON || c === PLUS) return -1;
    h = Math.imul(h ^ c, FNV_PRIME);
  }
  return h >>> 0;
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
