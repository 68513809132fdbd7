import type { Knex } from 'knex';

/**
 * Wallet recharges (充值), owned by src/wallet/recharges.ts: money a reseller paid in, recorded by
 * finance. The rules hold in the database:
 * - the channel's reference is unique per channel (a payment is recorded once);
 * - four eyes on user ids: the approver of a recharge above the threshold is not who recorded it;
 * - a credited recharge names its ledger entry, a reversed one also its reversing entry and a reason;
 *   a pending or rejected one has none. Rows are never deleted; the amount is never edited.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE wallet_recharges (
      id                   bigserial PRIMARY KEY,
      reseller_id          bigint NOT NULL REFERENCES resellers (id),
      channel              text NOT NULL CHECK (channel IN ('bank', 'alipay', 'wechat')),
      payer                text NOT NULL CHECK (length(payer) BETWEEN 1 AND 200),
      amount_fen           bigint NOT NULL CHECK (amount_fen > 0),
      reference            text NOT NULL CHECK (length(reference) BETWEEN 1 AND 100),
      value_date           date NOT NULL,
      status               text NOT NULL CHECK (status IN ('pending', 'credited', 'rejected', 'reversed')),
      source               text NOT NULL DEFAULT 'manual' CHECK (length(source) <= 300),
      recorded_by_user_id  bigint NOT NULL REFERENCES dashboard_users (id),
      recorded_at          timestamptz NOT NULL DEFAULT now(),
      approved_by_user_id  bigint REFERENCES dashboard_users (id),
      approved_at          timestamptz,
      entry_key            text,
      closed_by_user_id    bigint REFERENCES dashboard_users (id),
      closed_at            timestamptz,
      close_reason         text,
      reversal_entry_key   text,
      UNIQUE (channel, reference),
      CONSTRAINT wallet_recharges_four_eyes CHECK (approved_by_user_id IS NULL OR approved_by_user_id <> recorded_by_user_id),
      CONSTRAINT wallet_recharges_postings CHECK (
        (status = 'pending' AND entry_key IS NULL AND reversal_entry_key IS NULL)
        OR (status = 'rejected' AND entry_key IS NULL AND reversal_entry_key IS NULL AND closed_by_user_id IS NOT NULL AND close_reason IS NOT NULL)
        OR (status = 'credited' AND entry_key IS NOT NULL AND reversal_entry_key IS NULL)
        OR (status = 'reversed' AND entry_key IS NOT NULL AND reversal_entry_key IS NOT NULL AND closed_by_user_id IS NOT NULL AND close_reason IS NOT NULL))
    );
    CREATE INDEX wallet_recharges_reseller ON wallet_recharges (reseller_id, value_date);
    CREATE INDEX wallet_recharges_pending ON wallet_recharges (recorded_at) WHERE status = 'pending';
    CREATE OR REPLACE FUNCTION wallet_recharges_keep_amount() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.amount_fen <> OLD.amount_fen OR NEW.reseller_id <> OLD.reseller_id OR NEW.channel <> OLD.channel OR NEW.reference <> OLD.reference THEN
        RAISE EXCEPTION 'a recharge is never edited: reverse it and record it again';
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER wallet_recharges_keep_amount BEFORE UPDATE ON wallet_recharges FOR EACH ROW EXECUTE FUNCTION wallet_recharges_keep_amount();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS wallet_recharges; DROP FUNCTION IF EXISTS wallet_recharges_keep_amount()');
}
