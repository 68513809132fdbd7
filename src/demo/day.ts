import type { Client } from '@temporalio/client';
import type { SupplierSimulator } from '../../fixtures/supplier-simulator/server.ts';
import type { AppConfig } from '../config.ts';
import { addDays, businessDateOf } from '../dates.ts';
import { ReconciliationRunningError, startReconciliation } from '../reconciliation/trigger.ts';
import { runSettlement } from '../settlement/trigger.ts';

/**
 * The rest of a demo day, after its orders: the top-up supplier publishes today's statement early,
 * with an amount mismatch and a line we never ordered planted in it, and it is reconciled; and
 * yesterday (the opening balances) is settled, so every page has something real to show.
 */
export async function playDemoDay(client: Client, config: AppConfig, simulator: SupplierSimulator, log: (line: string) => void): Promise<void> {
  const today = businessDateOf(new Date());
  const settled = await runSettlement(client, config, { date: addDays(today, -1), actor: 'demo' });
  log(`demo: settled ${settled.settled.map((d) => `${d.date} (${d.statements} statements)`).join(', ') || `${addDays(today, -1)} (already settled)`}`);

  simulator.configure('jinqiao', { statementsBeforeDayEnd: true });
  simulator.plant('jinqiao', today, { amountMismatch: 1, extraLines: 1 });
  try {
    const handle = await startReconciliation(client, config, { supplierCode: 'jinqiao', date: today, triggeredBy: 'demo' });
    const summary = await handle.result();
    log(`demo: reconciled jinqiao ${today}: ${summary.lines} statement lines, ${summary.cases.stillOpen} open discrepancy case(s)`);
  } catch (err) {
    if (!(err instanceof ReconciliationRunningError)) throw err;
  }
}
