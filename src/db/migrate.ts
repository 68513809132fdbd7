import type { Knex } from 'knex';
import { migrations } from '../../migrations/index.ts';
import type { Db } from './knex.ts';

/**
 * Migrations are listed in migrations/index.ts (not discovered from the file system), so the same
 * list runs under tsx, vitest and any bundler.
 */
const source: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};

export async function migrateToLatest(db: Db): Promise<string[]> {
  const [, applied] = await db.migrate.latest({ migrationSource: source });
  return applied as string[];
}
