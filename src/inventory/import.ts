import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { Knex } from 'knex';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { assertBusinessDate, businessDateOf } from '../dates.ts';
import { copyText } from '../db/copy-text.ts';
import type { Db } from '../db/knex.ts';
import { csvRows, FileFormatError, xlsxRows, type Cell } from '../files/tabular.ts';
import { ValidationError } from '../errors.ts';
import { assertFen, type Fen } from '../money.ts';
import { DEFAULT_CARD_IMPORT, type CardImportSettings } from '../config.ts';
import type { CodeVault } from './codes.ts';
import type { SealJob, SealPool } from './seal-pool.ts';
import { ImportRejectedError, type ImportProblem } from './errors.ts';

export interface CodeRow {
  line: number;
  sku: string;
  serial: string;
  code: string;
  /** YYYY-MM-DD, or empty for codes that do not expire. */
  expiresOn: string;
}

export interface ImportRequest {
  /** Idempotency: a batch key imported before returns that batch and adds nothing. */
  batchKey: string;
  sku: string;
  unitCostFen: Fen;
  source: 'supplier_delivery' | 'file';
  supplierId?: number;
  fileName: string;
  rows: AsyncIterable<CodeRow>;
  /**
   * Books what came in (src/procurement/booking.ts), in the import's own transaction: codes never
   * reach the shelf without their ledger entry, and an entry never exists without its codes.
   */
  booking: StockBooking;
  /**
   * 'reject' (default): the batch is all or nothing, every problem reported. 'quarantine' (a
   * supplier's delivery, which we owe whatever it holds): good codes are stocked, each bad one is
   * kept in card_quarantine with its reason.
   */
  badCodes?: 'reject' | 'quarantine';
  /** Sealing threads and batch size (config.cardImport); DEFAULT_CARD_IMPORT when absent. */
  sealing?: CardImportSettings;
  onProgress?: (rowsRead: number) => void;
  /** Where the time went, phase by phase (for the benchmark). */
  onPhase?: (phase: string, ms: number) => void;
}

/** What a batch brought in, for its booking. */
export interface StockedBatch {
  batchId: number;
  batchKey: string;
  sku: string;
  currency: string;
  supplierId: number | null;
  /** Codes put on the shelf. */
  stocked: number;
  /** Codes of the batch kept in quarantine. */
  quarantined: number;
  unitCostFen: Fen;
}

/** Posts a batch's entry (and whatever else its booking owes) inside the import's transaction. */
export type StockBooking = (trx: Knex.Transaction, batch: StockedBatch) => Promise<void>;

export interface ImportResult {
  batchId: number;
  imported: number;
  /** Codes quarantined instead of stocked (always 0 when bad codes reject the batch). */
  quarantined: number;
  /** Cost of the codes stocked. */
  totalCostFen: Fen;
  /** false when the batch key had been imported before. */
  created: boolean;
}

export type QuarantineReason = 'empty_code' | 'empty_serial' | 'bad_expiry' | 'expired' | 'wrong_sku' | 'duplicate_in_delivery' | 'already_received';

const MAX_PROBLEMS = 100;
/** A batch is batchRows rows, or fewer long ones: a sealing thread's small heap (seal-pool.ts) holds two or three. */
const BATCH_CHARS = 1 << 19;
const HEADERS: Record<'sku' | 'serial' | 'code' | 'expiresOn', string[]> = {
  sku: ['sku', '商品编码'],
  serial: ['serial', '卡号', 'card_no'],
  code: ['code', '卡密', 'password', 'pin'],
  expiresOn: ['expires_at', 'expires_on', '有效期', '过期时间'],
};

/**
 * Imports card codes as one batch. Rows stream through: each code is sealed and fingerprinted (in
 * worker threads, past the first batch), then COPYed into a temporary stage; duplicates (in the
 * file and against every code of the SKU), wrong SKUs and expired codes are found with set-based
 * SQL. In 'reject' mode any problem rolls everything back and is reported with its file, line and
 * column; in 'quarantine' mode the bad codes are kept apart with their reason. The booking runs
 * before the commit.
 */
