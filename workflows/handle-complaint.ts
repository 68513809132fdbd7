import { ApplicationFailure, condition, defineQuery, defineUpdate, proxyActivities, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import type { ComplaintDecision, ComplaintState, DecisionCheck } from '../src/aftersales/types.ts';
import { temporalConfig } from '../temporal.config.ts';

const store = proxyLocalActivities<Activities>(temporalConfig.activities.database);
const supplier = proxyActivities<Activities>(temporalConfig.activities.supplierCall);
const callbackNow = proxyLocalActivities<Activities>(temporalConfig.activities.callbackFirstAttempt);
const callbacks = proxyActivities<Activities>(temporalConfig.activities.callbackDelivery);

/** Ops decide a complaint: replace, refund or reject. Checked, applied and audited once; answers the complaint's state. */
export const complaintDecisionUpdate = defineUpdate<ComplaintState, [ComplaintDecision]>('complaintDecision');
export const complaintStateQuery = defineQuery<ComplaintState>('complaintState');

export const complaintWorkflowId = (complaintId: number | string) => `complaint-${complaintId}`;

/**
 * A reseller's complaint about a delivered card code or top-up (售后). Ask the supplier (a code
 * check, or whether the top-up reached the account) and put its answer on the timeline; then wait
 * for ops to decide. When the first-response or the resolution deadline passes with no decision,
 * escalate to the ops queue. A decision is applied once (its money, a claim against the supplier
 * when it confirmed the fault, the audit), and the reseller is told.
 */
export async function handleComplaint(input: { complaintId: number }): Promise<ComplaintState> {
  const state: ComplaintState = { complaintId: input.complaintId, status: 'open' };
  let pending: ComplaintDecision | undefined;
  let check: DecisionCheck | undefined;

  setHandler(complaintStateQuery, () => state);
  setHandler(complaintDecisionUpdate, async (decision) => {
    pending = decision;
    await condition(() => check !== undefined);
    const answer = check!;
    check = undefined;
    if (!answer.applied) throw ApplicationFailure.create({ type: 'ComplaintDecisionRefused', message: answer.refusal, nonRetryable: true });
    return state;
  }, {
    validator: (decision) => {
      if (state.status !== 'open') throw new Error(`complaint ${input.complaintId} is already ${state.status}`);
      if (pending !== undefined) throw new Error(`complaint ${input.complaintId}: another decision (${pending.decision} by ${pending.actor.username}) is being applied; look again when it is done`);
      if (!['replace', 'refund', 'reject'].includes(decision?.decision)) throw new Error('a decision is replace, refund or reject');
      if (!Number.isSafeInteger(decision.actor?.userId) || !decision.reason?.trim()) throw new Error('a decision needs an ops user and a reason');
    },
  });

  const plan = await store.complaintPlan(input.complaintId);
  const started = Date.now();

  // 1. What the supplier says, before anyone decides; a supplier that cannot answer does not hold the complaint up.
  try {
    state.verdict = await supplier.verifyComplaint(input.complaintId);
  } catch (err) {
    state.verdict = 'unknown';
    await store.recordSupplierUnreachable({ complaintId: input.complaintId, reason: (err as Error).message });
  }

  // 2. Ops decide; each SLA deadline that passes first escalates the complaint.
  const deadlines = [
    { sla: 'first_response' as const, at: started + plan.firstResponseInMs },
    { sla: 'resolution' as const, at: started + plan.resolutionInMs },
  ];
  while (state.status === 'open') {
    const next = state.escalation === undefined ? deadlines[0] : state.escalation === 'first_response' ? deadlines[1] : undefined;
    const woken = next ? await condition(() => pending !== undefined, Math.max(1, next.at - Date.now())) : (await condition(() => pending !== undefined), true);
    if (!woken) {
      state.escalation = next!.sla;
      await store.escalateComplaint({ complaintId: input.complaintId, sla: next!.sla });
      continue;
    }
    const decision = pending!;
    let result: DecisionCheck;
    try {
      result = await store.applyComplaintDecision({ complaintId: input.complaintId, ...decision });
    } catch (err) {
      result = { applied: false, refusal: (err as { cause?: Error }).cause?.message ?? (err as Error).message };
    }
    if (result.applied) state.status = result.status;
    check = result;
    pending = undefined;
  }

  // 3. The reseller is told: at once, then patiently; its endpoint's failure does not undo the decision.
  try {
    const told = await callbackNow.notifyResellerOfComplaint({ complaintId: input.complaintId });
    state.callback = told.delivered ? 'delivered' : 'skipped';
  } catch {
    try {
      await callbacks.notifyResellerOfComplaint({ complaintId: input.complaintId, attemptsBefore: 1 });
      state.callback = 'delivered';
    } catch {
      state.callback = 'failed';
    }
  }
  return state;
}
