import { DEMO_RECEIVING_BANK } from '../src/config.ts';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogAdmin, PriceBelowCostError } from '../src/catalog/admin.ts';
import { ComplianceDocuments, FourEyesError, sniffDocumentType } from '../src/compliance/documents.ts';
import { addDays, businessDateOf } from '../src/dates.ts';
import { ValidationError } from '../src/errors.ts';
import { exportPayoutBatch, payoutBankAccounts } from '../src/payouts/export.ts';
import { SupplierAdmin } from '../src/suppliers/admin.ts';
import { demoActors, seedDemo } from '../src/demo/seed.ts';
import { checkInvariants } from '../src/invariants/check.ts';
import { ForbiddenError, type Actor } from '../src/users/actor.ts';
import { userActor } from './support/actors.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';

let h: Harness;
let docsDir: string;
let suppliers: SupplierAdmin;
let catalog: CatalogAdmin;
let documents: ComplianceDocuments;
let ops: Actor;
let ops2: Actor;
let finance: Actor;
let reviewer: Actor;
let viewer: Actor;
const today = businessDateOf(new Date());

const PDF = Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(64), Buffer.from('\n%%EOF\n')]);
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(32)]);
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(32)]);

beforeAll(async () => {
  h = await openHarness({ worker: false });
  await h.ledger.openPlatformAccounts();
  docsDir = await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-docs-'));
  suppliers = new SupplierAdmin(h.db, h.deps.suppliers);
  catalog = new CatalogAdmin(h.db);
  documents = new ComplianceDocuments(h.db, { documentDir: docsDir, documentMaxBytes: 64 * 1024 });
  [ops, ops2, finance, reviewer, viewer] = await Promise.all([
    userActor(h.db, 'ops'), userActor(h.db, 'ops'), userActor(h.db, 'finance'), userActor(h.db, 'compliance'), userActor(h.db, 'viewer'),
  ]);
});
afterAll(async () => {
  await h.close();
  await fs.rm(docsDir, { recursive: true, force: true });
});

const fieldsOf = async (p: Promise<unknown>): Promise<Record<string, string>> => {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ValidationError);
  return (err as ValidationError).details!.fields as Record<string, string>;
};

async function newSupplier() {
  const code = uniq('sup').toLowerCase();
  const { supplier, callbackSecret } = await suppliers.create(ops, { code, name: `${code} 供应商`, apiBaseUrl: 'http://127.0.0.1:1/api', apiKey: 'the-api-key' });
  return { supplier, callbackSecret, code };
}

async function newSku(brand = uniq('品牌')) {
  return catalog.createSku(ops, { code: uniq('SKU').toUpperCase(), nameZh: '测试卡', nameEn: 'Test card', brand, kind: 'card_code', faceValue: '100.00', lowStockThreshold: '5', procurementBatch: '20' });
}

/** A licence and a brand authorisation uploaded by `by` and (unless `approve` is false) approved by the reviewer. */
async function qualify(code: string, brand: string, options: { by?: Actor; approve?: boolean; expiresOn?: string } = {}) {
  const by = options.by ?? ops;
  const licence = await documents.upload(by, { supplier: code, kind: 'business_licence', documentNo: 'BL-1', validFrom: '2020-01-01', expiresOn: '2035-12-31', fileName: 'licence.pdf', bytes: PDF });
  const auth = await documents.upload(by, { supplier: code, kind: 'brand_authorisation', brand, documentNo: 'AU-1', validFrom: '2020-01-01', expiresOn: options.expiresOn ?? '2035-12-31', fileName: 'auth.png', bytes: PNG });
  if (options.approve !== false) {
    await documents.review(reviewer, licence.id, { decision: 'approve', reason: 'checked against the original' });
    await documents.review(reviewer, auth.id, { decision: 'approve', reason: 'checked against the original' });
  }
  return { licence, auth };
}

