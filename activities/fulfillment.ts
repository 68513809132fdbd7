import { Context } from '@temporalio/activity';
import { recordAudit } from '../src/audit/audit-log.ts';
import type { Catalog } from '../src/catalog/catalog.ts';
import type { FulfillmentSettings } from '../src/config.ts';
import type { Db } from '../src/db/knex.ts';
import { ValidationError } from '../src/errors.ts';
import { applyOpsAction, recordResolvedWhileStuck } from '../src/fulfillment/ops-check.ts';
import { tellReseller } from '../src/fulfillment/reseller-callback.ts';
import { topUpBooks } from '../src/fulfillment/postings.ts';
import type { OpsAction, OpsCheck, SupplierResult, TopUpPlan } from '../src/fulfillment/types.ts';
import type { Ledger } from '../src/ledger/ledger.ts';
import { DEFAULT_OPERATIONS, type OperationsSettings } from '../src/config.ts';
import { recordCallError, SupplierRouting } from '../src/routing/health.ts';
import { SupplierRejectedError } from '../src/supplier-api/client.ts';
import { orders } from '../src/orders/orders.ts';
import type { ResellerRegistry } from '../src/resellers/registry.ts';
import type { SupplierOrder } from '../src/supplier-api/client.ts';
import { recordPlacement, recordResult, transaction } from '../src/supplier-api/transactions.ts';
import { recordTopUpsResumed } from '../src/fulfillment/stranded.ts';
import { temporalConfig } from '../temporal.config.ts';
import type { SupplierRegistry } from '../src/suppliers/registry.ts';
import { actorFromRef, type ActorRef } from '../src/users/actor.ts';

/** Moved to src/config.ts; re-exported for old imports. */
export type { FulfillmentSettings };

const asResult = (o: SupplierOrder): SupplierResult => ({
  requestId: o.requestId, status: o.status, supplierOrderId: o.supplierOrderId, supplierTxnId: o.supplierTxnId, failureReason: o.failureReason,
});

const ourStatus = (s: SupplierResult['status']) => (s === 'SUCCESS' ? 'success' : s === 'FAILED' ? 'failed' : 'processing');

