import { recordAudit } from '../audit/audit-log.ts';
import type { Db } from '../db/knex.ts';
import { logger } from '../observability/log.ts';
import { SYSTEM } from '../users/actor.ts';

const log = logger('fulfillment');

/**
 * Top-ups the housekeeping workflow started because nobody else had (README "Top-ups stranded before
 * their workflow"): one audit row each, by SYSTEM, and a log line. An order's workflow starts once
 * (its id is refused a second time), so an order is resumed once: a retried activity adds nothing.
 */
export async function recordTopUpsResumed(db: Db, orderIds: number[]): Promise<void> {
  if (orderIds.length === 0) return;
  await db.transaction(async (trx) => {
    const recorded = new Set((await trx('audit_log').where({ subject_type: 'order', action: 'order.resumed' })
      .whereIn('subject_id', orderIds.map(String)).pluck('subject_id')).map(Number));
    for (const orderId of orderIds.filter((id) => !recorded.has(id))) {
      await recordAudit(trx, {
        actor: SYSTEM, action: 'order.resumed', subjectType: 'order', subjectId: orderId,
        reason: '充值已扣款但履约流程未启动，系统已补启动 the top-up was charged but its fulfillment never started '
          + '(the API stopped between the order\'s commit and the workflow start): housekeeping started it',
        details: {},
      });
    }
  });
  for (const orderId of orderIds) log.info({ orderId }, 'stranded top-up: charged, its workflow never started; started it now');
}
