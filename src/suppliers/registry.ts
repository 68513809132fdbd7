import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { open, seal } from '../crypto/sealed-box.ts';
import type { BusinessDate } from '../dates.ts';
import { addDays, businessDateOf } from '../dates.ts';
import type { Db } from '../db/knex.ts';
import { NotFoundError } from '../errors.ts';
import { accountCode } from '../ledger/accounts.ts';
import type { Ledger } from '../ledger/ledger.ts';
import { assertFen, type Fen } from '../money.ts';
import type { ColumnMapping } from '../reconciliation/statement/columns.ts';
import { SupplierClient } from '../supplier-api/client.ts';

export type StatementFormat = 'csv' | 'csv-gbk' | 'xlsx';

export interface Supplier {
  id: number;
  code: string;
  name: string;
  apiBaseUrl: string;
  statementFormat: StatementFormat;
  statementColumns: Partial<ColumnMapping>;
  /** A statement amount within the larger of these of ours still matches. */
  reconToleranceFen: number;
  reconToleranceBp: number;
  active: boolean;
}

/** Where a supplier is paid: sealed at rest with its credentials, masked wherever shown but in the bank file. */
export interface BankAccount {
  bankName: string;
  accountName: string;
  accountNumber: string;
}

export interface QualifiedOffer {
  supplierId: number;
  supplierCode: string;
  supplierSku: string;
  costFen: Fen;
  priority: number;
}

export interface ExpiringQualification {
  supplierCode: string;
  supplierName: string;
  kind: 'business_licence' | 'brand_authorisation' | 'other';
  brand: string | null;
  documentNo: string;
  expiresOn: BusinessDate;
  daysLeft: number;
}

type Queryable = Db | Knex.Transaction;

/**
 * A supplier's credentials, sealed, beside (never inside) the Supplier value: a Supplier can be
 * logged, rendered or passed around without carrying its API key or callback secret, even sealed.
 */
type SealedCredentials = { apiKey: Buffer; callbackSecret: Buffer; bankAccount?: Buffer };
const credentialsOf = new WeakMap<Supplier, SealedCredentials>();

/** The columns of a supplier without its credentials, plain or sealed. */
const columns = ['id', 'code', 'name', 'api_base_url', 'statement_format', 'statement_columns', 'active', 'recon_tolerance_fen', 'recon_tolerance_bp'];
const credentialColumns = ['api_key_sealed', 'callback_secret_sealed', 'api_key', 'callback_secret', 'bank_account_sealed'];

/** Upstream suppliers: how to call them, what they sell us, and whether they may (资质). */
export class SupplierRegistry {
  /** `secretKey` seals and opens supplier credentials; reading suppliers (the dashboard) needs none. */
  constructor(private readonly db: Db, private readonly ledger: Ledger, private readonly secretKey?: Buffer) {}

  private key(): Buffer {
    if (!this.secretKey) throw new Error('SupplierRegistry was built without the supplier secrets key: it cannot seal or open credentials');
    return this.secretKey;
  }

  private toSupplier(r: Record<string, any>): Supplier {
    const supplier: Supplier = {
      id: r.id, code: r.code, name: r.name, apiBaseUrl: r.api_base_url,
      statementFormat: r.statement_format, statementColumns: r.statement_columns ?? {}, active: r.active,
      reconToleranceFen: r.recon_tolerance_fen ?? 0, reconToleranceBp: r.recon_tolerance_bp ?? 0,
    };
    // A row not sealed yet (sealPlainCredentials has not run since migration 016) is sealed in memory.
    const sealedOr = (sealed: Buffer | null, plain: string | null) => sealed ?? (plain !== null && plain !== undefined && this.secretKey ? seal(this.secretKey, plain) : undefined);
    const apiKey = sealedOr(r.api_key_sealed, r.api_key);
    const callbackSecret = sealedOr(r.callback_secret_sealed, r.callback_secret);
    if (apiKey && callbackSecret) credentialsOf.set(supplier, { apiKey, callbackSecret, bankAccount: r.bank_account_sealed ?? undefined });
    return supplier;
  }

  private credentials(supplier: Supplier): SealedCredentials {
    const sealed = credentialsOf.get(supplier);
    if (!sealed) throw new Error(`supplier ${supplier.code}: credentials are only available on a supplier read through a registry with the secrets key`);
    return sealed;
  }

  /** Seals a supplier secret (an API key, a callback secret, a bank account) under the supplier secrets key. */
  sealSecret(text: string): Buffer {
    return seal(this.key(), text);
  }

  /** The supplier's bank account (payout exports only), or undefined while none is entered. */
  bankAccount(supplier: Supplier): BankAccount | undefined {
    const sealed = this.credentials(supplier).bankAccount;
    return sealed && (JSON.parse(open(this.key(), sealed)) as BankAccount);
  }

