import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { AppConfig } from '../config.ts';
import { assertBusinessDate } from '../dates.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { recordAudit } from '../audit/audit-log.ts';
import type { Db } from '../db/knex.ts';
import { assertMay, type Actor } from '../users/actor.ts';
import { confirmSuspiciousStatementSignal, reconciliationWorkflowId, uploadStatementSignal, type reconcileSupplierDay } from '../../workflows/reconciliation.ts';

export class ReconciliationRunningError extends ValidationError {
  constructor(workflowId: string) {
    super(`${workflowId} is already running: one reconciliation of a supplier-day at a time; wait for it, then re-run`, { workflowId });
  }
}

/**
 * Starts (or re-runs) the reconciliation of one supplier-day, from the CLI or the dashboard. An
 * uploaded file is first copied into the statement archive, where every worker can read it.
 */
export async function startReconciliation(client: Client, config: AppConfig, input: { supplierCode: string; date: string; file?: string; fileName?: string; triggeredBy: string }): Promise<WorkflowHandle<typeof reconcileSupplierDay>> {
  const date = assertBusinessDate(input.date, '--date');
  let upload: { path: string; name: string } | undefined;
  if (input.file) {
    const name = input.fileName ?? path.basename(input.file);
    const dir = path.join(config.reconciliation.archiveDir, 'uploads');
    await fs.mkdir(dir, { recursive: true });
    const target = path.join(dir, `${randomUUID().slice(0, 8)}-${name.replace(/[^\w.\-\u4e00-\u9fff]/g, '_')}`);
    await fs.copyFile(input.file, target).catch((err: NodeJS.ErrnoException) => {
      throw new ValidationError(`cannot read the statement file ${input.file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
    });
    upload = { path: target, name };
  }
  const workflowId = reconciliationWorkflowId(input.supplierCode, date);
  try {
    return await client.workflow.start<typeof reconcileSupplierDay>('reconcileSupplierDay', {
      taskQueue: config.temporal.taskQueues.reconciliation, workflowId,
      args: [{ supplierCode: input.supplierCode, date, upload, triggeredBy: input.triggeredBy, pollMs: config.reconciliation.statementPollMs, maxWaitMs: upload ? 0 : config.reconciliation.statementWaitMs }],
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      if (!upload) throw new ReconciliationRunningError(workflowId);
      // a reconciliation waiting for the supplier's statement takes the uploaded one instead
      const handle = client.workflow.getHandle<typeof reconcileSupplierDay>(workflowId);
      await handle.signal(uploadStatementSignal, { ...upload, triggeredBy: input.triggeredBy });
      return handle;
    }
    throw err;
  }
}

/**
 * Finance confirms a statement its run stopped as suspicious (most lines unknown to us): the
 * waiting reconciliation goes on with it. Audited; only the day's latest run, if it is suspicious.
 */
export async function confirmSuspiciousStatement(client: Client, db: Db, actor: Actor, input: { supplierCode: string; date: string; reason?: string }): Promise<{ runId: number; workflowId: string }> {
  assertMay(actor, 'reconciliation');
  const date = assertBusinessDate(input.date, '--date');
  const run = await db('recon_runs as r').join('suppliers as s', 's.id', 'r.supplier_id')
    .where({ 's.code': input.supplierCode, 'r.business_date': date }).orderBy('r.id', 'desc').first('r.id', 'r.status', 'r.workflow_id', 'r.evidence');
  if (!run) throw new NotFoundError(`reconciliation of ${input.supplierCode} for`, date);
  if (run.status !== 'suspicious') throw new ValidationError(`the latest run of ${input.supplierCode} for ${date} (#${run.id}) is ${run.status}, not suspicious: there is nothing to confirm`);
  const handle = client.workflow.getHandle<typeof reconcileSupplierDay>(run.workflow_id);
  const description = await handle.describe();
  if (description.status.name !== 'RUNNING') throw new ValidationError(`${run.workflow_id} is no longer waiting (${description.status.name}): re-run the day with the file`);
  await recordAudit(db, {
    actor, action: 'recon.confirm_suspicious', subjectType: 'recon_run', subjectId: run.id, reason: input.reason ?? 'statement confirmed as the day\'s despite most lines unknown',
    details: { supplierCode: input.supplierCode, date, evidence: run.evidence },
  });
  await handle.signal(confirmSuspiciousStatementSignal, { runId: Number(run.id), confirmedBy: actor.username, userId: actor.userId });
  return { runId: Number(run.id), workflowId: run.workflow_id };
}