describe('suppliers', () => {
  it('creates a supplier with its credentials sealed; the callback secret is shown once and never stored or audited in clear', async () => {
    const { supplier, callbackSecret, code } = await newSupplier();
    expect(callbackSecret).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(h.deps.suppliers.callbackSecret(await h.deps.suppliers.byCode(code))).toBe(callbackSecret);
    const row = await h.db('suppliers').where({ id: supplier.id }).first();
    expect(row.api_key).toBeNull();
    expect(row.callback_secret).toBeNull();
    expect(row.api_key_sealed.toString('latin1')).not.toContain('the-api-key');
    const audit = await h.db('audit_log').where({ subject_type: 'supplier', subject_id: code }).select('action', 'details', 'actor_user_id');
    expect(audit).toEqual([expect.objectContaining({ action: 'supplier.create', actor_user_id: ops.userId })]);
    expect(JSON.stringify(audit)).not.toContain(callbackSecret);
    expect(JSON.stringify(audit)).not.toContain('the-api-key');
    expect(await h.ledger.balance(`supplier:${supplier.id}:payable`)).toBe(0);
  });

  it('refuses bad fields, each named, and a duplicate code, changing nothing', async () => {
    const fields = await fieldsOf(suppliers.create(ops, { code: 'Bad Code', name: '', apiBaseUrl: 'ftp://x', apiKey: '' }));
    expect(Object.keys(fields).sort()).toEqual(['apiBaseUrl', 'apiKey', 'code', 'name']);
    expect(await fieldsOf(suppliers.create(ops, { code: 'x', name: 'n', apiBaseUrl: 'https://user:pw@x.example', apiKey: 'k' }))).toMatchObject({ apiBaseUrl: expect.stringContaining('no user or password') });
    const { code } = await newSupplier();
    expect(await fieldsOf(suppliers.create(ops, { code, name: 'again', apiBaseUrl: 'https://x.example', apiKey: 'k' }))).toEqual({ code: `a supplier ${code} exists already` });
    expect(await h.db('suppliers').where({ code: 'bad code' }).first()).toBeUndefined();
  });

  it('refuses a viewer and finance (suppliers are ops\' catalog); finance alone sets the bank account', async () => {
    await expect(suppliers.create(viewer, { code: uniq('v').toLowerCase(), name: 'n', apiBaseUrl: 'https://x.example', apiKey: 'k' })).rejects.toBeInstanceOf(ForbiddenError);
    await expect(suppliers.create(finance, { code: uniq('f').toLowerCase(), name: 'n', apiBaseUrl: 'https://x.example', apiKey: 'k' })).rejects.toBeInstanceOf(ForbiddenError);
    const { code } = await newSupplier();
    await expect(suppliers.setBankAccount(ops, code, { bankName: '工商银行', accountName: 'X', accountNumber: '6222020200112233', reason: 'r' })).rejects.toBeInstanceOf(ForbiddenError);
  });

  it('edits and rotates with a reason, audited with what changed; a rotated callback secret replaces the old at once', async () => {
    const { code, callbackSecret } = await newSupplier();
    await expect(suppliers.edit(ops, code, { name: '新名字', reason: '' })).rejects.toBeInstanceOf(ValidationError);
    await suppliers.edit(ops, code, { name: '新名字', apiBaseUrl: 'https://api.example/v2', reason: 'renamed by contract' });
    const rotated = await suppliers.rotateCallbackSecret(ops, code, 'leaked in a chat');
    expect(rotated).not.toBe(callbackSecret);
    expect(h.deps.suppliers.callbackSecret(await h.deps.suppliers.byCode(code))).toBe(rotated);
    const edit = await h.db('audit_log').where({ subject_id: code, action: 'supplier.edit' }).first();
    expect(edit.details).toEqual({ name: { from: `${code} 供应商`, to: '新名字' }, apiBaseUrl: { from: 'http://127.0.0.1:1/api', to: 'https://api.example/v2' } });
    expect(edit.reason).toBe('renamed by contract');
  });

  it('keeps the bank account sealed, masked everywhere but the file for the bank of an approved batch', async () => {
    const { code, supplier } = await newSupplier();
    expect(await fieldsOf(suppliers.setBankAccount(finance, code, { bankName: '', accountName: 'A', accountNumber: '12ab', reason: 'r' }))).toMatchObject({ bankName: 'required', accountNumber: expect.any(String) });
    await suppliers.setBankAccount(finance, code, { bankName: '中国工商银行 上海分行', accountName: '某某科技有限公司', accountNumber: '6222 0202 0011 2233', reason: 'from the signed contract' });
    const row = await h.db('suppliers').where({ id: supplier.id }).first('bank_account_sealed');
    expect(row.bank_account_sealed.toString('latin1')).not.toContain('6222020200112233');
    expect(await suppliers.maskedBankAccount(code)).toEqual({ bankName: '中国工商银行 上海分行', accountName: '某某科技有限公司', accountNumber: '************2233' });
    const audit = await h.db('audit_log').where({ subject_id: code, action: 'supplier.bank_account' }).first();
    expect(JSON.stringify(audit.details)).not.toContain('6222020200112233');

    const batch = { id: 1, status: 'draft', periodFrom: today, periodTo: today, bankReference: null, totalFen: 100, lines: [{ supplierId: supplier.id, supplierCode: code, supplierName: 'n', payableFen: 100, claimsFen: 0, amountFen: 100 }] } as any;
    await expect(payoutBankAccounts(h.deps.suppliers, batch, { forBank: true })).rejects.toThrow('only an approved batch');
    const exported = async (b: unknown, forBank: boolean) => {
      const out = new PassThrough();
      const chunks: Buffer[] = [];
      out.on('data', (c: Buffer) => chunks.push(c));
      await exportPayoutBatch(b as any, 'csv', out, await payoutBankAccounts(h.deps.suppliers, b as any, { forBank }));
      return Buffer.concat(chunks).toString('utf8');
    };
    const masked = await exported(batch, false);
    expect(masked).toContain('************2233');
    expect(masked).not.toContain('6222020200112233');
    expect(await exported({ ...batch, status: 'approved' }, true)).toContain('6222020200112233');
  });

  it('versions an offer cost: a past order keeps the cost it was routed at, routing takes the new one', async () => {
    const { code, supplier } = await newSupplier();
    const sku = await newSku();
    await qualify(code, sku.brand);
    const before = new Date(Date.now() - 60_000);
    await suppliers.setOffer(ops, { supplier: code, sku: sku.code, supplierSku: 'P-1', cost: '90.00', priority: '10', from: before, reason: 'new contract' });
    const routed = (await h.deps.suppliers.qualifiedFor(sku.code))[0]!;
    expect(routed.costFen).toBe(9_000);
    const changedAt = new Date();
    await suppliers.setOffer(ops, { supplier: code, sku: sku.code, supplierSku: 'P-1', cost: '92.50', priority: '10', reason: 'supplier raised its price' });
    expect((await h.deps.suppliers.qualifiedFor(sku.code))[0]!.costFen).toBe(9_250);
    expect(await h.deps.suppliers.costAt(supplier.id, sku.code, new Date(changedAt.getTime() - 1000))).toBe(9_000);
    expect((await suppliers.offers(code))[0]!.costHistory.map((c) => c.costFen)).toEqual([9_250, 9_000]);
    expect(await fieldsOf(suppliers.setOffer(ops, { supplier: code, sku: 'NO-SUCH', supplierSku: '', cost: '-1', reason: 'x' }))).toEqual({ sku: 'no SKU NO-SUCH', supplierSku: 'required', cost: expect.any(String) });
  });

  it('a deactivated supplier is excluded from routing at once', async () => {
    const { code } = await newSupplier();
    const sku = await newSku();
    await qualify(code, sku.brand);
    await suppliers.setOffer(ops, { supplier: code, sku: sku.code, supplierSku: 'P', cost: '90.00', reason: 'r' });
    expect(await h.deps.suppliers.qualifiedFor(sku.code)).toHaveLength(1);
    await suppliers.setActive(ops, code, false, 'contract ended');
    expect(await h.deps.suppliers.qualifiedFor(sku.code)).toEqual([]);
    await expect(suppliers.setActive(ops, code, false, 'again')).rejects.toThrow('inactive already');
  });
});

