import type { Knex } from 'knex';

/**
 * ledger_post_hashed(): ledger_post() for a statement that computes an entry's amounts itself (a
 * card order's cost is known only once its codes are taken), so the caller cannot hash the content
 * beforehand. ledger_content_hash() is the ledger's canonical content hash (src/ledger/ledger.ts,
 * contentHash): kind, business date, then `account|currency|amount` lines sorted bytewise. Both are
 * PL/pgSQL so that a session plans their queries once (an SQL function is planned at every call).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE FUNCTION ledger_content_hash(p_kind text, p_business_date date, p_account_codes text[], p_amounts bigint[], p_currencies text[])
    RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
    BEGIN
      RETURN encode(sha256(convert_to(
        p_kind || E'\\n' || coalesce(to_char(p_business_date, 'YYYY-MM-DD'), '') || E'\\n' ||
        (SELECT string_agg(line, E'\\n' ORDER BY line COLLATE "C")
           FROM (SELECT l.code || '|' || l.currency || '|' || l.amount AS line
                   FROM unnest(p_account_codes, p_amounts, p_currencies) AS l (code, amount, currency)) lines),
        'UTF8')), 'hex');
    END $$;

    CREATE FUNCTION ledger_post_hashed(
      p_key text, p_kind text, p_description text, p_business_date date, p_metadata jsonb,
      p_account_codes text[], p_amounts bigint[], p_currencies text[]
    ) RETURNS TABLE (entry_id bigint, created boolean) LANGUAGE plpgsql AS $$
    BEGIN
      RETURN QUERY SELECT * FROM ledger_post(p_key, ledger_content_hash(p_kind, p_business_date, p_account_codes, p_amounts, p_currencies),
                                             p_kind, p_description, p_business_date, p_metadata, p_account_codes, p_amounts, p_currencies);
    END $$;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP FUNCTION IF EXISTS ledger_post_hashed; DROP FUNCTION IF EXISTS ledger_content_hash;');
}
