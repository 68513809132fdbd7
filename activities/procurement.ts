import { Context } from '@temporalio/activity';
import type { Catalog } from '../src/catalog/catalog.ts';
import type { Db } from '../src/db/knex.ts';
import { KamengError, ValidationError } from '../src/errors.ts';
import type { CodeVault } from '../src/inventory/codes.ts';
import { demandPlans } from '../src/inventory/demand.ts';
import { DEFAULT_OPERATIONS, type OperationsSettings } from '../src/config.ts';
import type { Ledger } from '../src/ledger/ledger.ts';
import { ensureReceiptBooked, receiveDelivery } from '../src/procurement/receipt.ts';
import { ProcurementRuns } from '../src/procurement/runs.ts';
import type { CardBatchReceipt, ProcurementFailure, ProcurementPlan, SupplierOrderState } from '../src/procurement/types.ts';
import { recordPlacement, recordResult } from '../src/supplier-api/transactions.ts';
import type { SupplierRegistry } from '../src/suppliers/registry.ts';
import { temporalConfig } from '../temporal.config.ts';

export class NoQualifiedSupplierError extends KamengError {
  constructor(sku: string) {
    super('NO_QUALIFIED_SUPPLIER', `no active supplier with a valid authorisation offers ${sku}`, { details: { sku } });
  }
}

/** The Temporal run an activity works for. */
function temporalRunId(): string {
  const runId = Context.current().info.workflowExecution?.runId;
  if (!runId) throw new Error('a procurement activity runs for a workflow run');
  return runId;
}

interface DeliveredBatch { requestId: string; supplierId: number; supplierCode: string; supplierOrderId: string; sku: string; unitCostFen: number }

const toState = (o: { requestId: string; supplierOrderId?: string; status: string; supplierTxnId?: string; failureReason?: string }): SupplierOrderState => ({
  requestId: o.requestId, supplierOrderId: o.supplierOrderId, status: o.status as SupplierOrderState['status'], supplierTxnId: o.supplierTxnId, failureReason: o.failureReason,
});

/** Procurement's adapters: plan from the catalog, call suppliers, receive what they deliver (src/procurement). */
export function createProcurementActivities(deps: { db: Db; ledger: Ledger; catalog: Catalog; suppliers: SupplierRegistry; vault: CodeVault; operations?: OperationsSettings }) {
  const runs = new ProcurementRuns(deps.db);
  async function receiveCardBatch(input: DeliveredBatch): Promise<CardBatchReceipt> {
    const client = deps.suppliers.client(await deps.suppliers.byCode(input.supplierCode), temporalConfig.withinActivities.deliveredCodesTimeoutMs);
    const codes = await client.deliveredCodes(input.supplierOrderId);
    Context.current().heartbeat(codes.length);
    const r = await receiveDelivery(deps, { ...input, codes });
    return { batchId: r.batchId, imported: r.imported, quarantined: r.quarantined, totalCostFen: (r.imported + r.quarantined) * input.unitCostFen };
  }
  return {
    async planProcurement(input: { sku: string; quantity?: number }): Promise<ProcurementPlan> {
      const sku = await deps.catalog.sku(input.sku);
      if (sku.kind !== 'card_code') throw new ValidationError(`SKU ${sku.code} is a direct top-up: there is no stock to procure`);
      // a batch sized from recent demand (src/inventory/demand.ts), at least the SKU's configured batch
      const quantity = input.quantity ?? ((await demandPlans(deps.db, (deps.operations ?? DEFAULT_OPERATIONS).stock, { sku: sku.code }))[0]?.batchSize || sku.procurementBatch);
      if (!Number.isInteger(quantity) || quantity < 1) throw new ValidationError(`procurement quantity for ${sku.code} must be a positive whole number (set its batch size)`);
      const offers = await deps.suppliers.qualifiedFor(sku.code);
      if (offers.length === 0) throw new NoQualifiedSupplierError(sku.code);
      return {
        sku: sku.code, quantity,
        candidates: offers.map((o) => ({ supplierId: o.supplierId, supplierCode: o.supplierCode, supplierSku: o.supplierSku, unitCostFen: o.costFen })),
      };
    },

    /** This Temporal run's row (the run id comes from the activity's context: histories before rows were per run do not carry it). */
    async startProcurementRun(input: { workflowId: string; sku: string; quantity: number; reason: string }): Promise<number> {
      return runs.start({ ...input, temporalRunId: temporalRunId() });
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

    /**
     * Fetches the delivered codes and receives them (src/procurement/receipt.ts): good codes stocked,
     * bad ones quarantined and claimed, what we owe posted, in one transaction; idempotent by batch
     * key; codes never enter workflow history.
     */
    receiveCardBatch,

    /** Before patch 'procurement-receipt' (workflows/procurement.ts): the receipt, then postProcurementPayable. */
    async importCardBatch(input: DeliveredBatch) {
      const r = await receiveCardBatch(input);
      return { batchId: r.batchId, imported: r.imported, totalCostFen: r.totalCostFen };
    },

    /** Before patch 'procurement-receipt': the receipt's entry, posted from the batch if an older worker imported it unbooked. */
    async postProcurementPayable(input: { requestId: string; supplierId: number; sku: string; totalCostFen: number; batchId: number }): Promise<number | undefined> {
      return ensureReceiptBooked(deps, input);
    },

    /** Closes this Temporal run's row (by row id; histories from before rows were per run carry only the workflow id). */
    async finishProcurementRun(input: { runRowId?: number; workflowId: string; outcome: 'succeeded' | 'failed'; supplierId?: number; requestId?: string; batchId?: number; totalCostFen?: number; quarantined?: number; failures: ProcurementFailure[] }): Promise<void> {
      const ref = input.runRowId !== undefined ? { id: input.runRowId } : { workflowId: input.workflowId, temporalRunId: temporalRunId() };
      if (input.outcome === 'failed') await runs.failed(ref, input.failures);
      else await runs.succeeded(ref, { supplierId: input.supplierId!, requestId: input.requestId!, batchId: input.batchId!, totalCostFen: input.totalCostFen!, quarantined: input.quarantined ?? 0, failures: input.failures });
    },

    /** Card SKUs whose available stock is below their reorder point (recent demand × lead time + safety stock, at least the threshold). */
    async lowStockSkus(): Promise<{ sku: string; available: number; threshold: number; batchSize: number }[]> {
      return (await demandPlans(deps.db, (deps.operations ?? DEFAULT_OPERATIONS).stock)).filter((l) => l.low && l.batchSize > 0)
        .map((l) => ({ sku: l.sku, available: l.available, threshold: l.reorderPoint, batchSize: l.batchSize }));
    },
  };
}
