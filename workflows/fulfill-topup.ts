import {
  ActivityFailure, ApplicationFailure, condition, defineQuery, defineSignal, defineUpdate, patched, proxyActivities, proxyLocalActivities, setHandler,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import type { OpsAction, OpsCheck, SupplierCandidate, SupplierResult, TopUpState } from '../src/fulfillment/types.ts';
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

export const topUpWorkflowId = (orderId: number | string) => `topup-${orderId}`;

/**
 * Versions of fulfillTopUp, decided once when a run starts (`patched()` records it in the history):
 * runs started before a change keep replaying the code they were written with.
 * - `topup-2026-12-checked-results`: a stuck top-up keeps listening and polling; a signalled result is
 *   checked against the supplier's record before money moves; ops actions are checked against the
 *   supplier's latest answer and audited only when applied; a reseller callback that fails for good
 *   no longer fails the workflow.
 */
export const TOPUP_CHECKED_RESULTS = 'topup-2026-12-checked-results';

/**
 * A direct top-up (直充): the wallet was charged when the order was placed. Ask the best qualified
 * supplier; wait for its callback, or poll; on a definite failure try the next supplier; when
 * everyone fails, refund. When nothing is known for too long the order is stuck and waits for ops.
 */
export async function fulfillTopUp(input: { orderId: number }): Promise<TopUpState> {
  const checked = patched(TOPUP_CHECKED_RESULTS);
  const plan = await orderStore.planTopUp(input.orderId);
  const state: TopUpState = { orderId: input.orderId, status: 'processing', attempts: [], stuck: false };
  const results = new Map<string, SupplierResult>();
  let action: OpsAction | undefined;
  // An ops update answers once its action has played out: the order is final, or stuck again.
  let actionsRequested = 0;
  let actionsHandled = 0;
  // What the apply step said of each ops action, by its number (checked versions only).
  const opsChecks = new Map<number, OpsCheck>();

  setHandler(topUpStateQuery, () => state);
  setHandler(supplierResultSignal, (result) => {
    if (!results.has(result.requestId)) results.set(result.requestId, result);
  });
  setHandler(opsActionUpdate, async (requested) => {
    if (!checked) await store.recordOpsAction({ orderId: input.orderId, ...requested });
    action = requested;
    const mine = ++actionsRequested;
    if (checked) {
      // checked and audited by the apply step, in the workflow's own order: one at a time
      await condition(() => opsChecks.has(mine));
      const check = opsChecks.get(mine)!;
      if (!check.applied) throw ApplicationFailure.create({ type: 'OpsActionRefused', message: check.refusal, nonRetryable: true });
    }
    await condition(() => actionsHandled >= mine && (isFinal(state) || state.stuck));
    return state;
  }, {
    validator: (requested) => {
      if (checked && action !== undefined) throw new Error(`order ${input.orderId}: another ops action (${action.action} by ${action.actor}) is being applied; look again when it is done`);
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
      if (checked) {
        next = await whileStuck(next);
        continue;
      }
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
      const told = await callbackNow.notifyReseller({ orderId: input.orderId });
      state.callback = told.delivered ? 'delivered' : 'skipped';
    } catch {
      if (!checked) {
        await callbacks.notifyReseller({ orderId: input.orderId, attemptsBefore: 1 });
        return;
      }
      // The order's outcome stands whatever the reseller's endpoint does: every attempt is in
      // callback_deliveries, and ops can re-send it (kameng callbacks resend).
      try {
        await callbacks.notifyReseller({ orderId: input.orderId, attemptsBefore: 1 });
        state.callback = 'delivered';
      } catch {
        state.callback = 'failed';
      }
    }
  }

  /**
   * Stuck: nothing known within the deadline. Keep listening for the supplier's callback and keep
   * asking it, less often, while ops may act: a success completes the order by itself, a definite
   * failure lets it fail over. Returns the candidate to try next, when the order is not final.
   */
  async function whileStuck(current: SupplierCandidate): Promise<SupplierCandidate | undefined> {
    const requestId = state.attempts.at(-1)!.requestId;
    const interval = plan.stuckPollIntervalMs ?? plan.pollIntervalMs * 20;
    for (;;) {
      const woken = await condition(() => action !== undefined || results.has(requestId), interval);
      if (action !== undefined) {
        const decided = action;
        const mine = actionsRequested;
        const check = await orderStore.applyOpsAction({ orderId: input.orderId, requestId, ...decided });
        opsChecks.set(mine, check);
        action = undefined;
        if (!check.applied) continue;
        state.stuck = false;
        state.status = 'processing';
        state.resolvedBy = 'ops';
        let after: SupplierCandidate | undefined = current;
        if (decided.action === 'refund') await refund(`ops: ${decided.reason}`);
        else if (decided.action === 'markSucceeded') await complete(current, decided.supplierReference, decided.actor);
        else if (decided.action === 'switchSupplier') after = plan.candidates.find((c) => c.supplierCode === decided.supplierCode);
        // 'retry' asks the same supplier again, under a new request id
        actionsHandled = mine;
        return after;
      }
      const answer = woken
        ? await confirmed(requestId, current)
        // our record first (a callback may have been recorded when its signal could not reach us), then the supplier
        : await supplier.supplierRecord({ requestId, supplierCode: current.supplierCode }).catch(() => undefined);
      if (!answer || answer.status === 'PROCESSING') continue;
      const record = state.attempts.at(-1)!;
      record.status = answer.status;
      if (answer.failureReason) record.failureReason = answer.failureReason;
      state.stuck = false;
      state.status = 'processing';
      await orderStore.recordResolvedWhileStuck({ orderId: input.orderId, requestId, status: answer.status, supplierTxnId: answer.supplierTxnId ?? null });
      if (answer.status === 'SUCCESS') {
        state.resolvedBy = 'supplier';
        await complete(current, answer.supplierTxnId);
        return current;
      }
      return plan.candidates[plan.candidates.indexOf(current) + 1];
    }
  }

  /**
   * A signal is a claim: before money moves on it, the supplier's own record must say the same (as
   * our callback endpoint recorded it from a signed callback, or as the supplier answers a lookup).
   * A claim the record does not bear out is dropped; a genuine result may still come.
   */
  async function confirmed(requestId: string, candidate: SupplierCandidate): Promise<SupplierResult | undefined> {
    const claimed = results.get(requestId)!;
    // one try, in the worker: a supplier that cannot answer now leaves the claim unproven (polling goes on)
    const record = await supplierNow.supplierRecord({ requestId, supplierCode: candidate.supplierCode }).catch(() => undefined);
    // a claim the record does not bear out, or one that is not final, is not kept (nor woken on again)
    if (!record || record.status === 'PROCESSING' || record.status !== claimed.status) results.delete(requestId);
    return !record || record.status === 'PROCESSING' ? undefined : record;
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
        if (checked) result = (await confirmed(requestId, candidate)) ?? { requestId, status: 'PROCESSING' };
        else result = results.get(requestId)!;
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
