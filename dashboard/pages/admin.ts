import { Writable } from 'node:stream';
import type { Express, Request, Response } from 'express';
import { fieldErrorsOf } from '../../src/admin/fields.ts';
import { CatalogAdmin, PRICE_TIERS, PriceBelowCostError, SKU_KINDS } from '../../src/catalog/admin.ts';
import { ComplianceDocuments, DOCUMENT_KINDS, type ComplianceDocument } from '../../src/compliance/documents.ts';
import { formatShanghai } from '../../src/dates.ts';
import { KamengError, NotFoundError } from '../../src/errors.ts';
import { declaredTooLarge, receiveBody } from '../../src/http/body-cap.ts';
import { BodyTooLargeError } from '../../src/http/request-errors.ts';
import { displayYuan, formatYuan } from '../../src/money.ts';
import { SupplierAdmin } from '../../src/suppliers/admin.ts';
import { actorOfRequest, can, csrfField, requirePermission, sessionOf } from '../auth.ts';
import type { DashboardDeps } from '../deps.ts';
import { html, type SafeHtml } from '../html.ts';
import { langOf, translator, type LabelKey } from '../i18n.ts';
import { layout } from '../layout.ts';

type T = ReturnType<typeof translator>;
type Errors = Record<string, string>;
type Values = Record<string, unknown>;

const SUPPLIER_CODE = /^[a-z0-9][a-z0-9_-]{1,39}$/;
const SKU_CODE = /^[A-Z0-9][A-Z0-9_-]{1,39}$/;

/** One labelled input, with its field error beside it (a form re-shown keeps what was typed, never a secret). */
function input(t: T, name: string, label: LabelKey, values: Values, errors: Errors, options: { type?: string; required?: boolean; placeholder?: string; options?: [string, string][] } = {}): SafeHtml {
  const value = values[name] === undefined || values[name] === null ? '' : String(values[name]);
  const error = errors[name];
  const control = options.options
    ? html`<select name="${name}" id="f-${name}">${options.options.map(([v, l]) => html`<option value="${v}" ${v === value ? 'selected' : ''}>${l}</option>`)}</select>`
    : options.type === 'checkbox'
      ? html`<input type="checkbox" name="${name}" id="f-${name}" value="true" ${value === 'true' ? 'checked' : ''}>`
      : html`<input type="${options.type ?? 'text'}" name="${name}" id="f-${name}" value="${options.type === 'password' ? '' : value}" ${options.required ? 'required' : ''} placeholder="${options.placeholder ?? ''}">`;
  return html`<label class="field ${error ? 'invalid' : ''}">${t(label)} ${control}${error ? html` <span class="error field-error" data-field="${name}">${error}</span>` : ''}</label> `;
}

const formErrors = (t: T, errors: Errors): SafeHtml => (Object.keys(errors).length
  ? html`<p class="error" id="form-errors">${t('adm_fix')}: ${Object.entries(errors).map(([f, m]) => `${f === '_' ? '' : `${f}: `}${m}`).join('; ')}</p>` : html``);

const nav = (t: T, active: string) => html`<nav class="subnav">
  <a href="/admin/suppliers" class="${active === 'suppliers' ? 'active' : ''}">${t('adm_suppliers')}</a> ·
  <a href="/admin/skus" class="${active === 'skus' ? 'active' : ''}">${t('adm_skus')}</a> ·
  <a href="/compliance" class="${active === 'compliance' ? 'active' : ''}">${t('adm_compliance')}</a></nav>`;

const kindLabel = (t: T, kind: string) => t(`adm_kind_${kind}` as LabelKey);
const statusLabel = (t: T, status: string) => t(`adm_${status}` as LabelKey);
const when = (d: Date | string | null) => (d === null ? '' : Number.isFinite(new Date(d).getTime()) ? formatShanghai(d) : '—');

/** A done message from a redirect (?done=...), shown once. */
const doneNote = (req: Request, t: T) => (typeof req.query.done === 'string' ? html`<p class="ok" id="done">${t('adm_saved')}: ${req.query.done}</p>` : html``);

