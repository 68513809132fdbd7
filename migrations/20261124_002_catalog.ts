import type { Knex } from 'knex';

/**
 * Catalog (src/catalog), suppliers with offers and qualifications (src/suppliers), card code
 * inventory (src/inventory).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE skus (
      code                text PRIMARY KEY CHECK (code ~ '^[A-Z0-9][A-Z0-9_-]{1,39}$'),
      name_zh             text NOT NULL,
      name_en             text NOT NULL,
      -- qualification checks are per brand (e.g. 腾讯, 中国移动)
      brand               text NOT NULL,
      kind                text NOT NULL CHECK (kind IN ('card_code', 'direct_topup')),
      face_value_fen      bigint NOT NULL CHECK (face_value_fen > 0),
      currency            char(3) NOT NULL DEFAULT 'CNY',
      active              boolean NOT NULL DEFAULT true,
      -- card SKUs: procure a batch when available stock falls below the threshold
      low_stock_threshold int NOT NULL DEFAULT 0 CHECK (low_stock_threshold >= 0),
      procurement_batch   int NOT NULL DEFAULT 0 CHECK (procurement_batch >= 0),
      created_at          timestamptz NOT NULL DEFAULT now()
    );

    -- Versioned prices: a new price closes the current version; old versions are never changed,
    -- so an order keeps the price version it was sold at.
    CREATE TABLE sku_prices (
      id           bigserial PRIMARY KEY,
      sku_code     text NOT NULL REFERENCES skus (code),
      tier         text NOT NULL CHECK (tier IN ('default', 'silver', 'gold', 'reseller')),
      reseller_id  bigint,
      price_fen    bigint NOT NULL CHECK (price_fen > 0),
      valid_from   timestamptz NOT NULL DEFAULT now(),
      valid_to     timestamptz,
      CHECK ((tier = 'reseller') = (reseller_id IS NOT NULL)),
      CHECK (valid_to IS NULL OR valid_to > valid_from)
    );
    CREATE UNIQUE INDEX sku_prices_current ON sku_prices (sku_code, tier, coalesce(reseller_id, 0)) WHERE valid_to IS NULL;
    CREATE INDEX sku_prices_lookup ON sku_prices (sku_code, tier, reseller_id, valid_from);

    CREATE TABLE suppliers (
      id                bigserial PRIMARY KEY,
      code              text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9_-]{1,39}$'),
      name              text NOT NULL,
      api_base_url      text NOT NULL,
      api_key           text NOT NULL,
      callback_secret   text NOT NULL,
      statement_format  text NOT NULL DEFAULT 'csv' CHECK (statement_format IN ('csv', 'csv-gbk', 'xlsx')),
      -- extra header aliases for this supplier's statement columns
      statement_columns jsonb NOT NULL DEFAULT '{}'::jsonb,
      active            boolean NOT NULL DEFAULT true,
      created_at        timestamptz NOT NULL DEFAULT now()
    );

    -- Which suppliers sell which SKU, at what cost, in what order of preference.
    CREATE TABLE supplier_offers (
      supplier_id   bigint NOT NULL REFERENCES suppliers (id),
      sku_code      text NOT NULL REFERENCES skus (code),
      supplier_sku  text NOT NULL,
      cost_fen      bigint NOT NULL CHECK (cost_fen > 0),
      priority      int NOT NULL DEFAULT 100,
      active        boolean NOT NULL DEFAULT true,
      PRIMARY KEY (supplier_id, sku_code)
    );
    CREATE INDEX supplier_offers_sku ON supplier_offers (sku_code, priority);

    -- 资质: a business licence, and an authorisation per brand, each with an expiry date.
    CREATE TABLE supplier_qualifications (
      id           bigserial PRIMARY KEY,
      supplier_id  bigint NOT NULL REFERENCES suppliers (id),
      kind         text NOT NULL CHECK (kind IN ('business_licence', 'brand_authorisation')),
      brand        text,
      document_no  text NOT NULL,
      valid_from   date NOT NULL,
      expires_on   date NOT NULL,
      created_at   timestamptz NOT NULL DEFAULT now(),
      CHECK ((kind = 'brand_authorisation') = (brand IS NOT NULL)),
      CHECK (expires_on >= valid_from)
    );
    CREATE INDEX supplier_qualifications_supplier ON supplier_qualifications (supplier_id, kind, brand);

    CREATE TABLE card_batches (
      id              bigserial PRIMARY KEY,
      -- idempotency: importing the same delivery twice adds nothing
      batch_key       text NOT NULL UNIQUE,
      sku_code        text NOT NULL REFERENCES skus (code),
      supplier_id     bigint REFERENCES suppliers (id),
      source          text NOT NULL CHECK (source IN ('supplier_delivery', 'file')),
      file_name       text,
      unit_cost_fen   bigint NOT NULL CHECK (unit_cost_fen >= 0),
      code_count      int NOT NULL,
      received_at     timestamptz NOT NULL DEFAULT now()
    );

    -- The plain code is never stored: AES-256-GCM sealed, plus a keyed fingerprint for dedup.
    CREATE TABLE card_codes (
      id            bigserial PRIMARY KEY,
      -- no foreign key of its own: the batch references the SKU, and every code matches its batch
      -- (checked on import); a per-row check here would cost a bulk import dearly
      sku_code      text NOT NULL,
      batch_id      bigint NOT NULL REFERENCES card_batches (id),
      serial        text NOT NULL,
      code_sealed   bytea NOT NULL,
      fingerprint   bytea NOT NULL,
      expires_on    date,
      status        text NOT NULL DEFAULT 'available' CHECK (status IN ('available', 'delivered', 'void')),
      order_id      bigint,
      delivered_at  timestamptz,
      CHECK ((status = 'delivered') = (order_id IS NOT NULL))
    );
    CREATE UNIQUE INDEX card_codes_fingerprint ON card_codes (sku_code, fingerprint);
    -- allocation order: first expiring, first out (an order the primary key cannot serve, so the
    -- planner always walks this index and never the delivered rows)
    CREATE INDEX card_codes_available ON card_codes (sku_code, expires_on, id) WHERE status = 'available';
    CREATE INDEX card_codes_order ON card_codes (order_id) WHERE order_id IS NOT NULL;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS card_codes, card_batches, supplier_qualifications, supplier_offers, suppliers, sku_prices, skus CASCADE');
}
