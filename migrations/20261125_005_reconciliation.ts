import type { Knex } from 'knex';

/**
 * Daily supplier reconciliation (src/reconciliation): the statements suppliers send, one run per
 * supplier and business date, the classification of every statement line and every one of our
 * supplier transactions, and the discrepancy cases finance works through.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    -- How far a supplier's figure may differ from ours and still match: the larger of an absolute
    -- amount and a share of ours (basis points, so no floats anywhere near money).
    ALTER TABLE suppliers
      ADD COLUMN recon_tolerance_fen int NOT NULL DEFAULT 0 CHECK (recon_tolerance_fen >= 0),
      ADD COLUMN recon_tolerance_bp  int NOT NULL DEFAULT 0 CHECK (recon_tolerance_bp BETWEEN 0 AND 10000);

    -- Transactions without a final status yet: few, found by supplier and time.
    CREATE INDEX supplier_transactions_open ON supplier_transactions (supplier_id, created_at) WHERE business_date IS NULL;

    INSERT INTO ledger_account_kinds (kind, normal_side, no_overdraft, label_zh, label_en)
      VALUES ('write_offs', 'debit', false, '核销损失', 'Write-offs');

    -- A statement file as received. The same bytes for the same supplier are one statement.
    CREATE TABLE recon_statements (
      id             bigserial PRIMARY KEY,
      supplier_id    bigint NOT NULL REFERENCES suppliers (id),
      business_date  date NOT NULL,
      file_name      text NOT NULL,
      sha256         text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
      -- where the original is archived (content-addressed, under the data directory)
      stored_path    text NOT NULL,
      source         text NOT NULL CHECK (source IN ('fetched', 'uploaded')),
      byte_size      bigint NOT NULL,
      line_count     int,
      received_by    text NOT NULL,
      received_at    timestamptz NOT NULL DEFAULT now(),
      UNIQUE (supplier_id, sha256)
    );
    CREATE INDEX recon_statements_day ON recon_statements (supplier_id, business_date);

    CREATE TABLE recon_runs (
      id             bigserial PRIMARY KEY,
      supplier_id    bigint NOT NULL REFERENCES suppliers (id),
      business_date  date NOT NULL,
      workflow_id    text NOT NULL,
      statement_id   bigint REFERENCES recon_statements (id),
      status         text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'rejected', 'failed')),
      -- the run whose items are the day's current result
      is_current     boolean NOT NULL DEFAULT false,
      lines_read     int NOT NULL DEFAULT 0,
      counts         jsonb NOT NULL DEFAULT '{}'::jsonb,
      problems       jsonb NOT NULL DEFAULT '[]'::jsonb,
      error          text,
      triggered_by   text NOT NULL,
      started_at     timestamptz NOT NULL DEFAULT now(),
      finished_at    timestamptz
    );
    CREATE INDEX recon_runs_day ON recon_runs (supplier_id, business_date, started_at DESC);
    CREATE UNIQUE INDEX recon_runs_one_current ON recon_runs (supplier_id, business_date) WHERE is_current;
    CREATE INDEX recon_runs_started ON recon_runs (started_at DESC);

    -- One row per statement line and our transaction it covers, per statement line we cannot
    -- find, and per transaction of ours the statement does not list. Only the current run's rows
    -- are kept: a re-run replaces them. Written in bulk and read by run, hence BRIN.
    CREATE TABLE recon_items (
      run_id           bigint NOT NULL,
      supplier_id      bigint NOT NULL,
      business_date    date NOT NULL,
      line_no          int,
      supplier_txn_id  text,
      line_refs        int,
      sku              text,
      quantity         int,
      their_status     text,
      their_fen        bigint,
      their_at         timestamptz,
      request_id       text,
      our_status       text,
      our_fen          bigint,
      our_at           timestamptz,
      our_date         date,
      class            text NOT NULL CHECK (class IN ('matched', 'amount_mismatch', 'status_mismatch', 'missing_at_supplier', 'missing_in_ours', 'duplicate_at_supplier')),
      rule             text NOT NULL
    );
    CREATE INDEX recon_items_run ON recon_items USING brin (run_id);
    CREATE INDEX recon_items_discrepancies ON recon_items (run_id, class) WHERE class <> 'matched';
    CREATE INDEX recon_items_cross_midnight ON recon_items (supplier_id, request_id) WHERE rule = 'cross_midnight';

    CREATE TABLE recon_cases (
      id               bigserial PRIMARY KEY,
      supplier_id      bigint NOT NULL REFERENCES suppliers (id),
      business_date    date NOT NULL,
      -- what the discrepancy is about, stable across re-runs of the same day
      subject_key      text NOT NULL,
      class            text NOT NULL,
      supplier_txn_id  text,
      request_ids      text[] NOT NULL DEFAULT '{}',
      line_no          int,
      sku              text,
      our_fen          bigint NOT NULL DEFAULT 0,
      their_fen        bigint NOT NULL DEFAULT 0,
      -- what the supplier asks for beyond our books (negative: less than our books)
      delta_fen        bigint NOT NULL,
      note             text NOT NULL DEFAULT '',
      state            text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'investigating', 'resolved')),
      resolution       text CHECK (resolution IN ('accept_supplier', 'accept_ours', 'write_off', 'carry_forward', 'cleared', 'matched_other_day')),
      resolution_reason text,
      resolved_by      text,
      resolved_at      timestamptz,
      ledger_entry_id  bigint,
      carried_from     bigint REFERENCES recon_cases (id),
      first_run_id     bigint NOT NULL,
      last_run_id      bigint NOT NULL,
      created_at       timestamptz NOT NULL DEFAULT now(),
      updated_at       timestamptz NOT NULL DEFAULT now(),
      UNIQUE (supplier_id, business_date, subject_key),
      CHECK ((state = 'resolved') = (resolution IS NOT NULL))
    );
    CREATE INDEX recon_cases_open ON recon_cases (state, business_date DESC) WHERE state <> 'resolved';
    CREATE INDEX recon_cases_day ON recon_cases (supplier_id, business_date);
    CREATE INDEX recon_cases_requests ON recon_cases USING gin (request_ids);

    -- Accepting our own figure over the supplier's is a claim against them: netted off the payout.
    CREATE TABLE supplier_claims (
      id           bigserial PRIMARY KEY,
      case_id      bigint NOT NULL UNIQUE REFERENCES recon_cases (id),
      supplier_id  bigint NOT NULL REFERENCES suppliers (id),
      amount_fen   bigint NOT NULL,
      status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'netted', 'withdrawn')),
      created_at   timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX supplier_claims_open ON supplier_claims (supplier_id) WHERE status = 'open';

    -- "2026-11-24 23:59:58" / "2026/11/24 23:59:58" (Asia/Shanghai) or ISO 8601 with an offset;
    -- NULL for anything else, including impossible dates, so a bad cell is reported, not raised.
    -- The usual fixed-width form is checked inline with immutable string functions only (the
    -- planner inlines it, which a text-to-timestamp cast would prevent;
    -- a regular expression per cell costs more than the COPY); other forms go to km_statement_time_any.
    -- (No question marks in this SQL: knex would take them for bindings.)
    CREATE FUNCTION km_statement_time_any(t text) RETURNS timestamptz
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
    DECLARE
      m text[] := regexp_match(btrim(t), '^(\\d{4})[-/](\\d{1,2})[-/](\\d{1,2})[ T](\\d{1,2}):(\\d{2})(:(\\d{2})(\\.\\d+){0,1}){0,1}(Z|[+-]\\d{2}:{0,1}\\d{2}){0,1}$');
      wall timestamp;
    BEGIN
      IF m IS NULL OR m[2]::int NOT BETWEEN 1 AND 12 OR m[4]::int > 23 OR m[5]::int > 59 OR coalesce(m[7], '0')::int > 59
         OR m[3]::int NOT BETWEEN 1 AND extract(day FROM make_date(m[1]::int, m[2]::int, 1) + interval '1 month - 1 day')::int THEN
        RETURN NULL;
      END IF;
      wall := make_timestamp(m[1]::int, m[2]::int, m[3]::int, m[4]::int, m[5]::int, (coalesce(m[7], '0') || coalesce(m[8], ''))::double precision);
      IF m[9] IS NULL THEN
        RETURN (wall - interval '8 hours') AT TIME ZONE 'UTC';
      END IF;
      RETURN (wall::text || m[9])::timestamptz;
    END $$;

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
    $$;

    -- "48.50" (inline) or "1,234.50", "¥12", "-3.5" -> fen; NULL when it is not an amount with at most two decimals.
    CREATE FUNCTION km_yuan_to_fen_any(t text) RETURNS bigint
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
    DECLARE c text := replace(regexp_replace(btrim(t), '^[¥￥]', ''), ',', '');
    BEGIN
      IF c ~ '^[+-]{0,1}\\d{1,15}(\\.\\d{1,2}){0,1}$' THEN RETURN (c::numeric * 100)::bigint; END IF;
      RETURN NULL;
    END $$;

    CREATE FUNCTION km_yuan_to_fen(t text) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      SELECT CASE
        WHEN length(t) BETWEEN 1 AND 15 AND translate(t, '0123456789', '') IN ('', '.') AND strpos(t, '.') <> 1
             AND (strpos(t, '.') = 0 OR strpos(t, '.') >= length(t) - 2) AND right(t, 1) <> '.'
          THEN (t::numeric * 100)::bigint
        ELSE km_yuan_to_fen_any(t)
      END
    $$;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP FUNCTION IF EXISTS km_statement_time(text), km_statement_time_any(text), km_yuan_to_fen(text), km_yuan_to_fen_any(text);
    DROP TABLE IF EXISTS supplier_claims, recon_cases, recon_items, recon_runs, recon_statements CASCADE;
    DELETE FROM ledger_account_kinds WHERE kind = 'write_offs';
    DROP INDEX IF EXISTS supplier_transactions_open;
    ALTER TABLE suppliers DROP COLUMN IF EXISTS recon_tolerance_fen, DROP COLUMN IF EXISTS recon_tolerance_bp;
  `);
}
