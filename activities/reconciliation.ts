import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import type { ReconSettings } from '../src/config.ts';
import type { BusinessDate } from '../src/dates.ts';
import type { Db } from '../src/db/knex.ts';
import { reconcileDay, SuspiciousStatementError } from '../src/reconciliation/reconcile.ts';
import type { ReconSummary, SuspiciousEvidence } from '../src/reconciliation/types.ts';
import type { SupplierRegistry } from '../src/suppliers/registry.ts';
import { temporalConfig } from '../temporal.config.ts';

export interface ReconcileStatementInput {
  supplierCode: string;
  date: BusinessDate;
  /** An uploaded statement (already in the archive); absent: fetch it from the supplier. */
  upload?: { path: string; name: string };
  triggeredBy: string;
  /** Stop as suspicious when most lines are unknown to us (absent: workflows from before this check do not). */
  checkSuspicious?: boolean;
  /** Finance confirmed a suspicious file: who. */
  confirmedBy?: string;
}

export type ReconcileStatementResult =
  | { status: 'reconciled'; summary: ReconSummary }
  | { status: 'not_published' }
  | { status: 'suspicious'; evidence: SuspiciousEvidence; message: string };

/** Reconciliation's adapters: get the statement (upload or supplier API), then reconcile it in PostgreSQL. */
export function createReconciliationActivities(deps: { db: Db; suppliers: SupplierRegistry; reconciliation: ReconSettings }) {
  return {
    async suppliersToReconcile(): Promise<string[]> {
      return (await deps.suppliers.list()).filter((s) => s.active).map((s) => s.code);
    },

    /** One supplier-day, start to end; heartbeats the lines read so a long file is not mistaken for a dead worker. */
    async reconcileStatement(input: ReconcileStatementInput): Promise<ReconcileStatementResult> {
      const { info } = Context.current();
      const supplier = await deps.suppliers.byCode(input.supplierCode);
      let file = input.upload?.path;
      let fileName = input.upload?.name;
      let downloaded: string | undefined;
      if (!file) {
        const incoming = path.join(deps.reconciliation.archiveDir, 'incoming');
        await fs.mkdir(incoming, { recursive: true });
        const extension = supplier.statementFormat === 'xlsx' ? 'xlsx' : 'csv';
        downloaded = path.join(incoming, `${supplier.code}-${input.date}-${randomUUID().slice(0, 8)}.${extension}`);
        const got = await deps.suppliers.client(supplier, temporalConfig.withinActivities.statementDownloadTimeoutMs).downloadStatement(input.date, downloaded);
        if (!got) return { status: 'not_published' };
        file = downloaded;
        fileName = `${supplier.code}-${input.date}.${extension}`;
      }
      let lines = 0;
      const beat = setInterval(() => Context.current().heartbeat({ lines }), temporalConfig.withinActivities.heartbeatEveryMs);
      try {
        const summary = await reconcileDay(deps.db, {
          supplier, date: input.date, file, fileName, source: input.upload ? 'uploaded' : 'fetched',
          workflowId: info.workflowExecution?.workflowId ?? info.activityId, triggeredBy: input.triggeredBy,
          archiveDir: deps.reconciliation.archiveDir, windowMinutes: deps.reconciliation.windowMinutes,
          onProgress: (n) => { lines = n; }, checkSuspicious: input.checkSuspicious === true, confirmedBy: input.confirmedBy,
        });
        return { status: 'reconciled', summary };
      } catch (err) {
        if (err instanceof SuspiciousStatementError) return { status: 'suspicious', evidence: err.evidence, message: err.message };
        throw err;
      } finally {
        clearInterval(beat);
        if (downloaded) await fs.rm(downloaded, { force: true });
      }
    },
  };
}
