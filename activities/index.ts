import type { Db } from '../src/db/knex.ts';
import type { Ledger } from '../src/ledger/ledger.ts';
import { withTypedFailures } from './adapter.ts';
import { createPlatformActivities } from './platform.ts';

/** What activities need from the outside world; built once per worker process. */
export interface ActivityDeps {
  db: Db;
  ledger: Ledger;
}

export function createActivities(deps: ActivityDeps) {
  return withTypedFailures({
    ...createPlatformActivities(deps),
  });
}

export type Activities = ReturnType<typeof createActivities>;
