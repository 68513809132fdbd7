import type { Knex } from 'knex';

/**
 * After-sales (售后), owned by src/aftersales:
 * - complaints: a reseller's complaint about a delivered card code or a top-up, one per
 *   (reseller, complaintId), each handled by a handleComplaint workflow. The outcome is one of
 *   replace, refund or reject; a money outcome is at most one (its ledger key is per complaint).
 *   `code_id` is the complained code (card orders); `replacement_code_id` the code delivered in
 *   its place. A replaced code is voided and detached from the order (status 'void', no order):
 *   the order still holds exactly its quantity of codes, and the old code is never sold again.
 * - complaint_events: the complaint's timeline (filed, the supplier's answers, escalations,
 *   decisions, callbacks). APPEND-ONLY (src/db/roles.ts).
 * - supplier_claims: a third source, 'complaint' (complaint_id), with the supplier's reference
 *   (the card serial, or the top-up's supplier transaction), netted off the payout like the others.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE complaints (
      id                   bigserial PRIMARY KEY,
      reseller_id          bigint NOT NULL REFERENCES resellers (id),
      complaint_key        text NOT NULL CHECK (length(complaint_key) BETWEEN 1 AND 64),
      request_hash         text NOT NULL,
      order_id             bigint NOT NULL REFERENCES orders (id),
      kind                 text NOT NULL CHECK (kind IN ('invalid_code', 'used_code', 'not_received', 'wrong_amount')),
      serial               text,
      code_id              bigint REFERENCES card_codes (id),
      note                 text NOT NULL DEFAULT '',
      status               text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'replaced', 'refunded', 'rejected')),
      supplier_id          bigint REFERENCES suppliers (id),
      supplier_verdict     text CHECK (supplier_verdict IN ('valid', 'used', 'invalid', 'delivered', 'not_delivered', 'unknown')),
      escalation           text CHECK (escalation IN ('first_response', 'resolution')),
      escalated_at         timestamptz,
      first_response_due   timestamptz NOT NULL,
      resolution_due       timestamptz NOT NULL,
      decision_reason      text,
      decided_by           text,
      decided_by_user_id   bigint REFERENCES dashboard_users (id),
      decided_at           timestamptz,
      refund_fen           bigint CHECK (refund_fen > 0),
      replacement_code_id  bigint UNIQUE REFERENCES card_codes (id),
      created_at           timestamptz NOT NULL DEFAULT now(),
      UNIQUE (reseller_id, complaint_key),
      CHECK ((status = 'open') = (decided_at IS NULL)),
      CHECK ((status = 'refunded') = (refund_fen IS NOT NULL)),
      CHECK ((status = 'replaced') = (replacement_code_id IS NOT NULL))
    );
    CREATE INDEX complaints_open ON complaints (resolution_due) WHERE status = 'open';
    CREATE INDEX complaints_order ON complaints (order_id);
    -- one live complaint per code, and per top-up: a refunded or replaced code is not complained of twice
    CREATE UNIQUE INDEX complaints_one_per_code ON complaints (code_id) WHERE code_id IS NOT NULL AND status <> 'rejected';
    CREATE UNIQUE INDEX complaints_one_per_topup ON complaints (order_id) WHERE code_id IS NULL AND status <> 'rejected';
    CREATE INDEX complaints_recent ON complaints (created_at DESC, id DESC);

    CREATE TABLE complaint_events (
      id            bigserial PRIMARY KEY,
      complaint_id  bigint NOT NULL REFERENCES complaints (id),
      at            timestamptz NOT NULL DEFAULT now(),
      kind          text NOT NULL,
      actor         text NOT NULL,
      actor_user_id bigint REFERENCES dashboard_users (id),
      detail        jsonb NOT NULL DEFAULT '{}'::jsonb
    );
    CREATE INDEX complaint_events_complaint ON complaint_events (complaint_id, id);

    -- support's order search: by recharge account, by a delivered (or replaced) card's serial
    CREATE INDEX orders_account ON orders (account) WHERE account IS NOT NULL;
    CREATE INDEX card_codes_serial_out ON card_codes (serial) WHERE status <> 'available';

    ALTER TABLE supplier_claims
      ADD COLUMN complaint_id bigint UNIQUE REFERENCES complaints (id),
      ADD COLUMN reference text,
      DROP CONSTRAINT supplier_claims_one_subject,
      ADD CONSTRAINT supplier_claims_one_subject CHECK (num_nonnulls(case_id, card_batch_id, complaint_id) = 1),
      ADD CONSTRAINT supplier_claims_complaint_subject CHECK ((source = 'complaint') = (complaint_id IS NOT NULL));
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DELETE FROM supplier_claims WHERE source = 'complaint';
    ALTER TABLE supplier_claims
      DROP CONSTRAINT IF EXISTS supplier_claims_complaint_subject,
      DROP CONSTRAINT IF EXISTS supplier_claims_one_subject,
      DROP COLUMN IF EXISTS complaint_id, DROP COLUMN IF EXISTS reference,
      ADD CONSTRAINT supplier_claims_one_subject CHECK (num_nonnulls(case_id, card_batch_id) = 1);
    DROP TABLE IF EXISTS complaint_events, complaints;
    DROP INDEX IF EXISTS orders_account, card_codes_serial_out;
  `);
}
