import type { Db } from '../src/db/knex.ts';
import type { PlatformHealth } from '../src/runtime/infrastructure.ts';
import type { EntryInput, Ledger, PostedEntry } from '../src/ledger/ledger.ts';
import { pruneNonces } from '../src/resellers/authenticate.ts';

/** Moved to src/runtime/infrastructure.ts; re-exported for old imports. */
export type { PlatformHealth };

/** Housekeeping activities: health of the database and the ledger, pruning. */
export function createPlatformActivities(deps: { db: Db; ledger: Ledger }) {
  return {
    async checkPlatformHealth(): Promise<PlatformHealth> {
      const { rows } = await deps.db.raw(`
        SELECT current_setting('server_version') AS postgres,
               (SELECT count(*) FROM knex_migrations)::int AS migrations,
               (SELECT count(*) FROM ledger_accounts)::int AS accounts,
               (SELECT count(*) FROM ledger_entries)::int AS entries,
               (SELECT coalesce(sum(amount), 0) FROM ledger_postings)::bigint AS imbalance`);
      const r = rows[0];
      return {
        postgres: r.postgres, migrations: r.migrations, accounts: r.accounts, entries: r.entries,
        ledgerImbalanceFen: r.imbalance, checkedAt: new Date().toISOString(),
      };
    },

    /** Housekeeping: reseller API nonces past the replay window (src/resellers/authenticate.ts). */
    async pruneExpiredNonces(): Promise<number> {
      return pruneNonces(deps.db);
    },

    async ping(): Promise<string> {
      return 'pong';
    },

    /** The one activity that writes journal entries; workflows pass a deterministic idempotency key. */
    async postLedgerEntry(entry: EntryInput): Promise<PostedEntry> {
      return deps.ledger.post(entry);
    },
  };
}
