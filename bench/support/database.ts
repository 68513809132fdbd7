import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createDb, type Db } from '../../src/db/knex.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { dropDatabase, ensureDatabase, startEmbeddedPostgres } from '../../src/runtime/embedded-postgres.ts';
import { freePort } from '../../src/runtime/temporal-dev-server.ts';

export interface BenchDatabase {
  url: string;
  /** Where it runs, for the report. */
  where: string;
  stop(): Promise<void>;
}

/**
 * A scratch database for one benchmark run, migrated: on DATABASE_URL's server when set (how to
 * measure the real thing), else on an embedded PostgreSQL in a temp dir. Dropped afterwards.
 * `embedded` forces the embedded server (a bench comparing both); `keep` keeps an embedded one in
 * the temp dir (kameng-LABEL-kept-NAME), outside the repository.
 */
export async function benchDatabase(label = 'bench', options: { keep?: string; embedded?: boolean } = {}): Promise<BenchDatabase> {
  const name = options.keep ?? `kameng_${label}_${Date.now()}`;
  let url: string;
  let where: string;
  let stop: () => Promise<void>;
  if (process.env.DATABASE_URL && !options.embedded) {
    const admin = new URL(process.env.DATABASE_URL);
    await ensureDatabase(admin.toString(), name);
    const target = new URL(admin.toString());
    target.pathname = `/${name}`;
    url = target.toString();
    where = `PostgreSQL at ${admin.host} (DATABASE_URL), ${options.keep ? 'kept' : 'scratch'} database ${name}`;
    stop = options.keep ? async () => {} : () => dropDatabase(admin.toString(), name);
  } else {
    const dir = options.keep
      ? path.join(os.tmpdir(), `kameng-${label}-kept-${options.keep.replace(/[^A-Za-z0-9_-]/g, '_')}`)
      : await fs.mkdtemp(path.join(os.tmpdir(), `kameng-${label}-pg-`));
    const pg = await startEmbeddedPostgres({ dir: path.join(dir, 'pg'), port: await freePort(), database: name, persistent: Boolean(options.keep) });
    url = pg.ownerUrl; // a benchmark's scratch database: it plants and analyses as the owner
    where = options.keep ? `embedded PostgreSQL, kept in ${dir}` : 'embedded PostgreSQL (set DATABASE_URL to measure another server too)';
    stop = options.keep ? () => pg.stop() : async () => { await pg.stop(); await fs.rm(dir, { recursive: true, force: true }); };
  }
  const db = createDb(url);
  try {
    await migrateToLatest(db);
  } finally {
    await db.destroy();
  }
  return { url, where, stop };
}

export async function serverVersion(db: Db): Promise<string> {
  const { rows } = await db.raw("SELECT current_setting('server_version') AS v, current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sc");
  return `PostgreSQL ${rows[0].v} (fsync=${rows[0].fsync}, synchronous_commit=${rows[0].sc})`;
}
