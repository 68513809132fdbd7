import {
  ActivityFailure, ApplicationFailure, ParentClosePolicy, patched, proxyActivities, sleep, startChild, workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import type { ProcurementCandidate, ProcurementFailure, ProcurementResult, SupplierOrderState } from '../src/procurement/types.ts';
import { temporalConfig } from '../temporal.config.ts';

const store = proxyActivities<Activities>(temporalConfig.activities.database);
const supplier = proxyActivities<Activities>(temporalConfig.activities.supplierCall);
const files = proxyActivities<Activities>(temporalConfig.activities.fileWork);

export const procurementWorkflowId = (sku: string) => `procure-${sku}`;

/**
 * Versioning (README: "Workflow versions"). 'procurement-receipt': the delivery is received in one
 * activity (stocked, quarantined, owed: receiveCardBatch) instead of importCardBatch then
 * postProcurementPayable, and a run that fails after its row was opened closes the row. Histories
 * from before it: fixtures/histories/procurement-*.json.
 */
const RECEIPT_PATCH = 'procurement-receipt';

export interface ProcureStockInput {
  sku: string;
  /** Defaults to the SKU's procurement batch size. */
  quantity?: number;
  reason: 'low_stock' | 'on_demand';
  /** How often to ask a supplier whether a batch is ready, and for how long. */
  pollIntervalMs?: number;
  deliveryTimeoutMs?: number;
}

/**
 * Buys a batch of card codes: from the best qualified supplier, falling over to the next when one
 * fails; waits for delivery; receives the codes (good ones stocked, bad ones quarantined and claimed
 * back) with what we now owe the supplier. Each supplier order carries a request id fixed for this
 * run, so a retry or a worker restart never buys twice.
 */
export async function procureStock(input: ProcureStockInput): Promise<ProcurementResult> {
  const { workflowId } = workflowInfo();
  const plan = await store.planProcurement({ sku: input.sku, quantity: input.quantity });
  const runId = await store.startProcurementRun({ workflowId, sku: plan.sku, quantity: plan.quantity, reason: input.reason });
  const failures: ProcurementFailure[] = [];
  let receiving: ProcurementFailure | undefined;

  try {
    for (const candidate of plan.candidates) {
      const requestId = `${workflowId}-${workflowInfo().runId.slice(0, 8)}-${candidate.supplierCode}`;
      const delivered = await buyFrom(candidate, requestId).catch((err: unknown) => {
        failures.push({ supplierCode: candidate.supplierCode, requestId, reason: failureMessage(err) });
        return undefined;
      });
      if (!delivered) continue;

      // the goods are here: we owe them whatever they hold; bad codes are quarantined and claimed back
      receiving = { supplierCode: candidate.supplierCode, requestId, reason: '' };
      const receipt = { requestId, supplierId: candidate.supplierId, supplierCode: candidate.supplierCode, supplierOrderId: delivered.supplierOrderId!, sku: plan.sku, unitCostFen: candidate.unitCostFen };
      let batch: { batchId: number; imported: number; quarantined?: number; totalCostFen: number };
      if (patched(RECEIPT_PATCH)) {
        batch = await files.receiveCardBatch(receipt);
      } else {
        batch = await files.importCardBatch(receipt);
        await store.postProcurementPayable({ requestId, supplierId: candidate.supplierId, sku: plan.sku, totalCostFen: batch.totalCostFen, batchId: batch.batchId });
      }
      await store.finishProcurementRun({ runRowId: runId, workflowId, outcome: 'succeeded', supplierId: candidate.supplierId, requestId, batchId: batch.batchId, totalCostFen: batch.totalCostFen, quarantined: batch.quarantined ?? 0, failures });
      return { sku: plan.sku, supplierCode: candidate.supplierCode, requestId, batchId: batch.batchId, imported: batch.imported, quarantined: batch.quarantined ?? 0, totalCostFen: batch.totalCostFen };
    }
  } catch (err) {
    // a run never stays 'running' behind a failure (patched: older histories failed without this step)
    if (patched(RECEIPT_PATCH)) {
      await store.finishProcurementRun({ runRowId: runId, workflowId, outcome: 'failed', failures: [...failures, { supplierCode: receiving?.supplierCode ?? '', requestId: receiving?.requestId ?? '', reason: `delivered, not received: ${failureMessage(err)}` }] });
    }
    throw err;
  }

  await store.finishProcurementRun({ runRowId: runId, workflowId, outcome: 'failed', failures });
  throw ApplicationFailure.nonRetryable(
    `no supplier delivered ${plan.quantity} × ${plan.sku}: ${failures.map((f) => `${f.supplierCode}: ${f.reason}`).join('; ')}`,
    'ProcurementFailedError',
  );

  async function buyFrom(candidate: ProcurementCandidate, requestId: string): Promise<SupplierOrderState> {
    let order = await supplier.placeCardBatch({ runId, requestId, sku: plan.sku, supplierId: candidate.supplierId, supplierCode: candidate.supplierCode, supplierSku: candidate.supplierSku, quantity: plan.quantity, unitCostFen: candidate.unitCostFen });
    const pollEvery = input.pollIntervalMs ?? temporalConfig.procurement.deliveryPollMs;
    const deliveryTimeoutMs = input.deliveryTimeoutMs ?? temporalConfig.procurement.deliveryTimeoutMs;
    const giveUpAt = Date.now() + deliveryTimeoutMs;
    while (order.status === 'PROCESSING') {
      if (Date.now() >= giveUpAt) throw ApplicationFailure.nonRetryable(`batch not delivered within ${deliveryTimeoutMs / 1000}s`, 'DeliveryTimeoutError');
      await sleep(pollEvery);
      order = await supplier.lookupCardBatch({ requestId, supplierCode: candidate.supplierCode });
    }
    if (order.status === 'FAILED') throw ApplicationFailure.nonRetryable(order.failureReason ?? 'the supplier failed the order', 'SupplierOrderFailedError');
    return order;
  }
}

/**
 * Every few minutes (Temporal Schedule): start a procurement for each card SKU below its stock
 * threshold, unless one is already running for it.
 */
export async function stockCheck(): Promise<{ started: string[]; alreadyRunning: string[] }> {
  const low = await store.lowStockSkus();
  const started: string[] = [];
  const alreadyRunning: string[] = [];
  for (const { sku } of low) {
    try {
      await startChild(procureStock, {
        workflowId: procurementWorkflowId(sku),
        args: [{ sku, reason: 'low_stock' }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
      started.push(sku);
    } catch (err) {
      // WorkflowExecutionAlreadyStartedError lives in @temporalio/common; workflow code imports only @temporalio/workflow.
      if ((err as Error).name === 'WorkflowExecutionAlreadyStartedError') alreadyRunning.push(sku);
      else throw err;
    }
  }
  return { started, alreadyRunning };
}

function failureMessage(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}
