import type { Knex } from 'knex';

/**
 * A statement with no lines (a day without activity) is the same bytes every day: it is a valid
 * statement of each day. The same file is one statement per supplier and day; a file with lines
 * still belongs to one day only.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE recon_statements DROP CONSTRAINT recon_statements_supplier_id_sha256_key;
    ALTER TABLE recon_statements ADD CONSTRAINT recon_statements_one_per_day UNIQUE (supplier_id, business_date, sha256);
    CREATE UNIQUE INDEX recon_statements_lines_one_day ON recon_statements (supplier_id, sha256) WHERE coalesce(line_count, 1) <> 0;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP INDEX recon_statements_lines_one_day;
    ALTER TABLE recon_statements DROP CONSTRAINT recon_statements_one_per_day;
    ALTER TABLE recon_statements ADD CONSTRAINT recon_statements_supplier_id_sha256_key UNIQUE (supplier_id, sha256);
  `);
}
