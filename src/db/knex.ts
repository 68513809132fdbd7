import knexFactory, { type Knex } from 'knex';
import pg from 'pg';

export type Db = Knex;

// bigint columns hold fen and ids: read them as numbers, but never silently lose precision.
pg.types.setTypeParser(pg.types.builtins.INT8, (text) => {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`bigint ${text} is outside the safe integer range`);
  return n;
});
// A DATE is a business day, not an instant: keep "YYYY-MM-DD" as it is.
pg.types.setTypeParser(pg.types.builtins.DATE, (text) => text);

export function createDb(url: string, options: { poolMax?: number; applicationName?: string; jit?: boolean } = {}): Db {
  return knexFactory({
    client: 'pg',
    connection: {
      connectionString: url, application_name: options.applicationName ?? 'kameng',
      // JIT off unless asked for (KAMENG_PG_JIT): a report over a day's orders compiled for 0.6 s to run
      // for 0.03 s on PostgreSQL 15; the planner's cost estimates are what trigger it, not the work
      ...(options.jit ? {} : { options: '-c jit=off' }),
    },
    pool: { min: 0, max: options.poolMax ?? 10 },
    acquireConnectionTimeout: 30_000,
  });
}

/** The SQLSTATE of a PostgreSQL error, if it is one. */
export function sqlState(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/**
 * PostgreSQL's own message. knex prepends the failing SQL ("SELECT ... - message"), which is noise
 * in an error meant for a person; our SQL never contains " - ", so the first one is the seam.
 */
export function databaseMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const seam = message.indexOf(' - ');
  return /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|CREATE|ALTER|DROP|COPY|TRUNCATE|CALL)\b/i.test(message) && seam >= 0
    ? message.slice(seam + 3)
    : message;
}
