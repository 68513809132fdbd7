import type { Knex } from 'knex';
import type { Db } from '../db/knex.ts';

export interface AuditEntry {
  actor: string;
  /** e.g. `order.retry`, `recon.write_off` */
  action: string;
  subjectType: 'order' | 'recon_case' | 'payout_batch' | 'reseller' | 'settlement_day' | 'rebate_month' | (string & {});
  subjectId: number | string;
  reason: string;
  details?: Record<string, unknown>;
}

/** Who did what to which thing, when and why: every ops and finance action writes one row. */
export async function recordAudit(q: Db | Knex.Transaction, entry: AuditEntry): Promise<void> {
  await q('audit_log').insert({
    actor: entry.actor, action: entry.action, subject_type: entry.subjectType, subject_id: String(entry.subjectId),
    reason: entry.reason, details: JSON.stringify(entry.details ?? {}),
  });
}