/**
 * Runs a form action; a refusal with field errors re-shows the page with them (422), anything else
 * goes to the error page. `show` renders the page with the errors and the values typed.
 */
async function formAction(res: Response, action: () => Promise<void>, show: (errors: Errors) => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (err) {
    const fields = err instanceof PriceBelowCostError ? (err.details?.fields as Errors) : fieldErrorsOf(err);
    if (!fields) throw err;
    res.status(422);
    await show(fields);
  }
}

function page(req: Request, res: Response, title: string, sub: string, body: SafeHtml): void {
  const lang = langOf(req, res);
  res.type('html').send(layout({ lang, title, active: 'admin', body: html`${nav(translator(lang), sub)}${body}`, path: req.originalUrl, session: sessionOf(res) }).value);
}

const supplierCodeOf = (value: unknown): string => {
  const code = String(value ?? '');
  if (!SUPPLIER_CODE.test(code)) throw new NotFoundError('supplier', code);
  return code;
};
const skuCodeOf = (value: unknown): string => {
  const code = String(value ?? '');
  if (!SKU_CODE.test(code)) throw new NotFoundError('SKU', code);
  return code;
};

/**
 * The administration pages (issue 18): /admin/suppliers, /admin/skus, /compliance. The same domain
 * services as the CLI do the work (validation, roles, audit); every POST is CSRF-checked by the app
 * and role-checked here. Mounted before the 404 catch-all.
 */
