import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { Fields } from '../admin/fields.ts';
import { recordAudit } from '../audit/audit-log.ts';
import type { Db } from '../db/knex.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import type { Fen } from '../money.ts';
import { assertMay, type Actor } from '../users/actor.ts';
import type { BankAccount, Supplier, SupplierRegistry } from './registry.ts';

const SUPPLIER_CODE = /^[a-z0-9][a-z0-9_-]{1,39}$/;
const SKU_CODE = /^[A-Z0-9][A-Z0-9_-]{1,39}$/;

/** An API endpoint: http(s), a host, no credentials in it (the API key is sealed apart). */
function apiUrl(fields: Fields, field: string, value: unknown): string {
  const text = fields.text(field, value, { max: 300 });
  if (!text) return text;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    fields.fail(field, 'a URL, e.g. https://api.supplier.example/v1');
    return text;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fields.fail(field, 'http:// or https://');
  else if (url.username || url.password) fields.fail(field, 'no user or password in the URL: the API key is entered apart and sealed');
  return text;
}

/** What a person sees of a bank account anywhere but the file sent to the bank: the last four digits. */
export const maskAccountNumber = (number: string): string => (number.length <= 4 ? '*'.repeat(number.length) : `${'*'.repeat(Math.min(number.length - 4, 12))}${number.slice(-4)}`);
export const maskedBankAccount = (account: BankAccount): BankAccount => ({ ...account, accountNumber: maskAccountNumber(account.accountNumber) });

export interface SupplierOfferView {
  skuCode: string;
  supplierSku: string;
  costFen: Fen;
  priority: number;
  active: boolean;
  costHistory: { costFen: Fen; validFrom: Date; validTo: Date | null }[];
}

/**
 * Supplier administration: create, edit, deactivate, credentials (the callback secret is shown once,
 * on create and rotate, then only sealed), bank account (sealed), offers with versioned costs.
 * Every action takes an Actor allowed to act on `catalog` (bank account: `settlement`), validates
 * every field, and is audited with what changed and why. The dashboard and the CLI both call it.
 */
export class SupplierAdmin {
  readonly registry: SupplierRegistry;

  /** `registry` must hold the supplier secrets key (it seals credentials and bank accounts). */
  constructor(private readonly db: Db, registry: SupplierRegistry) {
    this.registry = registry;
  }

  /** Creates a supplier; returns its callback secret, the only time it is shown. */
  async create(actor: Actor, input: { code: unknown; name: unknown; apiBaseUrl: unknown; apiKey: unknown; reason?: unknown }): Promise<{ supplier: Supplier; callbackSecret: string }> {
    assertMay(actor, 'catalog');
    const f = new Fields();
    const code = f.text('code', input.code, { pattern: SUPPLIER_CODE, hint: '2-40 lower-case letters, digits, _ or -' });
    const name = f.text('name', input.name, { max: 100 });
    const apiBaseUrl = apiUrl(f, 'apiBaseUrl', input.apiBaseUrl);
    const apiKey = f.text('apiKey', input.apiKey, { max: 500 });
    const reason = f.text('reason', input.reason ?? 'new supplier', { max: 500 });
    if (code && SUPPLIER_CODE.test(code) && (await this.db('suppliers').where({ code }).first('id'))) f.fail('code', `a supplier ${code} exists already`);
    f.done();
    const callbackSecret = randomBytes(24).toString('base64url');
    const supplier = await this.registry.upsert({ code, name, apiBaseUrl, apiKey, callbackSecret });
    await recordAudit(this.db, { actor, action: 'supplier.create', subjectType: 'supplier', subjectId: code, reason, details: { name, apiBaseUrl } });
    return { supplier, callbackSecret };
  }

