import type { Knex } from 'knex';

/** SQL text with its `?` bindings: a part of a statement that several modules compose. */
export interface SqlPart {
  sql: string;
  bindings: Knex.RawBinding[];
}

export const sqlPart = (sql: string, ...bindings: Knex.RawBinding[]): SqlPart => ({ sql, bindings });
