import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { AppConfig } from '../config.ts';
import { assertBusinessDate } from '../dates.ts';
import { ValidationError } from '../errors.ts';
import { reconciliationWorkflowId, uploadStatementSignal, type reconcileSupplierDay } from '../../workflows/reconciliation.ts';

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