describe('资质 review (compliance)', () => {
  it('checks a file by its content, caps its size, and keeps it by SHA-256 outside the database', async () => {
    const { code } = await newSupplier();
    expect(sniffDocumentType(PDF)).toBe('application/pdf');
    expect(sniffDocumentType(JPEG)).toBe('image/jpeg');
    expect(sniffDocumentType(PNG)).toBe('image/png');
    const base = { supplier: code, kind: 'business_licence', documentNo: 'BL', validFrom: '2020-01-01', expiresOn: '2030-01-01' };
    expect(await fieldsOf(documents.upload(ops, { ...base, fileName: 'licence.pdf', bytes: Buffer.from('MZ not a pdf at all') }))).toEqual({ file: 'not a PDF, JPEG or PNG (checked by its content)' });
    expect(await fieldsOf(documents.upload(ops, { ...base, fileName: 'big.pdf', bytes: Buffer.concat([PDF, Buffer.alloc(64 * 1024)]) }))).toEqual({ file: expect.stringContaining('larger than') });
    expect(await fieldsOf(documents.upload(ops, { ...base, kind: 'brand_authorisation', expiresOn: '2019-01-01', fileName: 'a.pdf', bytes: PDF }))).toEqual({ brand: 'required', expiresOn: 'before the start of validity' });
    expect(await fieldsOf(documents.upload(ops, { ...base, kind: 'licence', fileName: 'a.pdf', bytes: PDF }))).toEqual({ kind: expect.stringContaining('one of') });
    await expect(documents.upload(viewer, { ...base, fileName: 'a.pdf', bytes: PDF })).rejects.toBeInstanceOf(ForbiddenError);
    const doc = await documents.upload(ops, { ...base, fileName: 'licence.pdf', bytes: PDF });
    expect(doc).toMatchObject({ status: 'pending', type: 'application/pdf', bytes: PDF.length, uploadedByUserId: ops.userId });
    expect(await fs.readFile(path.join(docsDir, doc.sha256!))).toEqual(PDF);
    expect((await documents.read(doc.id)).bytes).toEqual(PDF);
  });

  it('an unapproved or expired 资质 is excluded from routing', async () => {
    const sku = await newSku();
    const pending = await newSupplier();
    await qualify(pending.code, sku.brand, { approve: false });
    const rejected = await newSupplier();
    const r = await qualify(rejected.code, sku.brand, { approve: false });
    await documents.review(reviewer, r.licence.id, { decision: 'approve', reason: 'ok' });
    await documents.review(reviewer, r.auth.id, { decision: 'reject', reason: '授权书印章不清 the seal is illegible' });
    const expired = await newSupplier();
    await qualify(expired.code, sku.brand, { expiresOn: addDays(today, -1) });
    const good = await newSupplier();
    await qualify(good.code, sku.brand);
    for (const s of [pending, rejected, expired, good]) await suppliers.setOffer(ops, { supplier: s.code, sku: sku.code, supplierSku: 'P', cost: '90.00', priority: '10', reason: 'r' });
    expect((await h.deps.suppliers.qualifiedFor(sku.code)).map((o) => o.supplierCode)).toEqual([good.code]);
  });

  it('four eyes: the uploader may not review (refused in code and by the database), nor may ops; a rejection needs a reason', async () => {
    const { code } = await newSupplier();
    const uploader = await userActor(h.db, 'compliance');
    const doc = await documents.upload(uploader, { supplier: code, kind: 'other', documentNo: 'ISO-9001', validFrom: '2020-01-01', expiresOn: '2030-01-01', fileName: 'iso.jpg', bytes: JPEG });
    await expect(documents.review(uploader, doc.id, { decision: 'approve', reason: 'mine' })).rejects.toBeInstanceOf(FourEyesError);
    await expect(documents.review(ops2, doc.id, { decision: 'approve', reason: 'x' })).rejects.toBeInstanceOf(ForbiddenError);
    await expect(h.db('supplier_qualifications').where({ id: doc.id }).update({ status: 'approved', reviewed_by: uploader.userId, reviewed_at: new Date() }))
      .rejects.toThrow(/supplier_qualifications_four_eyes/);
    expect(await fieldsOf(documents.review(reviewer, doc.id, { decision: 'reject', reason: ' ' }))).toEqual({ reason: 'required' });
    expect((await documents.get(doc.id)).status).toBe('pending');
    const done = await documents.review(reviewer, doc.id, { decision: 'reject', reason: 'expired copy' });
    expect(done).toMatchObject({ status: 'rejected', reviewedBy: reviewer.username, reviewReason: 'expired copy' });
    await expect(documents.review(reviewer, doc.id, { decision: 'approve', reason: 'changed my mind' })).rejects.toThrow('rejected already');
    const audit = await h.db('audit_log').where({ subject_type: 'qualification', subject_id: String(doc.id) }).orderBy('id').select('action', 'actor_user_id');
    expect(audit).toEqual([{ action: 'compliance.upload', actor_user_id: uploader.userId }, { action: 'compliance.reject', actor_user_id: reviewer.userId }]);
  });

  it('warns of approved documents expiring within 30, 7 and 1 day', async () => {
    const { code } = await newSupplier();
    const brands = [uniq('b30'), uniq('b7'), uniq('b1')];
    for (const [i, days] of [25, 6, 1].entries()) {
      const d = await documents.upload(ops, { supplier: code, kind: 'brand_authorisation', brand: brands[i], documentNo: `AU-${days}`, validFrom: '2020-01-01', expiresOn: addDays(today, days), fileName: 'a.pdf', bytes: PDF });
      await documents.review(reviewer, d.id, { decision: 'approve', reason: 'ok' });
    }
    await documents.upload(ops, { supplier: code, kind: 'brand_authorisation', brand: uniq('pending'), documentNo: 'P', validFrom: '2020-01-01', expiresOn: addDays(today, 2), fileName: 'a.pdf', bytes: PDF });
    const mine = (await documents.expiryWarnings(today)).filter((w) => w.supplierCode === code);
    expect(mine.map((w) => [w.daysLeft, w.level])).toEqual([[1, 1], [6, 7], [25, 30]]);
  });
});

