import { ApplicationFailure, condition, defineSignal, ParentClosePolicy, patched, proxyActivities, setHandler, sleep, startChild } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import { rootMessage } from '../src/errors.ts';
import type { ReconSummary } from '../src/reconciliation/types.ts';
import { temporalConfig } from '../temporal.config.ts';
import { dayBefore, scheduledStart } from './scheduled-day.ts';

const store = proxyActivities<Activities>(temporalConfig.activities.database);
const files = proxyActivities<Activities>(temporalConfig.activities.fileWork);

/** One reconciliation of a supplier-day at a time: the id says which. */
export const reconciliationWorkflowId = (supplierCode: string, date: string) => `recon-${supplierCode}-${date}`;

/** An uploaded statement (already archived) handed to a reconciliation waiting for its supplier. */
export interface StatementUpload { path: string; name: string; triggeredBy: string }
export const uploadStatementSignal = defineSignal<[StatementUpload]>('uploadStatement');

/** Finance confirms a statement the run stopped as suspicious (most lines unknown to us): reconcile it anyway. */
export interface ConfirmSuspiciousStatement { runId: number; confirmedBy: string; userId: number }
export const confirmSuspiciousStatementSignal = defineSignal<[ConfirmSuspiciousStatement]>('confirmSuspiciousStatement');
/** How long a suspicious statement waits for finance (or a new upload) before the workflow gives up. */
export const SUSPICIOUS_WAIT_MS = 7 * 24 * 3600_000;

export interface ReconcileSupplierDayInput {
  supplierCode: string;
  /** Business date, YYYY-MM-DD (Asia/Shanghai). */
  date: string;
  /** A statement finance uploaded (already archived); absent: fetch it from the supplier. */
  upload?: { path: string; name: string };
  triggeredBy: string;
  /** While the supplier has not published the statement: ask again this often, for this long. */
  pollMs: number;
  maxWaitMs: number;
}

/**
 * 对账 for one supplier and one business date: get the statement (an upload, or the supplier's
 * statement endpoint, waiting with durable sleeps until it is published), reconcile it in
 * PostgreSQL, raise the discrepancy cases, and return the summary.
 */
export async function reconcileSupplierDay(input: ReconcileSupplierDayInput): Promise<ReconSummary> {
  const giveUpAt = Date.now() + input.maxWaitMs;
  // finance may upload the day's file while we wait for the supplier: it is reconciled at once
  let handed: StatementUpload | undefined;
  // a file that is mostly unknown to us stops the run until finance confirms it, or uploads another
  const guardSuspicious = patched('suspicious-statement');
  let confirmed: ConfirmSuspiciousStatement | undefined;
  let suspicious = false;
  setHandler(uploadStatementSignal, (upload) => {
    if (suspicious) {
      handed = upload;
      confirmed = undefined;
    } else handed ??= upload;
  });
  if (guardSuspicious) setHandler(confirmSuspiciousStatementSignal, (c) => { if (suspicious) confirmed ??= c; });
  for (;;) {
    const upload = handed ? { path: handed.path, name: handed.name } : input.upload;
    const result = await files.reconcileStatement({
      supplierCode: input.supplierCode, date: input.date, upload, triggeredBy: handed?.triggeredBy ?? input.triggeredBy,
      ...(guardSuspicious ? { checkSuspicious: confirmed === undefined, confirmedBy: confirmed?.confirmedBy } : {}),
    });
    if (result.status === 'reconciled') return result.summary;
    if (result.status === 'suspicious') {
      suspicious = true;
      const file = handed;
      if (!(await condition(() => confirmed !== undefined || handed !== file, SUSPICIOUS_WAIT_MS))) {
        throw ApplicationFailure.nonRetryable(`${result.message} Nobody confirmed it within ${SUSPICIOUS_WAIT_MS / 86_400_000} days.`, 'SuspiciousStatementError');
      }
      suspicious = false;
      continue;
    }
    if (patched('upload-while-waiting')) {
      if (handed) continue;
      if (Date.now() + input.pollMs <= giveUpAt) {
        await condition(() => handed !== undefined, input.pollMs);
        continue;
      }
    }
    if (Date.now() + input.pollMs > giveUpAt) {
      throw ApplicationFailure.nonRetryable(
        `${input.supplierCode} had not published its statement for ${input.date} after ${Math.round(input.maxWaitMs / 60_000)} min; upload it with \`kameng recon --supplier ${input.supplierCode} --date ${input.date} --file F\``,
        'StatementNotPublishedError',
      );
    }
    await sleep(input.pollMs);
  }
}

export interface DailyReconciliationInput {
  /** Defaults to the business day before the scheduled (or actual) start. */
  date?: string;
  pollMs: number;
  maxWaitMs: number;
}

export interface DailyReconciliationResult {
  date: string;
  reconciled: { supplierCode: string; lines: number; discrepancies: number; openCases: number }[];
  failed: { supplierCode: string; reason: string }[];
  alreadyRunning: string[];
}

/**
 * Every night (Temporal Schedule, catching up after downtime): reconcile yesterday for every active
 * supplier, one child workflow per supplier-day so a day is never reconciled twice at once.
 */
export async function dailyReconciliation(input: DailyReconciliationInput): Promise<DailyReconciliationResult> {
  const date = input.date ?? dayBefore(scheduledStart());
  const result: DailyReconciliationResult = { date, reconciled: [], failed: [], alreadyRunning: [] };
  // Each child's outcome is caught as soon as it starts: a later child failing while an earlier
  // one is awaited would otherwise be an unhandled rejection, which fails the workflow task.
  const children: { supplierCode: string; done: Promise<{ summary: ReconSummary } | { error: unknown }> }[] = [];
  for (const supplierCode of await store.suppliersToReconcile()) {
    try {
      const child = await startChild(reconcileSupplierDay, {
        workflowId: reconciliationWorkflowId(supplierCode, date),
        args: [{ supplierCode, date, triggeredBy: 'schedule', pollMs: input.pollMs, maxWaitMs: input.maxWaitMs }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
      children.push({ supplierCode, done: child.result().then((summary) => ({ summary }), (error: unknown) => ({ error })) });
    } catch (err) {
      // WorkflowExecutionAlreadyStartedError lives in @temporalio/common; workflow code imports only @temporalio/workflow.
      if ((err as Error).name === 'WorkflowExecutionAlreadyStartedError') result.alreadyRunning.push(supplierCode);
      else throw err;
    }
  }
  for (const { supplierCode, done } of children) {
    const outcome = await done;
    if ('error' in outcome) {
      result.failed.push({ supplierCode, reason: rootMessage(outcome.error) });
      continue;
    }
    const s = outcome.summary;
    const discrepancies = Object.entries(s.counts).reduce((n, [cls, c]) => (cls === 'matched' ? n : n + (c?.items ?? 0)), 0);
    result.reconciled.push({ supplierCode, lines: s.lines, discrepancies, openCases: s.cases.stillOpen });
  }
  return result;
}
