import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { assertBusinessDate, businessDateOf } from '../dates.ts';
import { copyText } from '../db/copy-text.ts';
import type { Db } from '../db/knex.ts';
import { csvRows, FileFormatError, xlsxRows, type Cell } from '../files/tabular.ts';
import { assertFen, type Fen } from '../money.ts';
import type { CodeVault } from './codes.ts';
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
  onProgress?: (rowsRead: number) => void;
  /** Where the time went, phase by phase (for the benchmark). */
  onPhase?: (phase: string, ms: number) => void;
}

export interface ImportResult {
  batchId: number;
  imported: number;
  totalCostFen: Fen;
  /** false when the batch key had been imported before. */
  created: boolean;
}

const MAX_PROBLEMS = 100;
const HEADERS: Record<'sku' | 'serial' | 'code' | 'expiresOn', string[]> = {
  sku: ['sku', '商品编码'],
  serial: ['serial', '卡号', 'card_no'],
  code: ['code', '卡密', 'password', 'pin'],
  expiresOn: ['expires_at', 'expires_on', '有效期', '过期时间'],
};

/**
 * Imports card codes as one all-or-nothing batch. Rows stream through: each code is sealed and
 * fingerprinted in this process, then COPYed into a temporary stage; duplicates (in the file and
 * against every code of the SKU), wrong SKUs and expired codes are found with set-based SQL. Any
 * problem rolls everything back and is reported with its file, line and column.
 */
export async function importCardCodes(db: Db, vault: CodeVault, request: ImportRequest): Promise<ImportResult> {
  assertFen(request.unitCostFen, 'unit cost');
  const conn = (await db.client.acquireConnection()) as pg.Client;
  try {
    await conn.query('BEGIN');
    const existing = await conn.query('SELECT id, code_count, unit_cost_fen FROM card_batches WHERE batch_key = $1', [request.batchKey]);
    if (existing.rows[0]) {
      await conn.query('ROLLBACK');
      const b = existing.rows[0];
      return { batchId: b.id, imported: b.code_count, totalCostFen: b.code_count * b.unit_cost_fen, created: false };
    }
    const sku = await conn.query('SELECT kind FROM skus WHERE code = $1', [request.sku]);
    if (!sku.rows[0]) throw rejected(request.fileName, [{ file: request.fileName, line: 0, message: `unknown SKU "${request.sku}"` }]);
    if (sku.rows[0].kind !== 'card_code') throw rejected(request.fileName, [{ file: request.fileName, line: 0, message: `SKU ${request.sku} is a direct top-up, not a card code SKU` }]);

    await conn.query(`CREATE TEMP TABLE card_import_stage (line int, sku text, serial text, code_sealed bytea, fingerprint bytea, expires_on date) ON COMMIT DROP`);
    const problems: ImportProblem[] = [];
    let total = 0;
    let read = 0;
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
    // COPY data goes out in ~256 KB chunks, not one message per row.
    async function* copyChunks() {
      let chunk = '';
      for await (const line of copyLines()) {
        chunk += line;
        if (chunk.length > 262_144) {
          yield chunk;
          chunk = '';
        }
      }
      if (chunk) yield chunk;
    }
    async function* copyLines() {
      for await (const row of request.rows) {
        read++;
        if (read % 50_000 === 0) request.onProgress?.(read);
        const code = row.code.trim();
        if (!code) { note({ file: request.fileName, line: row.line, column: 'code', message: 'is empty' }); continue; }
        if (!row.serial.trim()) { note({ file: request.fileName, line: row.line, column: 'serial', message: 'is empty' }); continue; }
        let expires = '\\N';
        if (row.expiresOn.trim()) {
          try {
            expires = assertBusinessDate(row.expiresOn.trim().slice(0, 10), 'expires_at');
          } catch {
            note({ file: request.fileName, line: row.line, column: 'expires_at', message: `"${row.expiresOn}" is not a date like 2027-12-31` });
            continue;
          }
          if (expires < today) { note({ file: request.fileName, line: row.line, column: 'expires_at', message: `code expired on ${expires}` }); continue; }
        }
        yield `${row.line}\t${copyText(row.sku.trim())}\t${copyText(row.serial.trim())}\t\\\\x${vault.seal(code).toString('hex')}\t\\\\x${vault.fingerprint(request.sku, code).toString('hex')}\t${expires}\n`;
      }
    }
    await pipeline(Readable.from(copyChunks()), conn.query(copyFrom('COPY card_import_stage FROM STDIN')));
    request.onProgress?.(read);
    phase('read, seal and stage');

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
    if (read === 0) note({ file: request.fileName, line: 1, message: 'the file has no codes' });
    if (total > 0) throw rejected(request.fileName, problems.sort((a, b) => a.line - b.line), total);
    phase('set-based checks');

    const batch = await conn.query(
      `INSERT INTO card_batches (batch_key, sku_code, supplier_id, source, file_name, unit_cost_fen, code_count)
       VALUES ($1, $2, $3, $4, $5, $6, (SELECT count(*) FROM card_import_stage)) RETURNING id, code_count`,
      [request.batchKey, request.sku, request.supplierId ?? null, request.source, request.fileName, request.unitCostFen],
    );
    const batchId = batch.rows[0].id as number;
    await conn.query(
      `INSERT INTO card_codes (sku_code, batch_id, serial, code_sealed, fingerprint, expires_on)
       SELECT $1, $2, serial, code_sealed, fingerprint, expires_on FROM card_import_stage ORDER BY line`,
      [request.sku, batchId],
    );
    phase('insert into card_codes');
    await conn.query('COMMIT');
    phase('commit');
    // A bulk load changes the table's shape: fresh statistics keep allocation on its index.
    if (read >= 10_000) await conn.query('ANALYZE card_codes');
    const imported = batch.rows[0].code_count as number;
    return { batchId, imported, totalCostFen: imported * request.unitCostFen, created: true };
  } catch (err) {
    await conn.query('ROLLBACK').catch(() => {});
    if ((err as { code?: string }).code === '23505' && String((err as Error).message).includes('card_batches_batch_key')) {
      // imported concurrently under the same key: the other import won, and that is the batch
      return importCardCodes(db, vault, request);
    }
    if (err instanceof FileFormatError) throw rejected(err.file, [{ file: err.file, line: err.line, message: err.message.slice(`${err.file}:${err.line}: `.length) }]);
    throw err;
  } finally {
    await db.client.releaseConnection(conn);
  }
}

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
    const text = (i: number) => cellText(cells[i]);
    if (cells.every((c) => cellText(c) === '')) continue;
    yield { line, sku: text(index.sku), serial: text(index.serial), code: text(index.code), expiresOn: index.expiresOn >= 0 ? text(index.expiresOn) : '' };
  }
}

function cellText(cell: Cell): string {
  if (cell === null || cell === undefined) return '';
  if (cell instanceof Date) return cell.toISOString().slice(0, 10);
  if (typeof cell === 'object') return `=${cell.formula}`;
  return String(cell);
}
