import { copyText } from '../../db/copy-text.ts';
import type { Cell } from '../../files/tabular.ts';
import type { ColumnIndex } from './columns.ts';
import { StatementFormatError, type StatementProblem } from './errors.ts';
import { DEFAULT_PROFILE, type StatementProfile } from './profile.ts';
import { grammarOf, StatementBody, type Grammar, type StatementLine } from './rows.ts';

/**
 * The stage table a statement is loaded into: one row per line and our reference it lists (a line
 * covering several of our orders gives several rows). The line's amount is on its first
 * reference's row only (their_fen), so sums over rows count each line once. ref_seen says that the
 * reference may have been on an earlier row (RefFilter): false means it certainly was not.
 */
export const STAGE_TABLE = `
  CREATE TEMP TABLE stmt (
    line_no int NOT NULL, line_refs int NOT NULL, supplier_txn_id text NOT NULL, ref text NOT NULL, sku text NOT NULL,
    quantity int NOT NULL, line_fen bigint NOT NULL, their_fen bigint, success boolean NOT NULL, at_ms bigint NOT NULL,
    ref_seen boolean NOT NULL
  ) ON COMMIT DROP`;

/** A stage timestamp (epoch milliseconds) as timestamptz, exactly. */
export const stageTime = (column: string) => `(timestamptz 'epoch' + ${column} * interval '1 millisecond')`;

const MAX_PROBLEMS = 100;

/**
 * Checks statement rows by the statement grammar (checkRow, which the streaming reader also uses)
 * and writes each line as COPY text rows of the stage table. Problems are collected, file:line
 * and column, up to MAX_PROBLEMS; after the first one nothing more is written, since the file
 * will be refused as a whole.
 */
export class StageRows {
  readonly problems: StatementProblem[] = [];
  totalProblems = 0;
  /** Statement lines accepted (blank rows are not lines). */
  lines = 0;
  /** The references staged so far. */
  readonly refs = new RefFilter();
  readonly g: Grammar;
  /** Footers, notes and the control totals' figures. */
  readonly body: StatementBody;
  /** Refund and processing lines: not sales, so not staged; reconciliation classifies them on their own. */
  readonly side: StatementLine[] = [];

  constructor(
    readonly file: string,
    readonly header: string[],
    readonly index: ColumnIndex,
    /** CSV rows must be as wide as the header (COPY-style); XLSX rows stop at their last cell. */
    fixedWidth: boolean,
    profile: StatementProfile = DEFAULT_PROFILE,
  ) {
    this.g = grammarOf(file, header, index, profile);
    this.body = new StatementBody(this.g, fixedWidth);
  }

  get refused(): boolean {
    return this.totalProblems > 0;
  }

  /** A row as the file gave it: its COPY text, or '' (blank, or bad and recorded as a problem). */
  row(cells: Cell[], line: number): string {
    const checked = this.body.read(cells, line);
    if (!checked) return '';
    if ('problems' in checked) {
      for (const p of checked.problems) this.problem(p);
      return '';
    }
    const v = checked.value;
    // PostgreSQL text cannot hold NUL (a CSV file with one is refused before this; a workbook's cell can hold one)
    const withNul = (['supplierTxnId', 'sku'] as const).find((f) => v[f].includes('\u0000')) ?? (v.merchantOrderNos.some((r) => r.includes('\u0000')) ? 'merchantOrderNo' : undefined);
    if (withNul) {
      const at = this.index[withNul] >= 0 ? this.index[withNul] : this.index.supplierTxnId;
      this.problem({ file: this.file, line, column: this.header[at], columnNumber: at + 1, message: 'holds a NUL character' });
      return '';
    }
    return this.line(v);
  }

  /** An accepted line's COPY text. */
  line(v: StatementLine): string {
    this.lines++;
    if (this.refused) return '';
    if (v.status === 'refund' || v.status === 'processing') {
      this.side.push(v);
      return '';
    }
    const refs = v.merchantOrderNos;
    const rest = `\t${copyText(v.sku)}\t${v.quantity}\t${v.amountFen}`;
    const tail = `\t${v.status === 'success' ? 't' : 'f'}\t${v.completedAt.getTime()}\t`;
    let out = '';
    for (let i = 0; i < refs.length; i++) {
      const bytes = Buffer.from(refs[i]!, 'utf8');
      const seen = this.refs.add(bytes, 0, bytes.length) ? 't' : 'f';
      out += `${v.line}\t${refs.length}\t${copyText(v.supplierTxnId)}\t${copyText(refs[i]!)}${rest}\t${i === 0 ? v.amountFen : '\\N'}${tail}${seen}\n`;
    }
    return out;
  }

  problem(p: StatementProblem): void {
    this.totalProblems++;
    if (this.problems.length < MAX_PROBLEMS) this.problems.push(p);
  }

  /** Throws the file's problems, if it had any. */
  finish(): void {
    if (this.refused) throw new StatementFormatError(this.file, this.problems, this.totalProblems);
  }
}

/** 32-bit FNV-1a, the hash RefFilter keeps references by. */
export const FNV_OFFSET = 0x811c9dc5;
export const FNV_PRIME = 0x01000193;

/**
 * Which references a statement has listed so far, approximately: a bit per hash of a reference's
 * bytes (FNV-1a), 2^24 bits (2 MB, small enough to stay in cache). A reference it has not seen is
 * certainly new, so matching needs to look for duplicate lines only among the rows it flags
 * (false positives: about 3% of a million distinct references), instead of grouping every row.
 */
export class RefFilter {
  private readonly bits = new Uint32Array(1 << 19);

  /** Adds the reference in b[from, to); whether one with its hash was added before. */
  add(b: Uint8Array, from: number, to: number): boolean {
    let h = FNV_OFFSET;
    for (let i = from; i < to; i++) h = Math.imul(h ^ b[i]!, FNV_PRIME);
    return this.addHash(h >>> 0);
  }

  /** Adds a reference by its 32-bit FNV-1a hash. */
  addHash(hash: number): boolean {
    const bit = hash >>> 8;
    const word = bit >>> 5;
    const mask = 1 << (bit & 31);
    const seen = (this.bits[word]! & mask) !== 0;
    this.bits[word] = this.bits[word]! | mask;
    return seen;
  }
}