export async function importCardCodes(db: Db, vault: CodeVault, request: ImportRequest): Promise<ImportResult> {
  assertFen(request.unitCostFen, 'unit cost');
  if (request.unitCostFen < 0) throw new ValidationError(`unit cost must not be negative, got ${request.unitCostFen} fen`);
  const quarantine = request.badCodes === 'quarantine';
  let read = 0;
  try {
    const result = await db.transaction(async (trx) => {
      const conn = (await trx.client.acquireConnection()) as pg.Client;
      const existing = await conn.query('SELECT id, code_count, quarantined_count, unit_cost_fen FROM card_batches WHERE batch_key = $1', [request.batchKey]);
      if (existing.rows[0]) {
        const b = existing.rows[0];
        return { batchId: b.id, imported: b.code_count, quarantined: b.quarantined_count, totalCostFen: b.code_count * b.unit_cost_fen, created: false };
      }
      const sku = await conn.query('SELECT kind, currency FROM skus WHERE code = $1', [request.sku]);
      if (!sku.rows[0]) throw rejected(request.fileName, [{ file: request.fileName, line: 0, message: `unknown SKU "${request.sku}"` }]);
      if (sku.rows[0].kind !== 'card_code') throw rejected(request.fileName, [{ file: request.fileName, line: 0, message: `SKU ${request.sku} is a direct top-up, not a card code SKU` }]);

      await conn.query(`CREATE TEMP TABLE card_import_stage (line int, sku text, serial text, code_sealed bytea, fingerprint bytea, expires_on date, reason text, detail text) ON COMMIT DROP`);
      const problems: ImportProblem[] = [];
      let total = 0;
      const note = (p: ImportProblem) => {
        total++;
        if (problems.length < MAX_PROBLEMS) problems.push(p);
      };
      const today = businessDateOf(new Date());
      let phaseStart = performance.now();
      const phase = (name: string) => {
        const now = performance.now();
        request.onPhase?.(name, now - phaseStart);
        phaseStart = now;
      };
      // A staged line is head \t sealed \t fingerprint \t tail; the codes are sealed a batch at a
      // time, by worker threads once the file is longer than one batch, and the batches go out in
      // order. At most two batches a thread are in flight: reading waits for sealing, sealing for COPY.
      const sealing = request.sealing ?? DEFAULT_CARD_IMPORT;
      let pool: SealPool | undefined;
      const checkExpiry = (text: string): { expires: string; bad?: { reason: QuarantineReason; column: string; detail: string } } => {
        try {
          const expires = assertBusinessDate(text.trim().slice(0, 10), 'expires_at');
          return expires < today ? { expires, bad: { reason: 'expired', column: 'expires_at', detail: `code expired on ${expires}` } } : { expires };
        } catch {
          return { expires: '\\N', bad: { reason: 'bad_expiry', column: 'expires_at', detail: `"${text}" is not a date like 2027-12-31` } };
        }
      };
      let lastExpiry: { text: string; expires: string; bad?: { reason: QuarantineReason; column: string; detail: string } } = { text: '', expires: '\\N' };
      async function* copyChunks() {
        const inFlight: Promise<Buffer>[] = [];
        let job: SealJob = { sku: request.sku, heads: [], codes: [], tails: [] };
        let jobChars = 0;
        const full = () => job.codes.length >= sealing.batchRows || jobChars >= BATCH_CHARS;
        const send = () => {
          if (!pool && sealing.sealWorkers > 0 && full()) pool = vault.sealPool(sealing.sealWorkers);
          const sealed = pool ? pool.seal(job) : Promise.resolve(vault.sealBatch(job));
          // a failure is thrown where its batch is awaited, not as an unhandled rejection before that
          sealed.catch(() => undefined);
          inFlight.push(sealed);
          job = { sku: request.sku, heads: [], codes: [], tails: [] };
          jobChars = 0;
        };
        for await (const row of request.rows) {
          read++;
          if (read % 50_000 === 0) request.onProgress?.(read);
          const code = row.code.trim();
          // a bad row: noted (reject) or staged with its reason (quarantine)
          let bad: { reason: QuarantineReason; column: string; detail: string } | undefined;
          let expires = '\\N';
          if (!code) bad = { reason: 'empty_code', column: 'code', detail: 'is empty' };
          else if (!row.serial.trim()) bad = { reason: 'empty_serial', column: 'serial', detail: 'is empty' };
          else if (row.expiresOn.trim()) {
            // a file's codes mostly share an expiry date: checked once, not a million times
            if (row.expiresOn !== lastExpiry.text) lastExpiry = { text: row.expiresOn, ...checkExpiry(row.expiresOn) };
            expires = lastExpiry.expires;
            bad = lastExpiry.bad;
          }
          if (bad && !quarantine) { note({ file: request.fileName, line: row.line, column: bad.column, message: bad.detail }); continue; }
          const head = `${row.line}\t${copyText(row.sku.trim())}\t${copyText(row.serial.trim())}`;
          const tail = `${bad?.reason === 'bad_expiry' ? '\\N' : expires}\t${bad ? `${bad.reason}\t${copyText(`${bad.column}: ${bad.detail}`)}` : '\\N\t\\N'}`;
          job.heads.push(head);
          job.codes.push(code);
          job.tails.push(tail);
          jobChars += head.length + code.length + tail.length;
          if (full()) {
            send();
            if (inFlight.length >= 2 * Math.max(1, sealing.sealWorkers)) yield await inFlight.shift()!;
          }
        }
        if (job.codes.length) send();
        while (inFlight.length) yield await inFlight.shift()!;
      }
      try {
        await pipeline(Readable.from(copyChunks(), { highWaterMark: 2 }), conn.query(copyFrom('COPY card_import_stage FROM STDIN')));
      } finally {
        await pool?.close();
      }
      request.onProgress?.(read);
      phase('read, seal and stage');
      if (read === 0) throw rejected(request.fileName, [{ file: request.fileName, line: 1, message: 'the file has no codes' }]);

      if (quarantine) {
        // each good row's first problem, in the order a person would name it
        await conn.query(`UPDATE card_import_stage SET reason = 'wrong_sku', detail = 'sku: SKU "' || sku || '" does not belong in a batch of ' || $1::text WHERE reason IS NULL AND sku <> $1`, [request.sku]);
        await conn.query(
          `UPDATE card_import_stage s SET reason = 'already_received', detail = 'code: already received (batch ' || c.batch_id || ')'
             FROM card_codes c WHERE s.reason IS NULL AND c.sku_code = $1 AND c.fingerprint = s.fingerprint`, [request.sku]);
        await conn.query(
          `UPDATE card_import_stage s SET reason = 'duplicate_in_delivery', detail = 'code: duplicate of the code on line ' || f.first
             FROM (SELECT fingerprint, min(line) AS first FROM card_import_stage WHERE reason IS NULL GROUP BY fingerprint HAVING count(*) > 1) f
            WHERE s.reason IS NULL AND s.fingerprint = f.fingerprint AND s.line > f.first`);
      } else {
        const wrongSku = await conn.query(`SELECT line, sku FROM card_import_stage WHERE sku <> $1 ORDER BY line LIMIT ${MAX_PROBLEMS}`, [request.sku]);
        for (const r of wrongSku.rows) note({ file: request.fileName, line: r.line, column: 'sku', message: `SKU "${r.sku}" does not belong in a batch of ${request.sku}` });
        const dupInFile = await conn.query(
          `SELECT array_agg(line ORDER BY line) AS lines FROM card_import_stage GROUP BY fingerprint HAVING count(*) > 1 ORDER BY min(line) LIMIT ${MAX_PROBLEMS}`,
        );
        for (const r of dupInFile.rows) {
          for (const line of r.lines.slice(1)) note({ file: request.fileName, line, column: 'code', message: `duplicate of the code on line ${r.lines[0]}` });
        }
        const dupExisting = await conn.query(
          `SELECT s.line, c.batch_id FROM card_import_stage s JOIN card_codes c ON c.sku_code = $1 AND c.fingerprint = s.fingerprint ORDER BY s.line LIMIT ${MAX_PROBLEMS}`,
          [request.sku],
        );
        for (const r of dupExisting.rows) note({ file: request.fileName, line: r.line, column: 'code', message: `code already in stock (batch ${r.batch_id})` });
        if (total > 0) throw rejected(request.fileName, problems.sort((a, b) => a.line - b.line), total);
      }
      phase('set-based checks');

      const batch = await conn.query(
        `INSERT INTO card_batches (batch_key, sku_code, supplier_id, source, file_name, unit_cost_fen, code_count, quarantined_count)
         SELECT $1, $2, $3, $4, $5, $6, count(*) FILTER (WHERE reason IS NULL), count(*) FILTER (WHERE reason IS NOT NULL) FROM card_import_stage
         RETURNING id, code_count, quarantined_count`,
        [request.batchKey, request.sku, request.supplierId ?? null, request.source, request.fileName, request.unitCostFen],
      );
      const batchId = batch.rows[0].id as number;
      await conn.query(
        `INSERT INTO card_codes (sku_code, batch_id, serial, code_sealed, fingerprint, expires_on)
         SELECT $1, $2, serial, code_sealed, fingerprint, expires_on FROM card_import_stage WHERE reason IS NULL ORDER BY line`,
        [request.sku, batchId],
      );
      if (batch.rows[0].quarantined_count > 0) {
        await conn.query(
          `INSERT INTO card_quarantine (batch_id, sku_code, supplier_id, line, serial, code_sealed, fingerprint, expires_on, reason, detail, unit_cost_fen)
           SELECT $1, $2, $3, line, serial, code_sealed, fingerprint, expires_on, reason, detail, $4 FROM card_import_stage WHERE reason IS NOT NULL ORDER BY line`,
          [batchId, request.sku, request.supplierId ?? null, request.unitCostFen],
        );
      }
      phase('insert into card_codes');
      const imported = batch.rows[0].code_count as number;
      const quarantined = batch.rows[0].quarantined_count as number;
      await request.booking(trx, {
        batchId, batchKey: request.batchKey, sku: request.sku, currency: sku.rows[0].currency, supplierId: request.supplierId ?? null,
        stocked: imported, quarantined, unitCostFen: request.unitCostFen,
      });
      phase('book');
      return { batchId, imported, quarantined, totalCostFen: imported * request.unitCostFen, created: true };
    });
    // A bulk load changes the table's shape: fresh statistics keep allocation on its index.
    if (result.created && read >= 10_000) await db.raw('ANALYZE card_codes');
    return result;
  } catch (err) {
    if ((err as { code?: string }).code === '23505' && String((err as Error).message).includes('card_batches_batch_key')) {
      // imported concurrently under the same key: the other import won, and that is the batch
      return importCardCodes(db, vault, { ...request, rows: noRows() });
    }
    if (err instanceof FileFormatError) throw rejected(err.file, [{ file: err.file, line: err.line, message: err.message.slice(`${err.file}:${err.line}: `.length) }]);
    throw err;
  }
}

