import type { Knex } from 'knex';

/**
 * Administration of suppliers, SKUs and 资质 (issue 18), and the supplier's bank account (issue 23).
 *
 * - The `compliance` role: it reviews 资质 documents.
 * - supplier_offer_costs: an offer's cost versioned by effective time, as sku_prices are; a new cost
 *   closes the current version. supplier_offers.cost_fen stays as the current cost (the same
 *   transaction writes both); routing reads the version in force at the instant it routes, and an
 *   order keeps the cost it was routed at (the workflow carries it, the supplier transaction and the
 *   order record it). Existing offers get a first version, in force since ever.
 * - supplier_qualifications become reviewed documents: a file (kept by SHA-256 outside the database,
 *   like statements), a status (pending until a user other than the uploader approves or rejects it,
 *   with a reason), and the kind `other`. Only an approved, unexpired document counts for routing.
 *   Rows from before this migration carry no document and no reviewer: they stay approved
 *   (they were the only kind there was), and a later upload replaces them.
 *   Four eyes on user ids: a CHECK refuses a reviewer who is the uploader.
 * - suppliers.bank_account_sealed: bank name, account name and number (JSON), sealed with the
 *   supplier secrets key like its credentials; NULL until finance enters it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE dashboard_users DROP CONSTRAINT IF EXISTS dashboard_users_role_check;
    ALTER TABLE dashboard_users ADD CONSTRAINT dashboard_users_role_check CHECK (role IN ('admin', 'finance', 'ops', 'viewer', 'compliance'));

    CREATE TABLE supplier_offer_costs (
      id           bigserial PRIMARY KEY,
      supplier_id  bigint NOT NULL,
      sku_code     text NOT NULL,
      cost_fen     bigint NOT NULL CHECK (cost_fen > 0),
      valid_from   timestamptz NOT NULL DEFAULT now(),
      valid_to     timestamptz,
      set_by       bigint REFERENCES dashboard_users (id),
      FOREIGN KEY (supplier_id, sku_code) REFERENCES supplier_offers (supplier_id, sku_code),
      CHECK (valid_to IS NULL OR valid_to > valid_from)
    );
    CREATE UNIQUE INDEX supplier_offer_costs_current ON supplier_offer_costs (supplier_id, sku_code) WHERE valid_to IS NULL;
    CREATE INDEX supplier_offer_costs_lookup ON supplier_offer_costs (supplier_id, sku_code, valid_from);
    INSERT INTO supplier_offer_costs (supplier_id, sku_code, cost_fen, valid_from)
      SELECT supplier_id, sku_code, cost_fen, '-infinity'::timestamptz FROM supplier_offers;

    ALTER TABLE supplier_qualifications DROP CONSTRAINT IF EXISTS supplier_qualifications_kind_check;
    ALTER TABLE supplier_qualifications
      ADD CONSTRAINT supplier_qualifications_kind_check CHECK (kind IN ('business_licence', 'brand_authorisation', 'other')),
      ADD COLUMN status text NOT NULL DEFAULT 'approved' CHECK (status IN ('pending', 'approved', 'rejected')),
      ADD COLUMN document_sha256 text CHECK (document_sha256 ~ '^[0-9a-f]{64}$'),
      ADD COLUMN document_name text,
      ADD COLUMN document_type text CHECK (document_type IN ('application/pdf', 'image/jpeg', 'image/png')),
      ADD COLUMN document_bytes bigint CHECK (document_bytes > 0),
      ADD COLUMN uploaded_by bigint REFERENCES dashboard_users (id),
      ADD COLUMN reviewed_by bigint REFERENCES dashboard_users (id),
      ADD COLUMN reviewed_at timestamptz,
      ADD COLUMN review_reason text,
      ADD CONSTRAINT supplier_qualifications_four_eyes CHECK (reviewed_by IS NULL OR uploaded_by IS NULL OR reviewed_by <> uploaded_by),
      ADD CONSTRAINT supplier_qualifications_reviewed CHECK ((status = 'pending') = (reviewed_by IS NULL AND reviewed_at IS NULL) OR uploaded_by IS NULL),
      ADD CONSTRAINT supplier_qualifications_rejected_why CHECK (status <> 'rejected' OR length(trim(review_reason)) > 0),
      ADD CONSTRAINT supplier_qualifications_document CHECK ((document_sha256 IS NULL) = (uploaded_by IS NULL));
    ALTER TABLE supplier_qualifications ALTER COLUMN status SET DEFAULT 'pending';
    CREATE INDEX supplier_qualifications_pending ON supplier_qualifications (created_at) WHERE status = 'pending';

    ALTER TABLE suppliers ADD COLUMN bank_account_sealed bytea;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE suppliers DROP COLUMN bank_account_sealed;
    DROP INDEX supplier_qualifications_pending;
    DELETE FROM supplier_qualifications WHERE kind = 'other' OR status <> 'approved';
    ALTER TABLE supplier_qualifications
      DROP CONSTRAINT supplier_qualifications_document, DROP CONSTRAINT supplier_qualifications_rejected_why,
      DROP CONSTRAINT supplier_qualifications_reviewed, DROP CONSTRAINT supplier_qualifications_four_eyes,
      DROP COLUMN review_reason, DROP COLUMN reviewed_at, DROP COLUMN reviewed_by, DROP COLUMN uploaded_by,
      DROP COLUMN document_bytes, DROP COLUMN document_type, DROP COLUMN document_name, DROP COLUMN document_sha256, DROP COLUMN status,
      DROP CONSTRAINT supplier_qualifications_kind_check,
      ADD CONSTRAINT supplier_qualifications_kind_check CHECK (kind IN ('business_licence', 'brand_authorisation'));
    DROP TABLE supplier_offer_costs;
    UPDATE dashboard_users SET role = 'viewer' WHERE role = 'compliance';
    ALTER TABLE dashboard_users DROP CONSTRAINT dashboard_users_role_check;
    ALTER TABLE dashboard_users ADD CONSTRAINT dashboard_users_role_check CHECK (role IN ('admin', 'finance', 'ops', 'viewer'));
  `);
}
