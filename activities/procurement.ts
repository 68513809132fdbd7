import { Context } from '@temporalio/activity';
import type { Catalog } from '../src/catalog/catalog.ts';
import type { Db } from '../src/db/knex.ts';
import { KamengError, ValidationError } from '../src/errors.ts';
import type { CodeVault } from '../src/inventory/codes.ts';
import { importCardCodes } from '../src/inventory/import.ts';
import { stockLevels } from '../src/inventory/stock.ts';
import { accountCode } from '../src/ledger/accounts.ts';
import { credit, debit, type Ledger } from '../src/ledger/ledger.ts';
import { ProcurementRuns } from '../src/procurement/runs.ts';
import type { ProcurementFailure, ProcurementPlan, SupplierOrderState } from '../src/procurement/types.ts';
import { recordPlacement, recordResult } from '../src/supplier-api/transactions.ts';
import type { SupplierRegistry } from '../src/suppliers/registry.ts';

export class NoQualifiedSupplierError extends KamengError {
  constructor(sku: string) {
    super('NO_QUALIFIED_SUPPLIER', `no active supplier with a valid authorisation offers ${sku}`, { details: { sku } });
  }
}

const toState = (o: { requestId: string; supplierOrderId?: string; status: string; supplierTxnId?: string; failureReason?: string }): SupplierOrderState => ({
  requestId: o.requestId, supplierOrderId: o.supplierOrderId, status: o.status as SupplierOrderState['status'], supplierTxnId: o.supplierTxnId, failureReason: o.failureReason,
});

/** Procurement's adapters: plan from the catalog, call suppliers, import what they deliver, post the payable. */
export function createProcurementActivities(deps: { db: Db; ledger: Ledger; catalog: Catalog; suppliers: SupplierRegistry; vault: CodeVault }) {
  const runs = new ProcurementRuns(deps.db);
  return {
    async planProcurement(input: { sku: string; quantity?: number }): Promise<ProcurementPlan> {
      const sku = await deps.catalog.sku(input.sku);
      if (sku.kind !== 'card_code') throw new ValidationError(`SKU ${sku.code} is a direct top-up: there is no stock to procure`);
      const quantity = input.quantity ?? sku.procurementBatch;
      if (!Number.isInteger(quantity) || quantity < 1) throw new ValidationError(`procurement quantity for ${sku.code} must be a positive whole number (set its batch size)`);
      const offers = await deps.suppliers.qualifiedFor(sku.code);
      if (offers.length === 0) throw new NoQualifiedSupplierError(sku.code);
      return {
        sku: sku.code, quantity,
        candidates: offers.map((o) => ({ supplierId: o.supplierId, supplierCode: o.supplierCode, supplierSku: o.supplierSku, unitCostFen: o.costFen })),
      };
    },

    async startProcurementRun(input: { workflowId: string; sku: string; quantity: number; reason: string }): Promise<number> {
      return runs.start(input);
    },

    /** Places a card batch order, or finds the one an earlier attempt placed: the same request id never buys twice. */
    async placeCardBatch(input: { runId: number; requestId: string; sku: string; supplierId: number; supplierCode: string; supplierSku: string; quantity: number; unitCostFen: number }): Promise<SupplierOrderState> {
      await recordPlacement(deps.db, {
        requestId: input.requestId, supplierId: input.supplierId, kind: 'card_batch', procurementRunId: input.runId,
        skuCode: input.sku, supplierSku: input.supplierSku, quantity: input.quantity, costFen: input.unitCostFen * input.quantity,
      });
      const client = deps.suppliers.client(await deps.suppliers.byCode(input.supplierCode));
      const order = (await client.orderByRequestId(input.requestId))
        ?? (await client.placeOrder({ requestId: input.requestId, sku: input.supplierSku, kind: 'card_batch', quantity: input.quantity }));
      await recordResult(deps.db, input.requestId, { status: 'processing', supplierOrderId: order.supplierOrderId });
      return toState(order);
    },

    async lookupCardBatch(input: { requestId: string; supplierCode: string }): Promise<SupplierOrderState> {
      const client = deps.suppliers.client(await deps.suppliers.byCode(input.supplierCode));
      const order = await client.orderByRequestId(input.requestId);
      if (!order) return { requestId: input.requestId, status: 'FAILED', failureReason: 'the supplier has no such order' };
      if (order.status !== 'PROCESSING') {
        await recordResult(deps.db, input.requestId, {
          status: order.status === 'SUCCESS' ? 'success' : 'failed', supplierOrderId: order.supplierOrderId, supplierTxnId: order.supplierTxnId,
          completedAt: order.completedAt ? new Date(order.completedAt) : new Date(),
        });
      }
      return toState(order);
    },

    /** Fetches the delivered codes and imports them; idempotent by batch key, codes never enter workflow history. */
    async importCardBatch(input: { requestId: string; supplierId: number; supplierCode: string; supplierOrderId: string; sku: string; unitCostFen: number }) {
      const client = deps.suppliers.client(await deps.suppliers.byCode(input.supplierCode), 60_000);
      const codes = await client.deliveredCodes(input.supplierOrderId);
      Context.current().heartbeat(codes.length);
      async function* rows() {
        for (const [i, c] of codes.entries()) yield { line: i + 1, sku: input.sku, serial: c.serial, code: c.code, expiresOn: c.expiresAt ?? '' };
      }
      const result = await importCardCodes(deps.db, deps.vault, {
        batchKey: `${input.supplierCode}:${input.requestId}`, sku: input.sku, unitCostFen: input.unitCostFen, source: 'supplier_delivery',
        supplierId: input.supplierId, fileName: `${input.supplierCode} order ${input.supplierOrderId}`, rows: rows(),
      });
      return { batchId: result.batchId, imported: result.imported, totalCostFen: result.totalCostFen };
    },

    /** Stock received on credit: inventory up, what we owe the supplier up. */
    async postProcurementPayable(input: { requestId: string; supplierId: number; sku: string; totalCostFen: number; batchId: number }): Promise<number> {
      const entry = await deps.ledger.post({
        idempotencyKey: `procurement:${input.requestId}`,
        kind: 'procurement',
        description: `采购入库 stock received: ${input.sku}, batch ${input.batchId}`,
        metadata: { requestId: input.requestId, supplierId: input.supplierId, sku: input.sku, batchId: input.batchId },
        postings: [debit(accountCode.platform('inventory'), input.totalCostFen), credit(accountCode.supplierPayable(input.supplierId), input.totalCostFen)],
      });
      return entry.id;
    },

    async finishProcurementRun(input: { workflowId: string; outcome: 'succeeded' | 'failed'; supplierId?: number; requestId?: string; batchId?: number; totalCostFen?: number; failures: ProcurementFailure[] }): Promise<void> {
      if (input.outcome === 'failed') await runs.failed(input.workflowId, input.failures);
      else await runs.succeeded(input.workflowId, { supplierId: input.supplierId!, requestId: input.requestId!, batchId: input.batchId!, totalCostFen: input.totalCostFen!, failures: input.failures });
    },

    /** Card SKUs whose available stock is below their threshold. */
    async lowStockSkus(): Promise<{ sku: string; available: number; threshold: number; batchSize: number }[]> {
      return (await stockLevels(deps.db, { onlyLow: true })).filter((l) => l.batchSize > 0).map((l) => ({ sku: l.sku, available: l.available, threshold: l.threshold, batchSize: l.batchSize }));
    },
  };
}