describe('SKUs and prices', () => {
  it('creates a SKU with field errors for each bad field, and refuses a duplicate', async () => {
    const fields = await fieldsOf(catalog.createSku(ops, { code: 'lower', nameZh: '', nameEn: 'x', brand: '', kind: 'gift', faceValue: 'ten' }));
    expect(Object.keys(fields).sort()).toEqual(['brand', 'code', 'faceValue', 'kind', 'nameZh']);
    expect(await fieldsOf(catalog.createSku(ops, { code: uniq('T').toUpperCase(), nameZh: '话费', nameEn: 'top-up', brand: '中国移动', kind: 'direct_topup', faceValue: '50', lowStockThreshold: '10' })))
      .toEqual({ lowStockThreshold: expect.stringContaining('top-up SKU has no stock') });
    const sku = await newSku();
    expect(sku).toMatchObject({ kind: 'card_code', faceValueFen: 10_000, lowStockThreshold: 5, procurementBatch: 20, active: true });
    expect(await fieldsOf(catalog.createSku(ops, { code: sku.code, nameZh: 'a', nameEn: 'b', brand: 'c', kind: 'card_code', faceValue: '1' }))).toEqual({ code: `a SKU ${sku.code} exists already` });
    await expect(catalog.createSku(finance, { code: uniq('F').toUpperCase(), nameZh: 'a', nameEn: 'b', brand: 'c', kind: 'card_code', faceValue: '1' })).rejects.toBeInstanceOf(ForbiddenError);
  });

  it('edits and deactivates a SKU with a reason, audited with what changed', async () => {
    const sku = await newSku();
    await catalog.editSku(ops, sku.code, { lowStockThreshold: '8', procurementBatch: '40', reason: 'sells faster' });
    const audit = await h.db('audit_log').where({ subject_type: 'sku', subject_id: sku.code, action: 'sku.edit' }).first();
    expect(audit.details).toEqual({ lowStockThreshold: { from: 5, to: 8 }, procurementBatch: { from: 20, to: 40 } });
    await expect(catalog.editSku(ops, sku.code, { lowStockThreshold: '8', reason: 'same' })).rejects.toThrow('nothing to change');
    await catalog.setActive(ops, sku.code, false, 'brand withdrawn');
    expect((await catalog.catalog.sku(sku.code)).active).toBe(false);
  });

  it('refuses a price below the best cost unless forced with a reason; versions tier prices and reseller overrides', async () => {
    const { code } = await newSupplier();
    const sku = await newSku();
    await suppliers.setOffer(ops, { supplier: code, sku: sku.code, supplierSku: 'P', cost: '95.00', reason: 'r' });
    await expect(catalog.setPrice(ops, { sku: sku.code, tier: 'default', price: '98.00', reason: 'r' })).rejects.toBeInstanceOf(ForbiddenError);
    await expect(catalog.setPrice(finance, { sku: sku.code, tier: 'default', price: '94.99', reason: 'launch' })).rejects.toBeInstanceOf(PriceBelowCostError);
    expect(await catalog.prices(sku.code)).toEqual([]);
    expect(await fieldsOf(catalog.setPrice(finance, { sku: sku.code, tier: 'default', price: '94.99', force: true, reason: '' }))).toEqual({ reason: 'required' });
    await catalog.setPrice(finance, { sku: sku.code, tier: 'default', price: '94.99', force: true, reason: '清仓 clearance agreed with the brand' });
    expect((await h.db('audit_log').where({ subject_id: sku.code, action: 'price.set_below_cost' }).first()).details).toMatchObject({ priceFen: 9_499, bestCostFen: 9_500, forced: true });
    await catalog.setPrice(finance, { sku: sku.code, tier: 'default', price: '98.00', reason: 'list price' });
    await catalog.setPrice(finance, { sku: sku.code, tier: 'gold', price: '97.00', reason: 'gold tier' });
    expect(await fieldsOf(catalog.setPrice(finance, { sku: sku.code, tier: 'reseller', reseller: 'no-such-reseller', price: '96.00', reason: 'r' }))).toEqual({ reseller: 'no reseller no-such-reseller' });
    expect(await fieldsOf(catalog.setPrice(finance, { sku: sku.code, tier: 'gold', reseller: 'x', price: '96.00', reason: 'r' }))).toEqual({ reseller: 'only a reseller override names a reseller' });
    const { reseller } = await h.deps.resellers.create({ code: uniq('r').toLowerCase(), name: 'R', tier: 'gold' });
    await catalog.setPrice(finance, { sku: sku.code, tier: 'reseller', reseller: reseller.code, price: '96.00', reason: 'big account' });
    expect((await catalog.catalog.priceFor(sku.code, { tier: 'gold', resellerId: reseller.id })).priceFen).toBe(9_600);
    expect((await catalog.prices(sku.code)).map((p) => [p.tier, p.priceFen])).toEqual([['default', 9_800], ['gold', 9_700], ['reseller', 9_600]]);
    expect((await catalog.prices(sku.code, { history: true })).filter((p) => p.tier === 'default').map((p) => p.priceFen)).toEqual([9_800, 9_499]);
  });
});

