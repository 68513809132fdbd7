import type { Db } from '../db/knex.ts';
import type { ProcurementFailure } from './types.ts';

/** Which run row: by id (what the workflow holds), or by workflow and Temporal run. */
export type RunRef = { id: number } | { workflowId: string; temporalRunId: string };

/** procurement_runs: what each procureStock workflow run did, a row per Temporal run, for the dashboard. */
export class ProcurementRuns {
  constructor(private readonly db: Db) {}

  /** Idempotent per Temporal run: a retried activity gets the same row. */
  async start(input: { workflowId: string; temporalRunId: string; sku: string; quantity: number; reason: string }): Promise<number> {
    const [row] = await this.db('procurement_runs')
      .insert({ workflow_id: input.workflowId, temporal_run_id: input.temporalRunId, sku_code: input.sku, quantity: input.quantity, reason: input.reason })
      .onConflict(['workflow_id', 'temporal_run_id']).merge(['quantity'])
      .returning('id');
    return row.id;
  }

  async succeeded(ref: RunRef, input: { supplierId: number; requestId: string; batchId: number; totalCostFen: number; quarantined: number; failures: ProcurementFailure[] }): Promise<void> {
    await this.where(ref).update({
      status: 'succeeded', supplier_id: input.supplierId, request_id: input.requestId, batch_id: input.batchId,
      total_cost_fen: input.totalCostFen, quarantined: input.quarantined, failures: JSON.stringify(input.failures), finished_at: new Date(),
    });
  }

  async failed(ref: RunRef, failures: ProcurementFailure[]): Promise<void> {
    await this.where(ref).update({ status: 'failed', failures: JSON.stringify(failures), finished_at: new Date() });
  }

  async recent(options: { limit: number; offset: number }) {
    const rows = await this.db('procurement_runs as r')
      .leftJoin('suppliers as s', 's.id', 'r.supplier_id')
      .orderBy('r.started_at', 'desc').orderBy('r.id', 'desc').limit(options.limit).offset(options.offset)
      .select('r.*', 's.code as supplier_code');
    const counted = await this.db('procurement_runs').count('* as n');
    return { rows, total: Number(counted[0]?.n ?? 0) };
  }

  private where(ref: RunRef) {
    return 'id' in ref
      ? this.db('procurement_runs').where({ id: ref.id })
      : this.db('procurement_runs').where({ workflow_id: ref.workflowId }).andWhere((q) => q.where({ temporal_run_id: ref.temporalRunId }).orWhereNull('temporal_run_id'))
        .andWhere('status', 'running');
  }
}
