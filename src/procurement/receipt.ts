import path from 'node:path';
import type { CardImportSettings } from '../config.ts';
import type { Db } from '../db/knex.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import type { CodeVault } from '../inventory/codes.ts';
import { importCardCodes, readCodeFile, type CodeRow, type ImportResult } from '../inventory/import.ts';
import type { Ledger } from '../ledger/ledger.ts';
import type { Fen } from '../money.ts';
import type { SupplierRegistry } from '../suppliers/registry.ts';
import type { Actor, Schedule } from '../users/actor.ts';
import { againstAccount, assertCounterBooking, onSupplierCredit } from './booking.ts';
import { supplierReceiptEntry } from './money.ts';

export interface ReceiptDeps {
  db: Db;
  ledger: Ledger;
  vault: CodeVault;
}

/** The ledger key of a procurement's receipt: one per supplier order (the request id is fixed per run and supplier). */
export const procurementReceiptKey = (requestId: string) => `procurement:${requestId}`;

/**
 * A supplier delivered a procured batch: the good codes go on the shelf, the bad ones into
 * quarantine, and what we owe for all of them is posted, in one transaction. Idempotent by batch.
 */
export async function receiveDelivery(deps: ReceiptDeps, input: {
  requestId: string; supplierId: number; supplierCode: string; supplierOrderId: string; sku: string; unitCostFen: Fen;
  codes: { serial: string; code: string; expiresAt?: string | null }[];
}): Promise<ImportResult> {
  async function* rows(): AsyncGenerator<CodeRow> {
    for (const [i, c] of input.codes.entries()) yield { line: i + 1, sku: input.sku, serial: c.serial ?? '', code: c.code ?? '', expiresOn: c.expiresAt ?? '' };
  }
  return importCardCodes(deps.db, deps.vault, {
    batchKey: `${input.supplierCode}:${input.requestId}`, sku: input.sku, unitCostFen: input.unitCostFen, source: 'supplier_delivery',
    supplierId: input.supplierId, fileName: `${input.supplierCode} order ${input.supplierOrderId}`, rows: rows(), badCodes: 'quarantine',
    booking: onSupplierCredit(deps.ledger, { key: procurementReceiptKey(input.requestId), supplierId: input.supplierId }),
  });
}

/**
 * The receipt entry of a batch, posted from the batch as stored if it is not there yet: a batch a
 * worker imported before receipts were booked at import (the procurement workflow's step before
 * patch 'procurement-receipt'). For any other batch the entry exists and this returns it.
 */
export async function ensureReceiptBooked(deps: ReceiptDeps, input: { requestId: string; supplierId: number; batchId: number }): Promise<number | undefined> {
  const batch = await deps.db('card_batches as b').join('skus as s', 's.code', 'b.sku_code').where('b.id', input.batchId)
    .first('b.id', 'b.sku_code', 's.currency', 'b.code_count', 'b.quarantined_count', 'b.unit_cost_fen');
  if (!batch) throw new NotFoundError('card batch', input.batchId);
  const entry = supplierReceiptEntry(procurementReceiptKey(input.requestId), input.supplierId, {
    sku: batch.sku_code, currency: batch.currency, batchId: batch.id, stocked: batch.code_count, quarantined: batch.quarantined_count, unitCostFen: batch.unit_cost_fen,
  });
  return entry ? (await deps.ledger.post(entry)).id : undefined;
}

export interface StockFileImport {
  sku: string;
  file: string;
  unitCostFen: Fen;
  /** Default: file:<file name>. */
  batchKey?: string;
  /** The supplier that delivered the file on credit: booked as a procurement (inventory / its payable). */
  supplier?: string;
  /** Without a supplier: what the stock is booked against, why, and who says so. */
  counterAccount?: string;
  reason?: string;
  /** Who is importing. A name for now; the one parameter that becomes an authenticated user. */
  actor?: Actor | Schedule;
  /** Sealing threads and batch size (config.cardImport). */
  sealing?: CardImportSettings;
}

/**
 * `kameng import-codes`: a file of codes into stock, all or nothing, and booked: on a supplier's
 * credit, or against an account with a reason and an actor. Refused before anything is read when
 * it cannot be booked.
 */
export async function importStockFile(deps: ReceiptDeps & { suppliers: SupplierRegistry }, input: StockFileImport & { onProgress?: (n: number) => void }): Promise<ImportResult> {
  const batchKey = input.batchKey ?? `file:${path.basename(input.file)}`;
  const fileName = path.basename(input.file);
  if (input.supplier && (input.counterAccount || input.reason)) {
    throw new ValidationError('a file from a supplier is booked on its credit (inventory / supplier payable): give --supplier or --counter-account with --reason, not both');
  }
  let booking;
  let supplierId: number | undefined;
  if (input.supplier) {
    const supplier = await deps.suppliers.byCode(input.supplier);
    supplierId = supplier.id;
    booking = onSupplierCredit(deps.ledger, { key: `card-import:${batchKey}`, supplierId: supplier.id });
  } else {
    const counter = { counter: input.counterAccount, reason: input.reason, actor: input.actor };
    assertCounterBooking(counter);
    booking = againstAccount(deps.ledger, { key: `card-import:${batchKey}`, ...counter });
  }
  return importCardCodes(deps.db, deps.vault, {
    batchKey, sku: input.sku, unitCostFen: input.unitCostFen, source: supplierId ? 'supplier_delivery' : 'file', supplierId, fileName,
    rows: readCodeFile(input.file), onProgress: input.onProgress, booking, sealing: input.sealing,
  });
}
