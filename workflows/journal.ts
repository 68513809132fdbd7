import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import type { EntryInput, PostedEntry } from '../src/ledger/ledger.ts';
import { temporalConfig } from '../temporal.config.ts';

const { postLedgerEntry } = proxyActivities<Activities>(temporalConfig.activities.database);

/** Posts one journal entry durably (finance's manual adjustments; also a probe for the ledger path). */
export async function postJournalEntry(entry: EntryInput): Promise<PostedEntry> {
  return postLedgerEntry(entry);
}