  /** For verifying the supplier's callbacks only. */
  callbackSecret(supplier: Supplier): string {
    return open(this.key(), this.credentials(supplier).callbackSecret);
  }

  /**
   * Seals every credential still stored in plain text (rows from before migration 016) and clears
   * the plain value. Run at startup by the processes that hold the master key; idempotent, and
   * safe to run from several processes at once (each row is sealed under its row lock).
   */
  async sealPlainCredentials(): Promise<number> {
    const key = this.key();
    let sealed = 0;
    const pending = await this.db('suppliers').whereNotNull('api_key').orWhereNotNull('callback_secret').pluck('id');
    for (const id of pending) {
      await this.db.transaction(async (trx) => {
        const row = await trx('suppliers').where({ id }).forUpdate().first(['id', ...credentialColumns]);
        if (!row || (row.api_key === null && row.callback_secret === null)) return;
        await trx('suppliers').where({ id }).update({
          api_key_sealed: row.api_key === null ? row.api_key_sealed : seal(key, row.api_key), api_key: null,
          callback_secret_sealed: row.callback_secret === null ? row.callback_secret_sealed : seal(key, row.callback_secret), callback_secret: null,
        });
        sealed++;
      });
    }
    return sealed;
  }

  /** Registers (or updates) a supplier and opens its payable account. An existing callback secret is kept. */
  async upsert(input: { code: string; name: string; apiBaseUrl: string; apiKey: string; callbackSecret?: string; statementFormat?: StatementFormat; statementColumns?: Partial<ColumnMapping>; reconToleranceFen?: number; reconToleranceBp?: number }): Promise<Supplier> {
    const key = this.key();
    const [row] = await this.db('suppliers').insert({
      code: input.code, name: input.name, api_base_url: input.apiBaseUrl, api_key: null, api_key_sealed: seal(key, input.apiKey),
      callback_secret: null, callback_secret_sealed: seal(key, input.callbackSecret ?? randomBytes(24).toString('base64url')),
      statement_format: input.statementFormat ?? 'csv', statement_columns: JSON.stringify(input.statementColumns ?? {}),
      recon_tolerance_fen: input.reconToleranceFen ?? 0, recon_tolerance_bp: input.reconToleranceBp ?? 0,
    }).onConflict('code').merge([
      'name', 'api_base_url', 'api_key', 'api_key_sealed', 'statement_format', 'statement_columns', 'recon_tolerance_fen', 'recon_tolerance_bp',
    ]).returning([...columns, ...credentialColumns]);
    const supplier = this.toSupplier(row);
    await this.ledger.openAccount({ code: accountCode.supplierPayable(supplier.id), kind: 'supplier_payable', name: `应付 ${supplier.name} payable`, ownerType: 'supplier', ownerId: supplier.id });
    return supplier;
  }

  async byId(id: number, trx: Queryable = this.db): Promise<Supplier> {
    const row = await trx('suppliers').where({ id }).first([...columns, ...credentialColumns]);
    if (!row) throw new NotFoundError('supplier', id);
    return this.toSupplier(row);
  }

  async byCode(code: string, trx: Queryable = this.db): Promise<Supplier> {
    const row = await trx('suppliers').where({ code }).first([...columns, ...credentialColumns]);
    if (!row) throw new NotFoundError('supplier', code);
    return this.toSupplier(row);
  }

  async list(): Promise<Supplier[]> {
    return (await this.db('suppliers').orderBy('code').select([...columns, ...credentialColumns])).map((r) => this.toSupplier(r));
  }

  /**
   * An offer and its cost. A changed cost closes the current cost version and opens one from `from`
   * (default now), in one transaction: routing reads the version in force, a past order keeps its cost.
   */
  async setOffer(input: { supplierId: number; sku: string; supplierSku: string; costFen: Fen; priority?: number; active?: boolean; from?: Date; setBy?: number }, trx?: Knex.Transaction): Promise<void> {
    assertFen(input.costFen, 'cost');
    const run = async (q: Knex.Transaction) => {
      const before = await q('supplier_offers').where({ supplier_id: input.supplierId, sku_code: input.sku }).forUpdate().first('cost_fen');
      await q('supplier_offers').insert({
        supplier_id: input.supplierId, sku_code: input.sku, supplier_sku: input.supplierSku, cost_fen: input.costFen,
        priority: input.priority ?? 100, active: input.active ?? true,
      }).onConflict(['supplier_id', 'sku_code']).merge();
      if (before && Number(before.cost_fen) === input.costFen) return;
      const from = input.from ?? new Date();
      await q('supplier_offer_costs').where({ supplier_id: input.supplierId, sku_code: input.sku }).whereNull('valid_to').update({ valid_to: from });
      await q('supplier_offer_costs').insert({ supplier_id: input.supplierId, sku_code: input.sku, cost_fen: input.costFen, valid_from: from, set_by: input.setBy ?? null });
    };
    await (trx ? run(trx) : this.db.transaction(run));
  }

