import type { Knex } from 'knex';
import type { Db } from '../db/knex.ts';
import { actorColumns, type Actor, type Schedule } from '../users/actor.ts';

export interface AuditEntry {
  /** A user (resolved from a session), or the schedule for the nightly settlement's own steps. */
  actor: Actor | Schedule;
  /** e.g. `order.retry`, `recon.write_off` */
  action: string;
  subjectType: 'order' | 'recon_case' | 'payout_batch' | 'reseller' | 'settlement_day' | 'rebate_month' | 'user' | (string & {});
  subjectId: number | string;
  reason: string;
  details?: Record<string, unknown>;
}

/** Who did what to which thing, when and why: every ops and finance action writes one row, naming the user by id. */
export async function recordAudit(q: Db | Knex.Transaction, entry: AuditEntry): Promise<void> {
  const who = actorColumns(entry.actor);
  await q('audit_log').insert({
    actor: who.name, actor_user_id: who.id, action: entry.action, subject_type: entry.subjectType, subject_id: String(entry.subjectId),
    reason: entry.reason, details: JSON.stringify(entry.details ?? {}),
  });
}
