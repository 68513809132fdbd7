import {
  ActivityFailure, ApplicationFailure, condition, defineQuery, defineSignal, defineUpdate, proxyActivities, proxyLocalActivities, setHandler,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import type { OpsAction, SupplierCandidate, SupplierResult, TopUpState } from '../src/fulfillment/types.ts';
import { temporalConfig } from '../temporal.config.ts';

const store = proxyActivities<Activities>(temporalConfig.activities.database);
// The order's own short, idempotent database steps run in the worker beside the workflow, without
// a round trip through the server's task queue each: most of a top-up's Temporal work otherwise.
const orderStore = proxyLocalActivities<Activities>(temporalConfig.activities.database);
const supplier = proxyActivities<Activities>(temporalConfig.activities.supplierCall);
const supplierNow = proxyLocalActivities<Activities>(temporalConfig.activities.supplierFirstAttempt);
const callbacks = proxyActivities<Activities>(temporalConfig.activities.callbackDelivery);
const callbackNow = proxyLocalActivities<Activities>(temporalConfig.activities.callbackFirstAttempt);

/** A supplier's callback, relayed by our callback endpoint. */
export const supplierResultSignal = defineSignal<[SupplierResult]>('supplierResult');
/** Ops acting on a stuck order: validated, audited, then applied. */
export const opsActionUpdate = defineUpdate<TopUpState, [OpsAction]>('opsAction');
export const topUpStateQuery = defineQuery<TopUpState>('state');

export const topUpWorkflowId = (orderId: number) => `topup-${orderId}`;

/**
 * A direct top-up (直充): the wallet was charged when the order was placed. Ask the best qualified
 * supplier; wait for its callback, or poll; on a definite failure try the next supplier; when
 * everyone fails, refund. When nothing is known for too long the order is stuck and waits for ops.
 */
export async function fulfillTopUp(input: { orderId: number }): Promise<TopUpState> {
  const plan = await orderStore.planTopUp(input.orderId);
  const state: TopUpState = { orderId: input.orderId, status: 'processing', attempts: [], stuck: false };
  const results = new Map<string, SupplierResult>();
  let action: OpsAction | undefined;
  // An ops update answers once its action has played out: the order is final, or stuck again.
  let actionsRequested = 0;
  let actionsHandled = 0;

  setHandler(topUpStateQuery, () => state);
  setHandler(supplierResultSignal, (result) => {
    if (!results.has(result.requestId)) results.set(result.requestId, result);
  });
  setHandler(opsActionUpdate, async (requested) => {
    await store.recordOpsAction({ orderId: input.orderId, ...requested });
    action = requested;
    const mine = ++actionsRequested;
    await condition(() => actionsHandled >= mine && (isFinal(state) || state.stuck));
    return state;
  }, {
    validator: (requested) => {
      if (!state.stuck) throw new Error(`order ${input.orderId} is ${state.status}, not stuck: nothing for ops to do`);
      if (!Number.isSafeInteger(requested.actor?.userId) || !requested.reason?.trim()) throw new Error('an ops action needs an actor and a reason');
      if (requested.action === 'switchSupplier' && !plan.candidates.some((c) => c.supplierCode === requested.supplierCode)) {
        throw new Error(`supplier ${requested.supplierCode} is not qualified for this order`);
      }
      if (requested.action === 'markSucceeded' && !requested.supplierReference?.trim()) {
        throw new Error('marking an order succeeded needs the supplier reference');
      }
    },
  });

  let next: SupplierCandidate | undefined = plan.candidates[0];
  while (!isFinal(state)) {
    if (!next) {
      await refund('every qualified supplier failed');
      break;
    }
    const outcome = await attempt(next);
    if (outcome.status === 'SUCCESS') {
      await complete(next, outcome.supplierTxnId);
    } else if (outcome.status === 'FAILED') {
      next = plan.candidates[plan.candidates.indexOf(next) + 1];
    } else {
      // Nothing known within the deadline: neither fail over (the order may yet succeed there)
      // nor refund on our own. Ops decides.
      state.stuck = true;
      state.status = 'stuck';
      await store.markStuck(input.orderId);
      await condition(() => action !== undefined);
      const decided = action!;
      state.stuck = false;
      state.status = 'processing';
      if (decided.action === 'refund') await refund(`ops: ${decided.reason}`);
      else if (decided.action === 'markSucceeded') await complete(next, decided.supplierReference, decided.actor);
      else if (decided.action === 'switchSupplier') next = plan.candidates.find((c) => c.supplierCode === decided.supplierCode);
      // 'retry' asks the same supplier again, under a new request id
      action = undefined;
      actionsHandled++;
    }
  }
  await notifyReseller();
  return state;

  /** Most reseller endpoints answer the first time: try at once, then patiently, for a day. */
  async function notifyReseller() {
    try {
      await callbackNow.notifyReseller({ orderId: input.orderId });
    } catch {
      await callbacks.notifyReseller({ orderId: input.orderId, attemptsBefore: 1 });
    }
  }

  /** One supplier attempt: place the order (idempotent by request id), then await its result. */
  async function attempt(candidate: SupplierCandidate): Promise<SupplierResult | { status: 'UNKNOWN' }> {
    const requestId = `kameng-${input.orderId}-${state.attempts.length + 1}`;
    state.attempts.push({ requestId, supplierCode: candidate.supplierCode, status: 'PROCESSING' });
    const record = state.attempts[state.attempts.length - 1]!;
    let placed: SupplierResult | { requestId: string; status: 'UNKNOWN' };
    const order = { orderId: input.orderId, requestId, supplierCode: candidate.supplierCode, supplierSku: candidate.supplierSku, costFen: candidate.costFen };
    try {
      // at once from the worker; a failure that may pass gets the durable retries with backoff
      placed = await supplierNow.placeTopUp(order).catch((err) => {
        if (rejectedBySupplier(err)) throw err;
        return supplier.placeTopUp(order);
      });
    } catch (err) {
      const rejected = rejectedBySupplier(err);
      // A rejection is definite. Anything else is ambiguous: the supplier may have taken the order.
      placed = rejected
        ? { requestId, status: 'FAILED', failureReason: (err as ActivityFailure).cause?.message }
        : await supplier.lookupTopUp({ requestId, supplierCode: candidate.supplierCode }).catch(() => ({ requestId, status: 'UNKNOWN' as const }));
    }
    let result: SupplierResult | { status: 'UNKNOWN' } = placed;
    const deadline = Date.now() + plan.stuckAfterMs;
    while (result.status === 'PROCESSING' || (result.status === 'UNKNOWN' && Date.now() < deadline)) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        result = { status: 'UNKNOWN' };
        break;
      }
      // A callback usually arrives first; polling covers lost callbacks.
      if (await condition(() => results.has(requestId), Math.min(plan.pollIntervalMs, remaining))) {
        result = results.get(requestId)!;
      } else {
        result = await supplier.lookupTopUp({ requestId, supplierCode: candidate.supplierCode })
          .catch(() => ({ requestId, status: 'UNKNOWN' as const }));
        if (result.status === 'PROCESSING' && Date.now() >= deadline) result = { status: 'UNKNOWN' };
      }
    }
    record.status = result.status;
    if ('failureReason' in result && result.failureReason) record.failureReason = result.failureReason;
    return result;
  }

  async function complete(candidate: SupplierCandidate, supplierTxnId: string | undefined, markedBy?: OpsAction['actor']) {
    await orderStore.completeTopUp({
      orderId: input.orderId, supplierId: candidate.supplierId, costFen: candidate.costFen, supplierTxnId: supplierTxnId ?? null,
      requestId: state.attempts.at(-1)?.requestId ?? null, markedBy: markedBy ?? null,
    });
    state.status = 'succeeded';
  }

  async function refund(reason: string) {
    await orderStore.refundTopUp({ orderId: input.orderId, reason });
    state.status = 'refunded';
  }
}

function rejectedBySupplier(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'SupplierRejectedError';
}

function isFinal(state: TopUpState): boolean {
  return state.status === 'succeeded' || state.status === 'refunded';
}
