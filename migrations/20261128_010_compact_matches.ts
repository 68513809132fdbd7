import type { Knex } from 'knex';

/**
 * recon_matches: the lines a reconciliation matched plainly (by our reference, same day, same
 * amount, both sides successful), kept in blocks of up to 10,000 as parallel arrays instead of a
 * recon_items row each. A supplier's day is a million such lines and a few thousand of anything
 * else; written one row per line, they took most of a reconciliation's time, in WAL. Their detail
 * is our transaction's (amount, status) and the statement file's (archived by hash).
 *
 * recon_results: every item of a run, the blocks unfolded: what finance, the invariants and the
 * tests read.
 *
 * The statement grammar's SQL functions (km_statement_time, km_yuan_to_fen: migrations 005, 008) are
 * no longer called: statements are now checked and typed on their way into COPY. They stay, so
 * that the release before this one still finds them after a rollback.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE recon_matches (
      run_id         bigint NOT NULL,
      supplier_id    bigint NOT NULL,
      business_date  date NOT NULL,
      line_nos       int[] NOT NULL,
      request_ids    text[] NOT NULL,
      amounts_fen    bigint[] NOT NULL,
      CHECK (cardinality(line_nos) = cardinality(request_ids) AND cardinality(line_nos) = cardinality(amounts_fen))
    );
    CREATE INDEX recon_matches_run ON recon_matches (run_id);
    -- lz4 compresses a block's arrays in about half pglz's time (a third of the size uncompressed);
    -- on a server built without lz4 (the embedded one) they are stored uncompressed, which is faster
    -- to write than pglz
    DO $$ BEGIN
      ALTER TABLE recon_matches ALTER COLUMN line_nos SET COMPRESSION lz4, ALTER COLUMN request_ids SET COMPRESSION lz4,
                                ALTER COLUMN amounts_fen SET COMPRESSION lz4;
    EXCEPTION WHEN feature_not_supported THEN
      ALTER TABLE recon_matches ALTER COLUMN line_nos SET STORAGE EXTERNAL, ALTER COLUMN request_ids SET STORAGE EXTERNAL,
                                ALTER COLUMN amounts_fen SET STORAGE EXTERNAL;
    END $$;

    CREATE VIEW recon_results AS
      SELECT run_id, supplier_id, business_date, line_no, supplier_txn_id, line_refs, sku, quantity, their_status, their_fen, their_at,
             request_id, our_status, our_fen, our_at, our_date, class, rule
        FROM recon_items
      UNION ALL
      SELECT m.run_id, m.supplier_id, m.business_date, u.line_no, NULL, 1, NULL, NULL, 'success', u.amount_fen, NULL,
             u.request_id, 'success', u.amount_fen, NULL, m.business_date, 'matched', 'reference'
        FROM recon_matches m CROSS JOIN LATERAL unnest(m.line_nos, m.request_ids, m.amounts_fen) AS u (line_no, request_id, amount_fen);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP VIEW IF EXISTS recon_results; DROP TABLE IF EXISTS recon_matches');
}
