import type { Knex } from 'knex';

/**
 * Supplier health routing (src/routing) and alerts (src/alerts).
 *
 * supplier_call_outcomes: one row per supplier answer that says how a top-up call went: a final
 * result (written by a trigger when a supplier_transactions row becomes success or failed, whatever
 * path told us: callback, lookup, ops) or a call that errored (timeout, 5xx; written by the
 * activity). The rolling success rate and latency per supplier and SKU are read from it. Pruned by
 * housekeeping after a day.
 *
 * supplier_breakers: the circuit breaker per supplier and SKU (closed, open, half_open) and an ops
 * override (auto, force_open, force_closed), audited.
 *
 * alert_channels: group robots and signed webhooks, their secret sealed. alert_states: one row per
 * rule and subject; `episode` counts the times it started firing (the dedup key of a notice).
 * alert_deliveries: a notice to a channel (firing or resolved), pending until delivered.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE supplier_call_outcomes (
      id           bigserial PRIMARY KEY,
      supplier_id  bigint NOT NULL REFERENCES suppliers (id),
      sku_code     text NOT NULL,
      kind         text NOT NULL CHECK (kind IN ('topup', 'card_batch')),
      outcome      text NOT NULL CHECK (outcome IN ('success', 'failed', 'error')),
      latency_ms   int NOT NULL DEFAULT 0 CHECK (latency_ms >= 0),
      request_id   text,
      at           timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX supplier_call_outcomes_recent ON supplier_call_outcomes (sku_code, at);
    CREATE INDEX supplier_call_outcomes_at ON supplier_call_outcomes (at);

    CREATE FUNCTION record_supplier_outcome() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      IF NEW.status IN ('success', 'failed') AND OLD.status NOT IN ('success', 'failed') THEN
        INSERT INTO supplier_call_outcomes (supplier_id, sku_code, kind, outcome, latency_ms, request_id)
        VALUES (NEW.supplier_id, NEW.sku_code, NEW.kind, NEW.status,
                greatest(0, least(2147483647, (extract(epoch FROM (coalesce(NEW.completed_at, now()) - NEW.created_at)) * 1000)::bigint))::int,
                NEW.request_id);
      END IF;
      RETURN NEW;
    END
    $fn$;
    CREATE TRIGGER supplier_transactions_outcome AFTER UPDATE OF status ON supplier_transactions
      FOR EACH ROW EXECUTE FUNCTION record_supplier_outcome();

    CREATE TABLE supplier_breakers (
      supplier_id     bigint NOT NULL REFERENCES suppliers (id),
      sku_code        text NOT NULL,
      state           text NOT NULL DEFAULT 'closed' CHECK (state IN ('closed', 'open', 'half_open')),
      opened_at       timestamptz,
      half_open_at    timestamptz,
      last_probe_at   timestamptz,
      override        text NOT NULL DEFAULT 'auto' CHECK (override IN ('auto', 'force_open', 'force_closed')),
      override_by_user_id bigint REFERENCES dashboard_users (id),
      override_reason text,
      changed_at      timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (supplier_id, sku_code)
    );

    CREATE TABLE alert_channels (
      id             bigserial PRIMARY KEY,
      name           text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 80),
      kind           text NOT NULL CHECK (kind IN ('dingtalk', 'wecom', 'feishu', 'webhook')),
      url            text NOT NULL,
      secret_sealed  bytea NOT NULL,
      active         boolean NOT NULL DEFAULT true,
      created_at     timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE alert_states (
      rule          text NOT NULL,
      subject       text NOT NULL,
      status        text NOT NULL CHECK (status IN ('firing', 'resolved')),
      episode       int NOT NULL DEFAULT 1,
      summary       text NOT NULL,
      details       jsonb NOT NULL DEFAULT '{}'::jsonb,
      fired_at      timestamptz NOT NULL DEFAULT now(),
      last_seen_at  timestamptz NOT NULL DEFAULT now(),
      resolved_at   timestamptz,
      PRIMARY KEY (rule, subject)
    );

    CREATE TABLE alert_deliveries (
      id            bigserial PRIMARY KEY,
      rule          text NOT NULL,
      subject       text NOT NULL,
      episode       int NOT NULL,
      event         text NOT NULL CHECK (event IN ('firing', 'resolved')),
      channel_id    bigint NOT NULL REFERENCES alert_channels (id),
      summary       text NOT NULL,
      status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'abandoned')),
      attempts      int NOT NULL DEFAULT 0,
      last_error    text,
      created_at    timestamptz NOT NULL DEFAULT now(),
      delivered_at  timestamptz,
      UNIQUE (rule, subject, episode, event, channel_id)
    );
    CREATE INDEX alert_deliveries_pending ON alert_deliveries (id) WHERE status = 'pending';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE IF EXISTS alert_deliveries; DROP TABLE IF EXISTS alert_states; DROP TABLE IF EXISTS alert_channels;
    DROP TABLE IF EXISTS supplier_breakers;
    DROP TRIGGER IF EXISTS supplier_transactions_outcome ON supplier_transactions; DROP FUNCTION IF EXISTS record_supplier_outcome();
    DROP TABLE IF EXISTS supplier_call_outcomes;
  `);
}
