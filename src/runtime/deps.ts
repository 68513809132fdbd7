import type { ActivityDeps } from '../../activities/index.ts';
import { createDb } from '../db/knex.ts';
import { Ledger } from '../ledger/ledger.ts';

/** Builds what activities need, once per process. The one place that wires dependencies. */
export function createActivityDeps(options: { databaseUrl: string; poolMax?: number }): ActivityDeps & { close(): Promise<void> } {
  const db = createDb(options.databaseUrl, { poolMax: options.poolMax, applicationName: 'kameng-worker' });
  const ledger = new Ledger(db);
  return { db, ledger, close: () => db.destroy() };
}
