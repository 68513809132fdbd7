import type { Knex } from 'knex';

/**
 * Resellers, their API credentials and replay protection, and orders. Owned by src/resellers
 * (resellers, api_nonces) and src/orders (orders, order_events).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE resellers (
      id                  bigserial PRIMARY KEY,
      code                text NOT NULL UNIQUE,
      name                text NOT NULL,
      tier                text NOT NULL DEFAULT 'default' CHECK (tier IN ('default', 'silver', 'gold')),
      status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
      callback_url        text,
      api_key             text NOT NULL UNIQUE,
      -- AES-256-GCM sealed: HMAC verification needs the secret itself, so it cannot be a hash
      api_secret_sealed   bytea NOT NULL,
      created_at          timestamptz NOT NULL DEFAULT now()
    );

    -- A nonce may be used once; rows older than the signature window are pruned.
    CREATE TABLE api_nonces (
      reseller_id  bigint NOT NULL REFERENCES resellers (id),
      nonce        text NOT NULL,
      seen_at      timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (reseller_id, nonce)
    );
    CREATE INDEX api_nonces_seen_at ON api_nonces (seen_at);

    -- Money held for a direct top-up between the charge and the supplier's answer.
    INSERT INTO ledger_account_kinds (kind, normal_side, no_overdraft, label_zh, label_en)
      VALUES ('order_holds', 'credit', false, '待履约订单', 'Orders in progress');

    CREATE TABLE orders (
      id                 bigserial PRIMARY KEY,
      reseller_id        bigint NOT NULL REFERENCES resellers (id),
      -- the reseller's own id: a repeat returns the original order, never a second charge
      reseller_order_id  text NOT NULL CHECK (length(reseller_order_id) BETWEEN 1 AND 64),
      request_hash       text NOT NULL,
      sku_code           text NOT NULL,
      kind               text NOT NULL CHECK (kind IN ('card_code', 'direct_topup')),
      quantity           int NOT NULL CHECK (quantity BETWEEN 1 AND 100),
      account            text,
      unit_price_fen     bigint NOT NULL CHECK (unit_price_fen >= 0),
      amount_fen         bigint NOT NULL CHECK (amount_fen >= 0),
      price_version_id   bigint,
      cost_fen           bigint,
      margin_fen         bigint GENERATED ALWAYS AS (amount_fen - cost_fen) STORED,
      status             text NOT NULL CHECK (status IN ('delivered', 'processing', 'stuck', 'succeeded', 'refunded')),
      supplier_id        bigint,
      supplier_request_id text,
      supplier_txn_id    text,
      business_date      date NOT NULL,
      created_at         timestamptz NOT NULL DEFAULT now(),
      completed_at       timestamptz,
      UNIQUE (reseller_id, reseller_order_id)
    );
    CREATE INDEX orders_open ON orders (status, created_at) WHERE status IN ('processing', 'stuck');
    CREATE INDEX orders_business_date ON orders (business_date, sku_code);
    CREATE INDEX orders_supplier_request ON orders (supplier_request_id) WHERE supplier_request_id IS NOT NULL;

    -- Every order we place with a supplier (a top-up attempt or a card batch), keyed by the request
    -- id we send as the supplier's idempotency key. How a supplier callback finds its order, and
    -- what the daily reconciliation compares the supplier's statement against.
    CREATE TABLE supplier_transactions (
      request_id          text PRIMARY KEY,
      supplier_id         bigint NOT NULL,
      kind                text NOT NULL CHECK (kind IN ('topup', 'card_batch')),
      order_id            bigint REFERENCES orders (id),
      procurement_run_id  bigint,
      sku_code            text NOT NULL,
      supplier_sku        text NOT NULL,
      quantity            int NOT NULL CHECK (quantity > 0),
      cost_fen            bigint NOT NULL CHECK (cost_fen >= 0),
      status              text NOT NULL CHECK (status IN ('processing', 'success', 'failed', 'unknown')),
      supplier_order_id   text,
      supplier_txn_id     text,
      completed_at        timestamptz,
      -- the Asia/Shanghai day it completed: which daily statement it belongs to
      business_date       date,
      created_at          timestamptz NOT NULL DEFAULT now(),
      updated_at          timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX supplier_transactions_order ON supplier_transactions (order_id);
    CREATE INDEX supplier_transactions_day ON supplier_transactions (supplier_id, business_date);

    CREATE TABLE callback_deliveries (
      id           bigserial PRIMARY KEY,
      order_id     bigint NOT NULL REFERENCES orders (id),
      url          text NOT NULL,
      attempt      int NOT NULL,
      status_code  int,
      error        text,
      delivered    boolean NOT NULL,
      duration_ms  int,
      at           timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX callback_deliveries_order ON callback_deliveries (order_id);

    -- Who did what, when and why: ops and finance actions, from the dashboard or the CLI.
    CREATE TABLE audit_log (
      id            bigserial PRIMARY KEY,
      actor         text NOT NULL,
      action        text NOT NULL,
      subject_type  text NOT NULL,
      subject_id    text NOT NULL,
      reason        text NOT NULL DEFAULT '',
      details       jsonb NOT NULL DEFAULT '{}'::jsonb,
      at            timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX audit_log_subject ON audit_log (subject_type, subject_id);
    CREATE INDEX audit_log_at ON audit_log (at DESC);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE IF EXISTS audit_log, callback_deliveries, supplier_transactions, orders, api_nonces, resellers CASCADE;
    DELETE FROM ledger_account_kinds WHERE kind = 'order_holds';
  `);
}