describe('the demo', () => {
  it('seeds its catalog through the administration services: 资质 uploaded by ops and approved by compliance, prices by finance, all audited', async () => {
    const fresh = await openHarness({ worker: false, freshDatabase: true });
    const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-demo-'));
    try {
      await fresh.ledger.openPlatformAccounts();
      for (const role of ['ops', 'finance', 'compliance'] as const) await userActor(fresh.db, role, role);
      await userActor(fresh.db, 'admin');
      const actors = await demoActors(fresh.db, { resellers: { rechargeApprovalFen: 5_000_000, secretOverlapMs: 3600_000, receivingBank: DEMO_RECEIVING_BANK } });
      expect(actors).toBeDefined();
      const demo = await seedDemo(fresh.deps, { simulatorPort: 0, dataDir: scratch, actors, documentDir: path.join(scratch, 'documents') });
      await demo.simulator.stop();
      const pendingOrUnreviewed = await fresh.db('supplier_qualifications').where((w) => w.whereNot({ status: 'approved' }).orWhereNull('reviewed_by')).count('* as n');
      expect(Number(pendingOrUnreviewed[0]!.n)).toBe(0);
      const actions = await fresh.db('audit_log').groupBy('action').select('action', fresh.db.raw('count(*)::int AS n'));
      expect(Object.fromEntries(actions.map((a: { action: string; n: number }) => [a.action, a.n]))).toMatchObject({
        'sku.create': 6, 'supplier.offer_create': 10, 'compliance.upload': expect.any(Number), 'compliance.approve': expect.any(Number),
      });
      expect((await fresh.deps.suppliers.qualifiedFor('QQ-100')).length).toBeGreaterThan(0);
      const report = await checkInvariants(fresh.db);
      expect(report.results.filter((r) => r.violations > 0).map((r) => r.invariant.id)).toEqual([]);
    } finally {
      await fresh.close();
      await fs.rm(scratch, { recursive: true, force: true });
    }
  });
});
