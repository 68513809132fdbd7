import type { Knex } from 'knex';

/**
 * Daily rollups the dashboard reads instead of scanning millions of postings and orders. Both are
 * derived data, rebuilt from the append-only ledger and the orders table at any time.
 *
 * - ledger_account_days (owned by src/ledger/rollups.ts): per account and Asia/Shanghai day of
 *   posting, the net and the debits. Days are rolled in order, once they ended some minutes ago (no
 *   transaction that started in them is still open); ledger_rollup_state says how far. A balance is
 *   the rolled days plus the postings since, which an (account_id, posted_at) index range answers.
 * - order_day_margins (owned by src/orders/rollups.ts): per business date and SKU, supplier or
 *   reseller, completed orders, gross and margin. A rolled day is listed in order_rollup_days; a
 *   top-up of that day that completes later removes it from the list (the day is read live until
 *   rolled again).
 * - card_codes_void: the stock page counts codes by what is available or void, never delivered.
 * - km_statement_time_any answers NULL for an impossible offset or year 0 instead of raising;
 *   km_statement_time's common form is checked with string tests and parsed by PostgreSQL.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE ledger_account_days (
      account_id  bigint NOT NULL REFERENCES ledger_accounts (id),
      day         date NOT NULL,
      net         bigint NOT NULL,
      debits      bigint NOT NULL,
      postings    int NOT NULL,
      PRIMARY KEY (account_id, day)
    );
    CREATE INDEX ledger_account_days_day ON ledger_account_days (day) INCLUDE (debits, net);

    CREATE TABLE ledger_rollup_state (
      id             boolean PRIMARY KEY DEFAULT true CHECK (id),
      -- every posting before this instant is in ledger_account_days
      rolled_until   timestamptz NOT NULL,
      -- the sum of every rolled posting: 0 while the books balance
      rolled_net     bigint NOT NULL DEFAULT 0,
      rolled_at      timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE order_day_margins (
      dimension      text NOT NULL CHECK (dimension IN ('sku', 'supplier', 'reseller')),
      business_date  date NOT NULL,
      name           text NOT NULL,
      orders         int NOT NULL,
      gross_fen      bigint NOT NULL,
      margin_fen     bigint NOT NULL,
      PRIMARY KEY (dimension, business_date, name)
    );

    -- the stock page counts voided codes per SKU (few) without reading the delivered millions
    CREATE INDEX card_codes_void ON card_codes (sku_code) WHERE status = 'void';

    CREATE TABLE order_rollup_days (
      business_date  date PRIMARY KEY,
      rolled_at      timestamptz NOT NULL DEFAULT now()
    );
  `);
  await knex.raw(statementTime(true));
  await knex.raw(STATEMENT_TIME_FAST);
}

/**
 * The common form ("2026-11-24 23:59:58", Shanghai) checked with LIKE and plain string
 * comparisons, then PostgreSQL's own parser: about 3x cheaper a cell than the make_timestamp
 * version, now that every statement's cells are typed by this function. STABLE: the cast is.
 */
const STATEMENT_TIME_FAST = `
  DROP FUNCTION km_statement_time(text);
  CREATE FUNCTION km_statement_time(t text) RETURNS timestamptz
  LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE
      WHEN t LIKE '____-__-__ __:__:__' AND translate(t, '0123456789', '') = '-- ::' THEN
        CASE WHEN substr(t, 1, 4) >= '0001' AND substr(t, 6, 2) BETWEEN '01' AND '12' AND substr(t, 9, 2) >= '01'
                  AND substr(t, 12, 2) < '24' AND substr(t, 15, 2) < '60' AND substr(t, 18, 2) < '60'
                  AND (substr(t, 9, 2) <= '28'
                       OR substr(t, 9, 2)::int <= extract(day FROM make_date(substr(t, 1, 4)::int, substr(t, 6, 2)::int, 1) + interval '1 month - 1 day'))
             THEN (t || '+08')::timestamptz END
      ELSE km_statement_time_any(t)
    END
  $$;`;

const STATEMENT_TIME_BEFORE = `
  DROP FUNCTION km_statement_time(text);
  CREATE FUNCTION km_statement_time(t text) RETURNS timestamptz
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
      WHEN length(t) = 19 AND translate(t, '0123456789', '') = '-- ::' AND substr(t, 5, 1) = '-' AND substr(t, 8, 1) = '-'
           AND substr(t, 11, 1) = ' ' AND substr(t, 14, 1) = ':' AND substr(t, 17, 1) = ':' THEN
        CASE WHEN substr(t, 6, 2)::int BETWEEN 1 AND 12 AND substr(t, 12, 2)::int < 24 AND substr(t, 15, 2)::int < 60 AND substr(t, 18, 2)::int < 60
                  AND substr(t, 9, 2)::int >= 1
                  AND (substr(t, 9, 2)::int <= 28 OR substr(t, 9, 2)::int <= extract(day FROM make_date(substr(t, 1, 4)::int, substr(t, 6, 2)::int, 1) + interval '1 month - 1 day'))
             THEN (make_timestamp(substr(t, 1, 4)::int, substr(t, 6, 2)::int, substr(t, 9, 2)::int, substr(t, 12, 2)::int, substr(t, 15, 2)::int, substr(t, 18, 2)::int) - interval '8 hours') AT TIME ZONE 'UTC' END
      ELSE km_statement_time_any(t)
    END
  $$;`;

/**
 * Statement times (owned by src/reconciliation): an offset beyond what PostgreSQL takes ("+98:00")
 * made the function raise instead of answering NULL, so reconciliation failed without saying where.
 */
function statementTime(checkOffset: boolean): string {
  return `
    CREATE OR REPLACE FUNCTION km_statement_time_any(t text) RETURNS timestamptz
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
    DECLARE
      m text[] := regexp_match(btrim(t), '^(\\d{4})[-/](\\d{1,2})[-/](\\d{1,2})[ T](\\d{1,2}):(\\d{2})(:(\\d{2})(\\.\\d+){0,1}){0,1}(Z|[+-]\\d{2}:{0,1}\\d{2}){0,1}$');
      wall timestamp;
    BEGIN
      IF m IS NULL ${checkOffset ? 'OR m[1] = \'0000\'' : ''} OR m[2]::int NOT BETWEEN 1 AND 12 OR m[4]::int > 23 OR m[5]::int > 59 OR coalesce(m[7], '0')::int > 59
         OR m[3]::int NOT BETWEEN 1 AND extract(day FROM make_date(m[1]::int, m[2]::int, 1) + interval '1 month - 1 day')::int
         ${checkOffset ? "OR (m[9] <> 'Z' AND (substr(m[9], 2, 2)::int > 15 OR right(m[9], 2)::int > 59))" : ''} THEN
        RETURN NULL;
      END IF;
      wall := make_timestamp(m[1]::int, m[2]::int, m[3]::int, m[4]::int, m[5]::int, (coalesce(m[7], '0') || coalesce(m[8], ''))::double precision);
      IF m[9] IS NULL THEN
        RETURN (wall - interval '8 hours') AT TIME ZONE 'UTC';
      END IF;
      RETURN (wall::text || m[9])::timestamptz;
    END $$;`;
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(STATEMENT_TIME_BEFORE);
  await knex.raw(statementTime(false));
  await knex.raw('DROP INDEX card_codes_void; DROP TABLE order_rollup_days, order_day_margins, ledger_rollup_state, ledger_account_days');
}