/** The direct top-up's adapters: suppliers, the orders table, the ledger, reseller callbacks. */
export function createFulfillmentActivities(deps: { db: Db; ledger: Ledger; catalog: Catalog; suppliers: SupplierRegistry; resellers: ResellerRegistry; settings: FulfillmentSettings; operations?: OperationsSettings }) {
  const routing = new SupplierRouting(deps.db, (deps.operations ?? DEFAULT_OPERATIONS).routing);
  const clientFor = async (code: string) => deps.suppliers.client(await deps.suppliers.byCode(code), deps.settings.supplierTimeoutMs);

  return {
    async planTopUp(orderId: number): Promise<TopUpPlan> {
      const order = await orders.byId(deps.db, orderId);
      if (order.kind !== 'direct_topup') throw new ValidationError(`order ${orderId} is not a direct top-up`);
      // health routing (src/routing/health.ts): priority adjusted by health, open breakers skipped
      const { candidates: offers } = await routing.order(order.sku, await deps.suppliers.qualifiedFor(order.sku));
      return {
        candidates: offers.map((o) => ({ supplierId: o.supplierId, supplierCode: o.supplierCode, supplierSku: o.supplierSku, costFen: o.costFen })),
        stuckAfterMs: deps.settings.stuckAfterMs,
        pollIntervalMs: deps.settings.pollIntervalMs,
        stuckPollIntervalMs: deps.settings.stuckPollIntervalMs ?? deps.settings.pollIntervalMs * 20,
      };
    },

    /** Asks a supplier to top up; the request id is its idempotency key, so a retry finds the first order. */
    async placeTopUp(input: { orderId: number; requestId: string; supplierCode: string; supplierSku: string; costFen: number }): Promise<SupplierResult> {
      const order = await orders.byId(deps.db, input.orderId);
      const supplier = await deps.suppliers.byCode(input.supplierCode);
      await recordPlacement(deps.db, {
        requestId: input.requestId, supplierId: supplier.id, kind: 'topup', orderId: order.id, skuCode: order.sku,
        supplierSku: input.supplierSku, quantity: 1, costFen: input.costFen,
      });
      const client = deps.suppliers.client(supplier, deps.settings.supplierTimeoutMs);
      const calledAt = Date.now();
      const placed = await (async () => (await client.orderByRequestId(input.requestId)) ?? (await client.placeOrder({
        requestId: input.requestId, sku: input.supplierSku, kind: 'topup', quantity: 1, account: order.account ?? undefined,
        callbackUrl: `${deps.settings.publicUrl}/callbacks/suppliers/${supplier.code}`,
      })))().catch(async (err: unknown) => {
        // counts against the supplier's health (a final answer is counted by a trigger)
        await recordCallError(deps.db, { supplierId: supplier.id, skuCode: order.sku, kind: 'topup', latencyMs: Date.now() - calledAt, requestId: input.requestId, rejected: err instanceof SupplierRejectedError }).catch(() => undefined);
        throw err;
      });
      await recordResult(deps.db, input.requestId, { status: ourStatus(placed.status), supplierOrderId: placed.supplierOrderId, supplierTxnId: placed.supplierTxnId });
      return asResult(placed);
    },

    /** The status query that covers lost callbacks. */
    async lookupTopUp(input: { requestId: string; supplierCode: string }): Promise<SupplierResult> {
      const found = await (await clientFor(input.supplierCode)).orderByRequestId(input.requestId);
      // An idempotent supplier that has no order for our request id never took it.
      const result: SupplierResult = found ? asResult(found) : { requestId: input.requestId, status: 'FAILED', failureReason: 'the supplier has no order for this request' };
      await recordResult(deps.db, input.requestId, { status: ourStatus(result.status), supplierOrderId: result.supplierOrderId, supplierTxnId: result.supplierTxnId });
      return result;
    },

    /**
     * The supplier's own record of a request: final as our callback endpoint recorded it from a signed
     * callback (or an earlier lookup), else as the supplier answers now. What a signal is checked against.
     */
    async supplierRecord(input: { requestId: string; supplierCode: string }): Promise<SupplierResult> {
      const row = await transaction(deps.db, input.requestId);
      if (row && (row.status === 'success' || row.status === 'failed')) {
        return { requestId: input.requestId, status: row.status === 'success' ? 'SUCCESS' : 'FAILED', supplierTxnId: row.supplier_txn_id ?? undefined, supplierOrderId: row.supplier_order_id ?? undefined };
      }
      const found = await (await clientFor(input.supplierCode)).orderByRequestId(input.requestId);
      const result: SupplierResult = found ? asResult(found) : { requestId: input.requestId, status: 'FAILED', failureReason: 'the supplier has no order for this request' };
      await recordResult(deps.db, input.requestId, { status: ourStatus(result.status), supplierOrderId: result.supplierOrderId, supplierTxnId: result.supplierTxnId });
      return result;
    },

    /** An ops action's apply step: checked against the supplier's latest answer, audited only if applied. */
    async applyOpsAction(input: { orderId: number; requestId: string } & OpsAction): Promise<OpsCheck> {
      return applyOpsAction(deps.db, input);
    },

    async recordResolvedWhileStuck(input: { orderId: number; requestId: string; status: 'SUCCESS' | 'FAILED'; supplierTxnId: string | null }): Promise<void> {
      await recordResolvedWhileStuck(deps.db, input);
    },

    /** Success: the held money becomes revenue, and we owe the supplier its cost. */
    async completeTopUp(input: { orderId: number; supplierId: number; costFen: number; supplierTxnId: string | null; requestId: string | null; markedBy: ActorRef | string | null }): Promise<void> {
      await deps.db.transaction(async (trx) => {
        const order = await orders.byId(trx, input.orderId);
        await orders.finish(trx, input.orderId, { status: 'succeeded', costFen: input.costFen, supplierId: input.supplierId, supplierTxnId: input.supplierTxnId });
        await deps.ledger.post(topUpBooks.sale(order, { supplierId: input.supplierId, costFen: input.costFen, requestId: input.requestId, markedBy: input.markedBy == null ? null : typeof input.markedBy === 'string' ? input.markedBy : input.markedBy.username }), trx);
        if (input.requestId) await recordResult(trx, input.requestId, { status: 'success', supplierTxnId: input.supplierTxnId });
      });
    },

    /** Final failure: the held money goes back to the wallet. */
    async refundTopUp(input: { orderId: number; reason: string }): Promise<void> {
      await deps.db.transaction(async (trx) => {
        const order = await orders.byId(trx, input.orderId);
        await orders.finish(trx, input.orderId, { status: 'refunded' });
        await deps.ledger.post(topUpBooks.refund(order, input.reason), trx);
      });
    },

    async markStuck(orderId: number): Promise<void> {
      await orders.setStatus(deps.db, orderId, 'stuck', ['processing']);
    },

    async recordOpsAction(input: { orderId: number } & OpsAction): Promise<void> {
      const { orderId, action, actor, reason, ...details } = input;
      // the user was authorised when ops asked; the audit row names them by id
      await recordAudit(deps.db, { actor: await actorFromRef(deps.db, actor), action: `order.${action}`, subjectType: 'order', subjectId: orderId, reason, details });
      if (action !== 'refund' && action !== 'markSucceeded') await orders.setStatus(deps.db, orderId, 'processing', ['stuck']);
    },

    /** Housekeeping: top-ups charged but perhaps never started (src/orders/orders.ts `stranded`), oldest first. */
    async strandedTopUps(): Promise<number[]> {
      const { strandedAfterMs, resumedPerRun } = temporalConfig.housekeeping;
      return orders.stranded(deps.db, { olderThanMs: deps.settings.strandedAfterMs ?? strandedAfterMs, limit: resumedPerRun });
    },

    /** Housekeeping: the stranded top-ups whose workflow it started, on the record. */
    async recordTopUpsResumed(orderIds: number[]): Promise<void> {
      await recordTopUpsResumed(deps.db, orderIds);
    },

    /** Tells the reseller; every attempt is logged; retried by Temporal until the reseller takes it. */
    /** `attemptsBefore`: tries made before this activity's own (the first one, in the worker). */
    async notifyReseller(input: { orderId: number; attemptsBefore?: number }): Promise<{ delivered: boolean; skipped?: string }> {
      return tellReseller(deps, input.orderId, (input.attemptsBefore ?? 0) + Context.current().info.attempt);
    },
  };
}
