import type { Knex } from 'knex';
import { migrations } from '../../migrations/index.ts';
import type { Db } from './knex.ts';
import { applyAppGrants } from './roles.ts';

/**
 * Migrations are listed in migrations/index.ts (not discovered from the file system), so the same
 * list runs under tsx, vitest and any bundler.
 */
const source: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};

/**
 * Migrates as the owner (`db`), then, given the application's role, applies its grants again, so
 * that whatever the migrations added is covered (src/db/roles.ts).
 */
export async function migrateToLatest(db: Db, options: { appRole?: string } = {}): Promise<string[]> {
  const [, applied] = await db.migrate.latest({ migrationSource: source });
  if (options.appRole) await applyAppGrants(db, options.appRole);
  return applied as string[];
}
