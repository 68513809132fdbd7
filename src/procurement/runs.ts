import type { Db } from '../db/knex.ts';
import type { ProcurementFailure } from './types.ts';

/** procurement_runs: what each procureStock workflow did, for the dashboard. */
export class ProcurementRuns {
  constructor(private readonly db: Db) {}

  async start(input: { workflowId: string; sku: string; quantity: number; reason: string }): Promise<number> {
    const [row] = await this.db('procurement_runs')
      .insert({ workflow_id: input.workflowId, sku_code: input.sku, quantity: input.quantity, reason: input.reason })
      .onConflict('workflow_id').merge(['quantity'])
      .returning('id');
    return row.id;
  }

  async succeeded(workflowId: string, input: { supplierId: number; requestId: string; batchId: number; totalCostFen: number; failures: ProcurementFailure[] }): Promise<void> {
    await this.db('procurement_runs').where({ workflow_id: workflowId }).update({
      status: 'succeeded', supplier_id: input.supplierId, request_id: input.requestId, batch_id: input.batchId,
      total_cost_fen: input.totalCostFen, failures: JSON.stringify(input.failures), finished_at: new Date(),
    });
  }

  async failed(workflowId: string, failures: ProcurementFailure[]): Promise<void> {
    await this.db('procurement_runs').where({ workflow_id: workflowId }).update({ status: 'failed', failures: JSON.stringify(failures), finished_at: new Date() });
  }

  async recent(options: { limit: number; offset: number }) {
    const rows = await this.db('procurement_runs as r')
      .leftJoin('suppliers as s', 's.id', 'r.supplier_id')
      .orderBy('r.started_at', 'desc').limit(options.limit).offset(options.offset)
      .select('r.*', 's.code as supplier_code');
    const counted = await this.db('procurement_runs').count('* as n');
    return { rows, total: Number(counted[0]?.n ?? 0) };
  }
}
