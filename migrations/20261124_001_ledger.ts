import type { Knex } from 'knex';

/**
 * The double-entry ledger. Owned by src/ledger: nothing else writes these tables.
 *
 * - A posting's amount is signed fen: debit > 0, credit < 0. An entry's postings sum to zero per
 *   currency (checked by ledger_post and again, at commit, by a deferred constraint trigger).
 * - Entries and postings are append-only: triggers refuse UPDATE, DELETE and TRUNCATE.
 * - Accounts flagged no_overdraft (reseller wallets) keep a running balance, updated under the
 *   account's row lock in the same statement that posts, so concurrent debits serialise on the
 *   wallet and a CHECK constraint backs the explicit check.
 * - ledger_post() does all of it in one round trip; idempotency is by key plus content hash.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE ledger_account_kinds (
      kind          text PRIMARY KEY,
      normal_side   text NOT NULL CHECK (normal_side IN ('debit', 'credit')),
      no_overdraft  boolean NOT NULL DEFAULT false,
      label_zh      text NOT NULL,
      label_en      text NOT NULL
    );

    INSERT INTO ledger_account_kinds (kind, normal_side, no_overdraft, label_zh, label_en) VALUES
      ('platform_cash',    'debit',  false, '平台资金',   'Platform cash'),
      ('reseller_wallet',  'credit', true,  '分销商钱包', 'Reseller wallet'),
      ('supplier_payable', 'credit', false, '应付供应商', 'Supplier payable'),
      ('inventory',        'debit',  false, '库存',       'Inventory'),
      ('revenue',          'credit', false, '销售收入',   'Revenue'),
      ('cost_of_goods',    'debit',  false, '销售成本',   'Cost of goods sold'),
      ('refunds',          'debit',  false, '退款',       'Refunds'),
      ('adjustments',      'debit',  false, '调账',       'Adjustments');

    CREATE TABLE ledger_accounts (
      id               bigserial PRIMARY KEY,
      code             text NOT NULL UNIQUE,
      kind             text NOT NULL REFERENCES ledger_account_kinds (kind),
      normal_side      text NOT NULL CHECK (normal_side IN ('debit', 'credit')),
      no_overdraft     boolean NOT NULL,
      currency         char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
      name             text NOT NULL,
      owner_type       text,
      owner_id         bigint,
      -- sum of this account's postings; kept only where no_overdraft (elsewhere it would be a hot row)
      guarded_balance  bigint NOT NULL DEFAULT 0,
      created_at       timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT ledger_accounts_no_overdraft CHECK (
        NOT no_overdraft
        OR (CASE normal_side WHEN 'credit' THEN -guarded_balance ELSE guarded_balance END) >= 0
      )
    );
    CREATE INDEX ledger_accounts_owner ON ledger_accounts (owner_type, owner_id);

    CREATE TABLE ledger_entries (
      id               bigserial PRIMARY KEY,
      idempotency_key  text NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 200),
      content_hash     text NOT NULL,
      kind             text NOT NULL,
      description      text NOT NULL DEFAULT '',
      business_date    date NOT NULL,
      metadata         jsonb NOT NULL DEFAULT '{}'::jsonb,
      posted_at        timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX ledger_entries_business_date ON ledger_entries (business_date, kind);

    CREATE TABLE ledger_postings (
      id          bigserial PRIMARY KEY,
      entry_id    bigint NOT NULL REFERENCES ledger_entries (id),
      account_id  bigint NOT NULL REFERENCES ledger_accounts (id),
      amount      bigint NOT NULL CHECK (amount <> 0),
      currency    char(3) NOT NULL,
      posted_at   timestamptz NOT NULL
    );
    CREATE INDEX ledger_postings_account_time ON ledger_postings (account_id, posted_at) INCLUDE (amount);
    CREATE INDEX ledger_postings_entry ON ledger_postings (entry_id);

    CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION USING ERRCODE = 'KM006',
        MESSAGE = format('the ledger is append-only: %s on %s is refused; post a reversing entry instead', TG_OP, TG_TABLE_NAME);
    END $$;

    CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
      FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
    CREATE TRIGGER ledger_postings_append_only BEFORE UPDATE OR DELETE ON ledger_postings
      FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
    CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
      FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
    CREATE TRIGGER ledger_postings_no_truncate BEFORE TRUNCATE ON ledger_postings
      FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
    CREATE TRIGGER ledger_accounts_no_delete BEFORE DELETE ON ledger_accounts
      FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

    -- Checked at commit, so an entry's postings may be inserted one by one; also catches a posting
    -- added later to an old entry.
    CREATE FUNCTION ledger_assert_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE bad record;
    BEGIN
      SELECT currency, sum(amount) AS total INTO bad
        FROM ledger_postings WHERE entry_id = NEW.entry_id
        GROUP BY currency HAVING sum(amount) <> 0 LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'KM001',
          MESSAGE = format('journal entry %s does not balance: its %s postings sum to %s fen, not 0',
                           NEW.entry_id, bad.currency, bad.total);
      END IF;
      RETURN NULL;
    END $$;
    CREATE CONSTRAINT TRIGGER ledger_postings_balanced AFTER INSERT ON ledger_postings
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_assert_entry_balanced();

    CREATE FUNCTION ledger_post(
      p_key text, p_hash text, p_kind text, p_description text, p_business_date date, p_metadata jsonb,
      p_account_codes text[], p_amounts bigint[], p_currencies text[]
    ) RETURNS TABLE (entry_id bigint, created boolean) LANGUAGE plpgsql AS $$
    DECLARE
      v_id bigint;
      v_hash text;
      v_count int;
      r record;
    BEGIN
      INSERT INTO ledger_entries (idempotency_key, content_hash, kind, description, business_date, metadata)
        VALUES (p_key, p_hash, p_kind, p_description, p_business_date, p_metadata)
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id INTO v_id;

      IF v_id IS NULL THEN
        SELECT e.id, e.content_hash INTO v_id, v_hash FROM ledger_entries e WHERE e.idempotency_key = p_key;
        IF v_hash <> p_hash THEN
          RAISE EXCEPTION USING ERRCODE = 'KM002',
            MESSAGE = format('idempotency key %L was already used for journal entry %s with different content', p_key, v_id),
            DETAIL = v_id::text;
        END IF;
        RETURN QUERY SELECT v_id, false;
        RETURN;
      END IF;

      IF coalesce(array_length(p_account_codes, 1), 0) < 2 THEN
        RAISE EXCEPTION USING ERRCODE = 'KM001', MESSAGE = 'a journal entry needs at least two postings';
      END IF;

      SELECT l.currency, sum(l.amount) AS total INTO r FROM unnest(p_amounts, p_currencies) AS l (amount, currency)
        GROUP BY l.currency HAVING sum(l.amount) <> 0 LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'KM001',
          MESSAGE = format('journal entry does not balance: its %s postings sum to %s fen, not 0', r.currency, r.total);
      END IF;

      -- Guarded accounts first: lock in id order (no deadlocks between entries touching two
      -- wallets), then refuse an overdraft with the account named. NO KEY UPDATE, because the
      -- postings' foreign keys take KEY SHARE on these rows and FOR UPDATE would conflict with it.
      FOR r IN
        SELECT a.id, a.code, a.normal_side, a.guarded_balance,
               (SELECT sum(l.amount) FROM unnest(p_account_codes, p_amounts) AS l (code, amount) WHERE l.code = a.code) AS delta
          FROM ledger_accounts a
         WHERE a.code = ANY (p_account_codes) AND a.no_overdraft
         ORDER BY a.id
           FOR NO KEY UPDATE
      LOOP
        IF (CASE r.normal_side WHEN 'credit' THEN -(r.guarded_balance + r.delta) ELSE r.guarded_balance + r.delta END) < 0 THEN
          RAISE EXCEPTION USING ERRCODE = 'KM003',
            MESSAGE = format('insufficient funds in %s: available %s fen, this entry needs %s fen',
                             r.code,
                             CASE r.normal_side WHEN 'credit' THEN -r.guarded_balance ELSE r.guarded_balance END,
                             abs(r.delta)),
            DETAIL = r.code;
        END IF;
        UPDATE ledger_accounts SET guarded_balance = guarded_balance + r.delta WHERE id = r.id;
      END LOOP;

      INSERT INTO ledger_postings (entry_id, account_id, amount, currency, posted_at)
        SELECT v_id, a.id, l.amount, l.currency, now()
          FROM unnest(p_account_codes, p_amounts, p_currencies) AS l (code, amount, currency)
          JOIN ledger_accounts a ON a.code = l.code AND a.currency = l.currency;
      GET DIAGNOSTICS v_count = ROW_COUNT;
      IF v_count <> array_length(p_account_codes, 1) THEN
        -- Only on the error path: say which account and why.
        SELECT l.code, a.currency AS kept, l.currency AS posted INTO r
          FROM unnest(p_account_codes, p_currencies) AS l (code, currency)
          LEFT JOIN ledger_accounts a ON a.code = l.code
         WHERE a.id IS NULL OR a.currency <> l.currency LIMIT 1;
        IF r.kept IS NULL THEN
          RAISE EXCEPTION USING ERRCODE = 'KM004', MESSAGE = format('unknown ledger account %L', r.code), DETAIL = r.code;
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'KM005',
          MESSAGE = format('account %L is kept in %s, not %s', r.code, r.kept, r.posted), DETAIL = r.code;
      END IF;

      RETURN QUERY SELECT v_id, true;
    END $$;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP FUNCTION IF EXISTS ledger_post;
    DROP TABLE IF EXISTS ledger_postings, ledger_entries, ledger_accounts, ledger_account_kinds CASCADE;
    DROP FUNCTION IF EXISTS ledger_assert_entry_balanced, ledger_refuse_change;
  `);
}
