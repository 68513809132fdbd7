import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type pg from 'pg';
import type { Db } from './knex.ts';

/**
 * Runs a statement of the reseller API's hot path, on its own (autocommit), as a named prepared
 * statement: each pool connection parses and plans it once rather than at every request (planning
 * the card order statement alone costs more than half a millisecond). The name is a digest of the
 * text, so a changed text is another statement.
 */
export async function runPrepared(db: Db, sql: string, bindings: readonly Knex.RawBinding[]): Promise<pg.QueryResult> {
  const native = db.raw(sql, bindings as Knex.RawBinding[]).toSQL().toNative();
  const name = `km_${createHash('sha1').update(native.sql).digest('hex').slice(0, 20)}`;
  const conn: pg.ClientBase = await db.client.acquireConnection();
  try {
    return await conn.query({ name, text: native.sql, values: native.bindings as unknown[] });
  } finally {
    await db.client.releaseConnection(conn);
  }
}
