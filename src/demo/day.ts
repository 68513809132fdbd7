import type { Client } from '@temporalio/client';
import type { SupplierSimulator } from '../../fixtures/supplier-simulator/server.ts';
import type { AppConfig } from '../config.ts';
import type { Db } from '../db/knex.ts';
import { addDays, businessDateOf } from '../dates.ts';
import { ReconciliationRunningError, startReconciliation } from '../reconciliation/trigger.ts';
import { runSettlement } from '../settlement/trigger.ts';
import type { Actor } from '../users/actor.ts';

/**
 * The rest of a demo day, after its orders: the top-up supplier publishes today's statement early,
 * with an amount mismatch and a line we never ordered planted in it, and it is reconciled; and
 * yesterday (the opening balances) is settled, so every page has something real to show. A real
 * finance user does it (see demoFinanceUser), as a person would.
 */
export async function playDemoDay(client: Client, config: AppConfig, simulator: SupplierSimulator, finance: Actor, log: (line: string) => void): Promise<void> {
  const today = businessDateOf(new Date());
  const settled = await runSettlement(client, config, { date: addDays(today, -1), actor: finance });
  log(`demo: settled ${settled.settled.map((d) => `${d.date} (${d.statements} statements)`).join(', ') || `${addDays(today, -1)} (already settled)`}`);

  simulator.configure('jinqiao', { statementsBeforeDayEnd: true });
  simulator.plant('jinqiao', today, { amountMismatch: 1, extraLines: 1 });
  try {
    const handle = await startReconciliation(client, config, { supplierCode: 'jinqiao', date: today, triggeredBy: finance.username });
    const summary = await handle.result();
    log(`demo: reconciled jinqiao ${today}: ${summary.lines} statement lines, ${summary.cases.stillOpen} open discrepancy case(s)`);
  } catch (err) {
    if (!(err instanceof ReconciliationRunningError)) throw err;
  }
}

/** The demo's finance user (`finance`, created by the first start), else another active finance user or an admin. */
export async function demoFinanceUser(db: Db): Promise<Actor | undefined> {
  const row = await db('dashboard_users').where({ disabled: false }).whereIn('role', ['finance', 'admin'])
    .orderByRaw("username = 'finance' DESC, role = 'finance' DESC, id").first('id', 'username', 'role');
  return row && { userId: Number(row.id), username: row.username, role: row.role };
}