  /** Edits name and API endpoint; a new API key when one is given (sealed; never shown again). */
  async edit(actor: Actor, codeIn: string, input: { name?: unknown; apiBaseUrl?: unknown; apiKey?: unknown; reason: unknown }): Promise<Supplier> {
    assertMay(actor, 'catalog');
    const before = await this.registry.byCode(codeIn);
    const f = new Fields();
    const name = input.name === undefined || input.name === '' ? before.name : f.text('name', input.name, { max: 100 });
    const apiBaseUrl = input.apiBaseUrl === undefined || input.apiBaseUrl === '' ? before.apiBaseUrl : apiUrl(f, 'apiBaseUrl', input.apiBaseUrl);
    const apiKey = input.apiKey === undefined || input.apiKey === '' ? undefined : f.text('apiKey', input.apiKey, { max: 500 });
    const reason = f.reason(input.reason);
    f.done();
    const changes: Record<string, unknown> = {};
    if (name !== before.name) changes.name = { from: before.name, to: name };
    if (apiBaseUrl !== before.apiBaseUrl) changes.apiBaseUrl = { from: before.apiBaseUrl, to: apiBaseUrl };
    if (apiKey !== undefined) changes.apiKey = 'replaced (sealed)';
    if (Object.keys(changes).length === 0) throw new ValidationError('nothing to change', { fields: { _: 'nothing to change' } });
    await this.db.transaction(async (trx) => {
      await trx('suppliers').where({ id: before.id }).update({ name, api_base_url: apiBaseUrl, ...(apiKey !== undefined ? { api_key_sealed: this.registry.sealSecret(apiKey), api_key: null } : {}) });
      await recordAudit(trx, { actor, action: 'supplier.edit', subjectType: 'supplier', subjectId: before.code, reason, details: changes });
    });
    return this.registry.byCode(before.code);
  }

  /** A new callback secret (the old one stops working at once): shown this once. */
  async rotateCallbackSecret(actor: Actor, code: string, reasonIn: unknown): Promise<string> {
    assertMay(actor, 'catalog');
    const supplier = await this.registry.byCode(code);
    const f = new Fields();
    const reason = f.reason(reasonIn);
    f.done();
    const secret = randomBytes(24).toString('base64url');
    await this.db.transaction(async (trx) => {
      await trx('suppliers').where({ id: supplier.id }).update({ callback_secret_sealed: this.registry.sealSecret(secret), callback_secret: null });
      await recordAudit(trx, { actor, action: 'supplier.rotate_callback_secret', subjectType: 'supplier', subjectId: code, reason });
    });
    return secret;
  }

  /** Deactivates (routing stops using it at once) or reactivates a supplier. */
  async setActive(actor: Actor, code: string, active: boolean, reasonIn: unknown): Promise<void> {
    assertMay(actor, 'catalog');
    const supplier = await this.registry.byCode(code);
    const f = new Fields();
    const reason = f.reason(reasonIn);
    f.done();
    if (supplier.active === active) throw new ValidationError(`supplier ${code} is ${active ? 'active' : 'inactive'} already`, { fields: { _: `already ${active ? 'active' : 'inactive'}` } });
    await this.db.transaction(async (trx) => {
      await trx('suppliers').where({ id: supplier.id }).update({ active });
      await recordAudit(trx, { actor, action: active ? 'supplier.activate' : 'supplier.deactivate', subjectType: 'supplier', subjectId: code, reason });
    });
  }

  /** The bank account payouts go to, sealed. Finance (settlement) sets it; the audit shows it masked. */
  async setBankAccount(actor: Actor, code: string, input: { bankName: unknown; accountName: unknown; accountNumber: unknown; reason: unknown }): Promise<void> {
    assertMay(actor, 'settlement');
    const supplier = await this.registry.byCode(code);
    const f = new Fields();
    const bankName = f.text('bankName', input.bankName, { max: 100 });
    const accountName = f.text('accountName', input.accountName, { max: 100 });
    const accountNumber = f.text('accountNumber', String(input.accountNumber ?? '').replace(/[\s-]/g, ''), { pattern: /^\d{8,34}$/, hint: '8-34 digits (spaces and dashes are dropped)' });
    const reason = f.reason(input.reason);
    f.done();
    const account: BankAccount = { bankName, accountName, accountNumber };
    const before = this.registry.bankAccount(supplier);
    await this.db.transaction(async (trx) => {
      await trx('suppliers').where({ id: supplier.id }).update({ bank_account_sealed: this.registry.sealSecret(JSON.stringify(account)) });
      await recordAudit(trx, {
        actor, action: 'supplier.bank_account', subjectType: 'supplier', subjectId: code, reason,
        details: { from: before ? maskedBankAccount(before) : null, to: maskedBankAccount(account) },
      });
    });
  }