async function* noRows(): AsyncGenerator<CodeRow> {}

const rejected = (file: string, problems: ImportProblem[], total = problems.length) => new ImportRejectedError(file, problems, total);


/**
 * Rows of a card code file (CSV in UTF-8 or GBK, or XLSX) with English or Chinese headers:
 * sku/商品编码, serial/卡号, code/卡密, expires_at/有效期. A missing column rejects the file.
 */
export async function* readCodeFile(file: string, name = path.basename(file)): AsyncGenerator<CodeRow> {
  const rows = file.toLowerCase().endsWith('.xlsx') ? xlsxRows(file, name) : csvRows(file, 'auto', name);
  let index: Record<keyof typeof HEADERS, number> | undefined;
  for await (const { cells, line } of rows) {
    if (!index) {
      const header = cells.map((c) => String(c ?? '').replace(/^\uFEFF/, '').trim().toLowerCase());
      const found = Object.fromEntries(Object.entries(HEADERS).map(([k, aliases]) => [k, header.findIndex((h) => aliases.includes(h))]));
      const missing = Object.entries(found).filter(([k, i]) => i === -1 && k !== 'expiresOn').map(([k]) => HEADERS[k as keyof typeof HEADERS].join('/'));
      if (missing.length) throw new ImportRejectedError(name, [{ file: name, line, message: `header is missing column(s): ${missing.join(', ')}` }], 1);
      index = found as Record<keyof typeof HEADERS, number>;
      continue;
    }
    // no closure made per row: a million rows pay for each (and for esbuild's naming of it under tsx)
    let blank = true;
    for (const cell of cells) {
      if (cellText(cell) !== '') {
        blank = false;
        break;
      }
    }
    if (blank) continue;
    yield { line, sku: cellText(cells[index.sku]), serial: cellText(cells[index.serial]), code: cellText(cells[index.code]), expiresOn: index.expiresOn >= 0 ? cellText(cells[index.expiresOn]) : '' };
  }
}

function cellText(cell: Cell): string {
  if (typeof cell === 'string') return cell;
  if (cell === null || cell === undefined) return '';
  if (cell instanceof Date) return cell.toISOString().slice(0, 10);
  if (typeof cell === 'object') return `=${cell.formula}`;
  return String(cell);
}