  /** The cost of an offer at an instant (the version in force then), or undefined if none was. */
  async costAt(supplierId: number, sku: string, at: Date, trx: Queryable = this.db): Promise<Fen | undefined> {
    const row = await trx('supplier_offer_costs').where({ supplier_id: supplierId, sku_code: sku }).where('valid_from', '<=', at)
      .where((w) => w.whereNull('valid_to').orWhere('valid_to', '>', at)).orderBy('valid_from', 'desc').first('cost_fen');
    return row ? Number(row.cost_fen) : undefined;
  }

  /**
   * A 资质 record with no document and no review, counted as approved, as every record was before
   * review existed (migration 018): for test fixtures only. People upload documents through
   * src/compliance/documents.ts, and a user other than the uploader approves them.
   */
  async addQualification(input: { supplierId: number; kind: 'business_licence' | 'brand_authorisation'; brand?: string; documentNo: string; validFrom: BusinessDate; expiresOn: BusinessDate }): Promise<void> {
    await this.db('supplier_qualifications').insert({
      supplier_id: input.supplierId, kind: input.kind, brand: input.brand ?? null, document_no: input.documentNo,
      valid_from: input.validFrom, expires_on: input.expiresOn, status: 'approved',
    });
  }

  /**
   * Suppliers that may serve a SKU on a day, best first: active, offering it, with an approved, valid
   * business licence and an approved, valid authorisation for the SKU's brand. An expired, pending or
   * rejected one is never used. The cost is the offer's cost version in force now.
   */
  async qualifiedFor(skuCode: string, on: BusinessDate = businessDateOf(new Date()), trx: Queryable = this.db): Promise<QualifiedOffer[]> {
    const { rows } = await trx.raw(
      `SELECT s.id, s.code, o.supplier_sku, coalesce(c.cost_fen, o.cost_fen) AS cost_fen, o.priority
         FROM supplier_offers o
         JOIN suppliers s ON s.id = o.supplier_id AND s.active
         JOIN skus k ON k.code = o.sku_code
         LEFT JOIN LATERAL (SELECT v.cost_fen FROM supplier_offer_costs v
                             WHERE v.supplier_id = o.supplier_id AND v.sku_code = o.sku_code AND v.valid_from <= now() AND (v.valid_to IS NULL OR v.valid_to > now())
                             ORDER BY v.valid_from DESC LIMIT 1) c ON true
        WHERE o.sku_code = ? AND o.active
          AND EXISTS (SELECT 1 FROM supplier_qualifications q WHERE q.supplier_id = s.id AND q.kind = 'business_licence' AND q.status = 'approved'
                        AND ?::date BETWEEN q.valid_from AND q.expires_on)
          AND EXISTS (SELECT 1 FROM supplier_qualifications q WHERE q.supplier_id = s.id AND q.kind = 'brand_authorisation' AND q.status = 'approved'
                        AND q.brand = k.brand AND ?::date BETWEEN q.valid_from AND q.expires_on)
        ORDER BY o.priority, 4, s.code`,
      [skuCode, on, on],
    );
    return rows.map((r: Record<string, any>) => ({ supplierId: r.id, supplierCode: r.code, supplierSku: r.supplier_sku, costFen: r.cost_fen, priority: r.priority }));
  }

  /** Qualifications that expire within `withinDays` of `today` (the latest document of each kind and brand). */
  async expiringQualifications(options: { withinDays?: number; today?: BusinessDate } = {}): Promise<ExpiringQualification[]> {
    const today = options.today ?? businessDateOf(new Date());
    const until = addDays(today, options.withinDays ?? 30);
    const { rows } = await this.db.raw(
      `SELECT DISTINCT ON (q.supplier_id, q.kind, q.brand) s.code, s.name, q.kind, q.brand, q.document_no, q.expires_on,
              (q.expires_on - ?::date) AS days_left
         FROM supplier_qualifications q JOIN suppliers s ON s.id = q.supplier_id
        WHERE q.status = 'approved'
        ORDER BY q.supplier_id, q.kind, q.brand, q.expires_on DESC`,
      [today],
    );
    return rows
      .filter((r: Record<string, any>) => r.expires_on <= until)
      .map((r: Record<string, any>) => ({
        supplierCode: r.code, supplierName: r.name, kind: r.kind, brand: r.brand, documentNo: r.document_no, expiresOn: r.expires_on, daysLeft: r.days_left,
      }))
      .sort((a: ExpiringQualification, b: ExpiringQualification) => a.daysLeft - b.daysLeft);
  }

  /** The HTTP client for a supplier's API: the only place its API key is opened. */
  client(supplier: Supplier, timeoutMs?: number): SupplierClient {
    return new SupplierClient({ baseUrl: supplier.apiBaseUrl, apiKey: open(this.key(), this.credentials(supplier).apiKey), timeoutMs });
  }
}