export function mountAdminPages(app: Express, deps: DashboardDeps): void {
  const catalog = new CatalogAdmin(deps.db);
  const documents = new ComplianceDocuments(deps.db, deps.config.compliance);
  const suppliersOf = (): SupplierAdmin => {
    if (!deps.suppliers) throw new KamengError('NO_SECRETS_KEY', 'this dashboard was started without the supplier secrets key: supplier administration is off');
    return new SupplierAdmin(deps.db, deps.suppliers);
  };

  // ---- suppliers
  const supplierList = async (req: Request, res: Response, errors: Errors = {}, values: Values = {}) => {
    const t = translator(langOf(req, res));
    const admin = suppliersOf();
    const list = await admin.registry.list();
    const mayEdit = can(sessionOf(res), 'catalog');
    page(req, res, t('adm_suppliers'), 'suppliers', html`<section><h1>${t('adm_suppliers')}</h1>${doneNote(req, t)}
      <table id="suppliers"><thead><tr><th>${t('adm_code')}</th><th>${t('adm_name')}</th><th>${t('adm_apiUrl')}</th><th>${t('adm_status')}</th></tr></thead>
      <tbody>${list.map((s) => html`<tr><td><a href="/admin/suppliers/${s.code}">${s.code}</a></td><td>${s.name}</td><td>${s.apiBaseUrl}</td><td>${s.active ? t('adm_active') : t('adm_inactive')}</td></tr>`)}</tbody></table></section>
      ${mayEdit ? html`<section><h2>${t('adm_create')}</h2>${formErrors(t, errors)}
      <form method="post" action="/admin/suppliers" id="supplier-create" class="act">${csrfField(res)}
        ${input(t, 'code', 'adm_code', values, errors, { required: true, placeholder: 'huayu' })}${input(t, 'name', 'adm_name', values, errors, { required: true })}
        ${input(t, 'apiBaseUrl', 'adm_apiUrl', values, errors, { required: true, placeholder: 'https://api.supplier.example/v1' })}
        ${input(t, 'apiKey', 'adm_apiKey', values, errors, { type: 'password', required: true })}${input(t, 'reason', 'adm_reason', values, errors)}
        <button type="submit">${t('adm_create')}</button></form></section>` : ''}`);
  };
  app.get('/admin', (_req, res) => res.redirect(303, '/admin/suppliers'));
  app.get('/admin/suppliers', (req, res) => supplierList(req, res));
  app.post('/admin/suppliers', requirePermission('catalog'), async (req, res) => {
    const body = req.body ?? {};
    await formAction(res, async () => {
      const { supplier, callbackSecret } = await suppliersOf().create(actorOfRequest(res), body);
      const t = translator(langOf(req, res));
      // the secret is on this answer only: never cached, never in a URL
      res.set('Cache-Control', 'no-store');
      page(req, res, supplier.code, 'suppliers', html`<section><h1>${supplier.code} ${supplier.name}</h1>
        <p class="ok">${t('adm_secretOnce')}:</p><pre id="callback-secret">${callbackSecret}</pre>
        <p><a href="/admin/suppliers/${supplier.code}" id="continue">${t('adm_offers')} / ${t('adm_bankAccount')} →</a></p></section>`);
    }, (errors) => supplierList(req, res, errors, { ...body, apiKey: '' }));
  });

  const supplierDetail = async (req: Request, res: Response, errors: Errors = {}, values: Values = {}, form = '') => {
    const t = translator(langOf(req, res));
    const code = supplierCodeOf(req.params.code);
    const admin = suppliersOf();
    const s = await admin.get(code);
    const [offers, bank, docs, skus] = await Promise.all([admin.offers(code), admin.maskedBankAccount(code), documents.list({ supplier: code }), catalog.catalog.list()]);
    const session = sessionOf(res);
    const mayEdit = can(session, 'catalog');
    const errorsOf = (name: string) => (form === name ? errors : {});
    const valuesOf = (name: string, fallback: Values) => (form === name ? values : fallback);
    page(req, res, s.code, 'suppliers', html`<section><h1>${s.code} ${s.name} <small>${s.active ? t('adm_active') : t('adm_inactive')}</small></h1>${doneNote(req, t)}
      <p>${t('adm_apiUrl')}: <code>${s.apiBaseUrl}</code> · <a href="/admin/suppliers/${s.code}/statement-profile">${t('adm_statementProfile')}</a></p>
      ${mayEdit ? html`<h2>${t('adm_save')}</h2>${formErrors(t, errorsOf('edit'))}
      <form method="post" action="/admin/suppliers/${s.code}/edit" id="supplier-edit" class="act">${csrfField(res)}
        ${input(t, 'name', 'adm_name', valuesOf('edit', { name: s.name }), errorsOf('edit'))}${input(t, 'apiBaseUrl', 'adm_apiUrl', valuesOf('edit', { apiBaseUrl: s.apiBaseUrl }), errorsOf('edit'))}
        ${input(t, 'apiKey', 'adm_apiKey', {}, errorsOf('edit'), { type: 'password', placeholder: t('adm_apiKeyKeep') })}${input(t, 'reason', 'adm_reason', valuesOf('edit', {}), errorsOf('edit'), { required: true })}
        <button type="submit">${t('adm_save')}</button></form>
      ${formErrors(t, errorsOf('active'))}
      <form method="post" action="/admin/suppliers/${s.code}/active" id="supplier-active" class="act">${csrfField(res)}<input type="hidden" name="active" value="${s.active ? 'false' : 'true'}">
        ${input(t, 'reason', 'adm_reason', {}, errorsOf('active'), { required: true })}<button type="submit">${s.active ? t('adm_deactivate') : t('adm_activate')}</button></form>
      ${formErrors(t, errorsOf('rotate'))}
      <form method="post" action="/admin/suppliers/${s.code}/rotate" id="supplier-rotate" class="act">${csrfField(res)}
        ${input(t, 'reason', 'adm_reason', {}, errorsOf('rotate'), { required: true })}<button type="submit">${t('adm_rotate')}</button></form>` : ''}
    </section>
    <section><h2>${t('adm_offers')}</h2>
      <table id="offers"><thead><tr><th>SKU</th><th>${t('adm_supplierSku')}</th><th class="num">${t('adm_cost')}</th><th class="num">${t('adm_priority')}</th><th>${t('adm_status')}</th><th>${t('adm_costHistory')}</th></tr></thead>
      <tbody>${offers.map((o) => html`<tr><td>${o.skuCode}</td><td>${o.supplierSku}</td><td class="num">${displayYuan(o.costFen)}</td><td class="num">${o.priority}</td><td>${o.active ? t('adm_active') : t('adm_inactive')}</td>
        <td><small>${o.costHistory.map((c) => `${displayYuan(c.costFen)} ${t('adm_since')} ${when(c.validFrom)}`).join(' ← ')}</small></td></tr>`)}</tbody></table>
      ${mayEdit ? html`${formErrors(t, errorsOf('offer'))}<form method="post" action="/admin/suppliers/${s.code}/offer" id="offer-form" class="act">${csrfField(res)}
        ${input(t, 'sku', 'adm_skus', valuesOf('offer', {}), errorsOf('offer'), { options: skus.map((k) => [k.code, `${k.code} ${k.nameZh}`]) })}
        ${input(t, 'supplierSku', 'adm_supplierSku', valuesOf('offer', {}), errorsOf('offer'), { required: true })}${input(t, 'cost', 'adm_cost', valuesOf('offer', {}), errorsOf('offer'), { required: true, placeholder: '94.00' })}
        ${input(t, 'priority', 'adm_priority', valuesOf('offer', { priority: 100 }), errorsOf('offer'))}${input(t, 'active', 'adm_active', valuesOf('offer', { active: 'true' }), errorsOf('offer'), { type: 'checkbox' })}
        ${input(t, 'reason', 'adm_reason', valuesOf('offer', {}), errorsOf('offer'), { required: true })}<button type="submit">${t('adm_save')}</button></form>` : ''}
    </section>
    <section><h2>${t('adm_bankAccount')}</h2>
      <p id="bank-account">${bank ? `${bank.bankName} · ${bank.accountName} · ${bank.accountNumber}` : t('adm_notEntered')}</p>
      ${can(session, 'settlement') ? html`${formErrors(t, errorsOf('bank'))}<form method="post" action="/admin/suppliers/${s.code}/bank" id="bank-form" class="act">${csrfField(res)}
        ${input(t, 'bankName', 'adm_bankName', valuesOf('bank', {}), errorsOf('bank'), { required: true })}${input(t, 'accountName', 'adm_accountName', valuesOf('bank', {}), errorsOf('bank'), { required: true })}
        ${input(t, 'accountNumber', 'adm_accountNumber', {}, errorsOf('bank'), { required: true })}${input(t, 'reason', 'adm_reason', valuesOf('bank', {}), errorsOf('bank'), { required: true })}
        <button type="submit">${t('adm_save')}</button></form>` : ''}
    </section>
    <section><h2>${t('adm_documents')}</h2>${documentTable(t, res, docs)}<p><a href="/compliance?supplier=${s.code}">${t('adm_upload')} →</a></p></section>`);
  };
  app.get('/admin/suppliers/:code', (req, res) => supplierDetail(req, res));
  const supplierPost = (path: string, permission: 'catalog' | 'settlement', act: (admin: SupplierAdmin, req: Request, res: Response, code: string) => Promise<string>) => {
    app.post(`/admin/suppliers/:code/${path}`, requirePermission(permission), async (req, res) => {
      const code = supplierCodeOf(req.params.code);
      await formAction(res, async () => {
        const done = await act(suppliersOf(), req, res, code);
        if (!res.headersSent) res.redirect(303, `/admin/suppliers/${code}?done=${encodeURIComponent(done)}`);
      }, (errors) => supplierDetail(req, res, errors, { ...(req.body ?? {}), apiKey: '', accountNumber: '' }, path));
    });
  };
  supplierPost('edit', 'catalog', async (admin, req, res, code) => {
    await admin.edit(actorOfRequest(res), code, req.body ?? {});
    return code;
  });
  supplierPost('active', 'catalog', async (admin, req, res, code) => {
    await admin.setActive(actorOfRequest(res), code, req.body?.active === 'true', req.body?.reason);
    return `${code} ${req.body?.active === 'true' ? 'active' : 'inactive'}`;
  });
  supplierPost('rotate', 'catalog', async (admin, req, res, code) => {
    const secret = await admin.rotateCallbackSecret(actorOfRequest(res), code, req.body?.reason);
    const t = translator(langOf(req, res));
    res.set('Cache-Control', 'no-store');
    page(req, res, code, 'suppliers', html`<section><h1>${code}</h1><p class="ok">${t('adm_secretOnce')}:</p><pre id="callback-secret">${secret}</pre>
      <p><a href="/admin/suppliers/${code}">←</a></p></section>`);
    return '';
  });
  supplierPost('bank', 'settlement', async (admin, req, res, code) => {
    await admin.setBankAccount(actorOfRequest(res), code, req.body ?? {});
    return `${code} bank account`;
  });
  supplierPost('offer', 'catalog', async (admin, req, res, code) => {
    const body = req.body ?? {};
    await admin.setOffer(actorOfRequest(res), { supplier: code, sku: body.sku, supplierSku: body.supplierSku, cost: body.cost, priority: body.priority, active: body.active === 'true', reason: body.reason });
    return `${code} → ${body.sku}`;
  });

  // ---- SKUs and prices
  const kindOptions = (t: T) => SKU_KINDS.map((k) => [k, kindLabel(t, k)] as [string, string]);
  const skuList = async (req: Request, res: Response, errors: Errors = {}, values: Values = {}) => {
    const t = translator(langOf(req, res));
    const skus = await catalog.catalog.list();
    page(req, res, t('adm_skus'), 'skus', html`<section><h1>${t('adm_skus')}</h1>${doneNote(req, t)}
      <table id="skus"><thead><tr><th>SKU</th><th>${t('adm_name')}</th><th>${t('adm_brand')}</th><th>${t('adm_kind')}</th><th class="num">${t('adm_faceValue')}</th><th class="num">${t('adm_threshold')}</th><th class="num">${t('adm_batch')}</th><th>${t('adm_status')}</th></tr></thead>
      <tbody>${skus.map((k) => html`<tr><td><a href="/admin/skus/${k.code}">${k.code}</a></td><td>${k.nameZh} ${k.nameEn}</td><td>${k.brand}</td><td>${kindLabel(t, k.kind)}</td><td class="num">${displayYuan(k.faceValueFen)}</td>
        <td class="num">${k.lowStockThreshold}</td><td class="num">${k.procurementBatch}</td><td>${k.active ? t('adm_active') : t('adm_inactive')}</td></tr>`)}</tbody></table></section>
      ${can(sessionOf(res), 'catalog') ? html`<section><h2>${t('adm_create')}</h2>${formErrors(t, errors)}
      <form method="post" action="/admin/skus" id="sku-create" class="act">${csrfField(res)}
        ${input(t, 'code', 'adm_code', values, errors, { required: true, placeholder: 'QQ-100' })}${input(t, 'nameZh', 'adm_nameZh', values, errors, { required: true })}${input(t, 'nameEn', 'adm_nameEn', values, errors, { required: true })}
        ${input(t, 'brand', 'adm_brand', values, errors, { required: true })}${input(t, 'kind', 'adm_kind', values, errors, { options: kindOptions(t) })}
        ${input(t, 'faceValue', 'adm_faceValue', values, errors, { required: true, placeholder: '100.00' })}${input(t, 'lowStockThreshold', 'adm_threshold', values, errors, { placeholder: '0' })}
        ${input(t, 'procurementBatch', 'adm_batch', values, errors, { placeholder: '0' })}${input(t, 'reason', 'adm_reason', values, errors)}
        <button type="submit">${t('adm_create')}</button></form></section>` : ''}`);
  };
  app.get('/admin/skus', (req, res) => skuList(req, res));
  app.post('/admin/skus', requirePermission('catalog'), async (req, res) => {
    await formAction(res, async () => {
      const sku = await catalog.createSku(actorOfRequest(res), req.body ?? {});
      res.redirect(303, `/admin/skus/${sku.code}?done=${encodeURIComponent(sku.code)}`);
    }, (errors) => skuList(req, res, errors, req.body ?? {}));
  });

  const skuDetail = async (req: Request, res: Response, errors: Errors = {}, values: Values = {}, form = '') => {
    const t = translator(langOf(req, res));
    const code = skuCodeOf(req.params.code);
    const sku = await catalog.catalog.sku(code);
    const history = req.query.history === '1';
    const [prices, bestCost] = await Promise.all([catalog.prices(code, { history }), catalog.bestCost(code)]);
    const session = sessionOf(res);
    const errorsOf = (name: string) => (form === name ? errors : {});
    const valuesOf = (name: string, fallback: Values) => (form === name ? values : fallback);
    page(req, res, sku.code, 'skus', html`<section><h1>${sku.code} ${sku.nameZh} <small>${sku.active ? t('adm_active') : t('adm_inactive')}</small></h1>${doneNote(req, t)}
      <p>${kindLabel(t, sku.kind)} · ${sku.brand} · ${t('adm_faceValue')} ${displayYuan(sku.faceValueFen)} · ${t('adm_bestCost')}: <span id="best-cost">${bestCost === undefined ? '—' : displayYuan(bestCost)}</span></p>
      ${can(session, 'catalog') ? html`${formErrors(t, errorsOf('edit'))}<form method="post" action="/admin/skus/${sku.code}/edit" id="sku-edit" class="act">${csrfField(res)}
        ${input(t, 'nameZh', 'adm_nameZh', valuesOf('edit', { nameZh: sku.nameZh }), errorsOf('edit'))}${input(t, 'nameEn', 'adm_nameEn', valuesOf('edit', { nameEn: sku.nameEn }), errorsOf('edit'))}
        ${input(t, 'brand', 'adm_brand', valuesOf('edit', { brand: sku.brand }), errorsOf('edit'))}
        ${input(t, 'lowStockThreshold', 'adm_threshold', valuesOf('edit', { lowStockThreshold: sku.lowStockThreshold }), errorsOf('edit'))}${input(t, 'procurementBatch', 'adm_batch', valuesOf('edit', { procurementBatch: sku.procurementBatch }), errorsOf('edit'))}
        ${input(t, 'reason', 'adm_reason', valuesOf('edit', {}), errorsOf('edit'), { required: true })}<button type="submit">${t('adm_save')}</button></form>
      ${formErrors(t, errorsOf('active'))}<form method="post" action="/admin/skus/${sku.code}/active" id="sku-active" class="act">${csrfField(res)}<input type="hidden" name="active" value="${sku.active ? 'false' : 'true'}">
        ${input(t, 'reason', 'adm_reason', {}, errorsOf('active'), { required: true })}<button type="submit">${sku.active ? t('adm_deactivate') : t('adm_activate')}</button></form>` : ''}
    </section>
    <section><h2>${t('adm_prices')}</h2><p><a href="/admin/skus/${sku.code}${history ? '' : '?history=1'}">${t('adm_history')}</a></p>
      <table id="prices"><thead><tr><th>${t('adm_tier')}</th><th>${t('adm_reseller')}</th><th class="num">${t('adm_price')}</th><th>${t('adm_validFrom')}</th><th>${t('adm_validTo')}</th></tr></thead>
      <tbody>${prices.map((p) => html`<tr data-tier="${p.tier}"><td>${t(`adm_tier_${p.tier}` as LabelKey)}</td><td>${p.resellerCode ?? ''}</td><td class="num">${displayYuan(p.priceFen)}</td><td>${when(p.validFrom)}</td><td>${when(p.validTo)}</td></tr>`)}</tbody></table>
      ${can(session, 'pricing') ? html`${formErrors(t, errorsOf('price'))}<form method="post" action="/admin/skus/${sku.code}/price" id="price-form" class="act">${csrfField(res)}
        ${input(t, 'tier', 'adm_tier', valuesOf('price', {}), errorsOf('price'), { options: PRICE_TIERS.map((p) => [p, t(`adm_tier_${p}` as LabelKey)]) })}
        ${input(t, 'reseller', 'adm_reseller', valuesOf('price', {}), errorsOf('price'))}${input(t, 'price', 'adm_price', valuesOf('price', {}), errorsOf('price'), { required: true, placeholder: bestCost === undefined ? '98.00' : formatYuan(bestCost) })}
        ${input(t, 'force', 'adm_force', valuesOf('price', {}), errorsOf('price'), { type: 'checkbox' })}${input(t, 'reason', 'adm_reason', valuesOf('price', {}), errorsOf('price'), { required: true })}
        <button type="submit">${t('adm_save')}</button></form>` : ''}
    </section>`);
  };
  app.get('/admin/skus/:code', (req, res) => skuDetail(req, res));
  const skuPost = (path: string, permission: 'catalog' | 'pricing', act: (req: Request, res: Response, code: string) => Promise<string>) => {
    app.post(`/admin/skus/:code/${path}`, requirePermission(permission), async (req, res) => {
      const code = skuCodeOf(req.params.code);
      await formAction(res, async () => {
        const done = await act(req, res, code);
        res.redirect(303, `/admin/skus/${code}?done=${encodeURIComponent(done)}`);
      }, (errors) => skuDetail(req, res, errors, req.body ?? {}, path));
    });
  };
  skuPost('edit', 'catalog', async (req, res, code) => {
    await catalog.editSku(actorOfRequest(res), code, req.body ?? {});
    return code;
  });
  skuPost('active', 'catalog', async (req, res, code) => {
    await catalog.setActive(actorOfRequest(res), code, req.body?.active === 'true', req.body?.reason);
    return `${code} ${req.body?.active === 'true' ? 'active' : 'inactive'}`;
  });
  skuPost('price', 'pricing', async (req, res, code) => {
    const b = req.body ?? {};
    await catalog.setPrice(actorOfRequest(res), { sku: code, tier: b.tier, reseller: b.reseller, price: b.price, force: b.force === 'true', reason: b.reason });
    return `${code} ${b.tier} ${b.price}`;
  });

  // ---- 资质 review
  function documentTable(t: T, res: Response, docs: ComplianceDocument[]): SafeHtml {
    const session = sessionOf(res);
    const reviewer = can(session, 'compliance');
    return html`<table class="documents"><thead><tr><th>#</th><th>${t('supplier')}</th><th>${t('adm_kind')}</th><th>${t('adm_brand')}</th><th>${t('adm_documentNo')}</th><th>${t('adm_docValidFrom')}</th><th>${t('adm_expiresOn')}</th>
      <th>${t('adm_status')}</th><th>${t('adm_uploadedBy')}</th><th>${t('adm_reviewedBy')}</th><th></th></tr></thead>
      <tbody>${docs.map((d) => html`<tr id="document-${d.id}" data-status="${d.status}"><td>${d.id}</td><td>${d.supplierCode}</td><td>${kindLabel(t, d.kind)}</td><td class="free-text">${d.brand ?? ''}</td><td class="free-text">${d.documentNo}</td><td>${d.validFrom}</td><td>${d.expiresOn}</td>
        <td class="doc-status">${statusLabel(t, d.status)}</td><td>${d.uploadedBy ?? ''}</td><td>${d.reviewedBy ? `${d.reviewedBy}: ${d.reviewReason ?? ''}` : ''}</td>
        <td>${d.sha256 ? html`<a href="/compliance/documents/${d.id}" target="_blank" rel="noopener">${t('adm_view')}</a>` : ''}
          ${reviewer && d.status === 'pending' && d.uploadedByUserId !== Number(session?.user.id) ? html`
          <form method="post" action="/compliance/${d.id}/review" class="act review">${csrfField(res)}<input name="reason" placeholder="${t('adm_reason')}">
            <button type="submit" name="decision" value="approve">${t('adm_approve')}</button><button type="submit" name="decision" value="reject">${t('adm_reject')}</button></form>` : ''}</td></tr>`)}</tbody></table>`;
  }

  const compliancePage = async (req: Request, res: Response, errors: Errors = {}) => {
    const t = translator(langOf(req, res));
    const supplier = typeof req.query.supplier === 'string' && SUPPLIER_CODE.test(req.query.supplier) ? req.query.supplier : undefined;
    const [pending, recent, suppliers] = await Promise.all([
      documents.list({ status: 'pending', supplier }), documents.list({ supplier }), deps.db('suppliers').orderBy('code').select('code', 'name'),
    ]);
    page(req, res, t('adm_compliance'), 'compliance', html`<section><h1>${t('adm_compliance')}</h1>${doneNote(req, t)}${formErrors(t, errors)}
      <h2>${t('adm_pending')}</h2>${documentTable(t, res, pending)}</section>
      ${can(sessionOf(res), 'documents') ? html`<section><h2>${t('adm_upload')}</h2>
      <form id="document-upload" class="act" data-csrf="${sessionOf(res)?.csrfToken ?? ''}">
        ${input(t, 'supplier', 'supplier' as LabelKey, { supplier }, {}, { options: suppliers.map((s: { code: string; name: string }) => [s.code, `${s.code} ${s.name}`]) })}
        ${input(t, 'kind', 'adm_kind', {}, {}, { options: DOCUMENT_KINDS.map((k) => [k, kindLabel(t, k)]) })}${input(t, 'brand', 'adm_brand', {}, {})}
        ${input(t, 'documentNo', 'adm_documentNo', {}, {}, { required: true })}${input(t, 'validFrom', 'adm_docValidFrom', {}, {}, { type: 'date', required: true })}
        ${input(t, 'expiresOn', 'adm_expiresOn', {}, {}, { type: 'date', required: true })}
        <label class="field">${t('adm_file')} <input type="file" name="file" id="f-file" accept="application/pdf,image/jpeg,image/png" required></label>
        <button type="submit">${t('adm_upload')}</button> <span id="upload-result" class="error"></span></form>
      <script src="/assets/compliance-upload.js" defer></script></section>` : ''}
      <section><h2>${t('adm_documents')}</h2>${documentTable(t, res, recent)}</section>`);
  };
  app.get('/compliance', (req, res) => compliancePage(req, res));

  app.post('/compliance/upload', requirePermission('documents'), async (req, res) => {
    // everything but the bytes comes in the query; the bytes are the raw body, capped as they arrive
    const limit = deps.config.compliance.documentMaxBytes;
    const q = req.query;
    if (declaredTooLarge(req.get('content-length'), limit)) throw new BodyTooLargeError(limit);
    const chunks: Buffer[] = [];
    await receiveBody(req, new Writable({ write(chunk: Buffer, _enc, done) { chunks.push(chunk); done(); } }), limit);
    try {
      const doc = await documents.upload(actorOfRequest(res), {
        supplier: q.supplier, kind: q.kind, brand: q.brand, documentNo: q.documentNo, validFrom: q.validFrom, expiresOn: q.expiresOn,
        fileName: q.name, bytes: Buffer.concat(chunks),
      });
      res.status(201).json({ id: doc.id, message: `#${doc.id} ${doc.status}` });
    } catch (err) {
      const fields = fieldErrorsOf(err);
      if (!fields) throw err;
      res.status(422).json({ error: { code: 'VALIDATION_ERROR', message: Object.entries(fields).map(([f, m]) => `${f}: ${m}`).join('; '), fields } });
    }
  });

  app.post('/compliance/:id/review', requirePermission('compliance'), async (req, res) => {
    await formAction(res, async () => {
      const doc = await documents.review(actorOfRequest(res), Number(req.params.id), { decision: req.body?.decision, reason: req.body?.reason });
      res.redirect(303, `/compliance?done=${encodeURIComponent(`#${doc.id} ${doc.status}`)}`);
    }, (errors) => compliancePage(req, res, errors));
  });

  // the file itself: to logged-in users only (the session check is before every route), never sniffed, never scripted
  app.get('/compliance/documents/:id', async (req, res) => {
    const { document, bytes } = await documents.read(Number(req.params.id));
    res.set({
      'Content-Type': document.type!, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'private, no-store',
      'Content-Security-Policy': "default-src 'none'; img-src 'self'; plugin-types application/pdf; sandbox",
      'Content-Disposition': `inline; filename="document-${document.id}${document.type === 'application/pdf' ? '.pdf' : document.type === 'image/png' ? '.png' : '.jpg'}"`,
    });
    res.send(bytes);
  });
}