  /** The bank account, masked (what a page or a list shows). */
  async maskedBankAccount(code: string): Promise<BankAccount | undefined> {
    const account = this.registry.bankAccount(await this.registry.byCode(code));
    return account && maskedBankAccount(account);
  }

  /**
   * An offer: the supplier's product code, cost, priority, active. A changed cost is a new cost
   * version from `from` (default now): orders routed before keep the cost they were routed at.
   */
  async setOffer(actor: Actor, input: { supplier: string; sku: unknown; supplierSku: unknown; cost: unknown; priority?: unknown; active?: unknown; from?: Date; reason: unknown }): Promise<void> {
    assertMay(actor, 'catalog');
    const supplier = await this.registry.byCode(input.supplier);
    const f = new Fields();
    const sku = f.text('sku', input.sku, { pattern: SKU_CODE, hint: 'a SKU code' });
    const supplierSku = f.text('supplierSku', input.supplierSku, { max: 100 });
    const costFen = f.yuan('cost', input.cost);
    const priority = f.int('priority', input.priority, { min: 0, max: 10_000, fallback: 100 });
    const active = input.active === undefined ? true : input.active === true || input.active === 'true' || input.active === 'on' || input.active === '1';
    const reason = f.reason(input.reason);
    if (sku && SKU_CODE.test(sku) && !(await this.db('skus').where({ code: sku }).first('code'))) f.fail('sku', `no SKU ${sku}`);
    if (input.from && (!(input.from instanceof Date) || Number.isNaN(input.from.getTime()))) f.fail('from', 'an instant');
    f.done();
    await this.db.transaction(async (trx: Knex.Transaction) => {
      const before = await trx('supplier_offers').where({ supplier_id: supplier.id, sku_code: sku }).first();
      await this.registry.setOffer({ supplierId: supplier.id, sku, supplierSku, costFen, priority, active, from: input.from, setBy: actor.userId }, trx);
      await recordAudit(trx, {
        actor, action: before ? 'supplier.offer_edit' : 'supplier.offer_create', subjectType: 'supplier', subjectId: supplier.code, reason,
        details: {
          sku, supplierSku, costFen, priority, active,
          ...(before ? { before: { supplierSku: before.supplier_sku, costFen: Number(before.cost_fen), priority: before.priority, active: before.active } } : {}),
          ...(input.from ? { from: input.from.toISOString() } : {}),
        },
      });
    });
  }

  async offers(code: string): Promise<SupplierOfferView[]> {
    const supplier = await this.registry.byCode(code);
    const offers = await this.db('supplier_offers').where({ supplier_id: supplier.id }).orderBy('sku_code');
    const costs = await this.db('supplier_offer_costs').where({ supplier_id: supplier.id }).orderBy([{ column: 'sku_code' }, { column: 'valid_from', order: 'desc' }]);
    return offers.map((o: Record<string, any>) => ({
      skuCode: o.sku_code, supplierSku: o.supplier_sku, costFen: Number(o.cost_fen), priority: o.priority, active: o.active,
      costHistory: costs.filter((c: Record<string, any>) => c.sku_code === o.sku_code).map((c: Record<string, any>) => ({ costFen: Number(c.cost_fen), validFrom: c.valid_from, validTo: c.valid_to })),
    }));
  }

  async get(code: string): Promise<Supplier> {
    if (!SUPPLIER_CODE.test(code)) throw new NotFoundError('supplier', code);
    return this.registry.byCode(code);
  }
}
