import fs from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboardApp } from '../dashboard/app.ts';
import { loadConfig } from '../src/config.ts';
import { loginAs, type DashboardSession } from './support/dashboard-session.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';

/** The administration pages over HTTP: CSRF, roles, field errors, secrets shown once, documents to logged-in users only. */
let h: Harness;
let server: Server;
let base: string;
let dir: string;
let ops: DashboardSession;
let viewer: DashboardSession;
let finance: DashboardSession;
let compliance: DashboardSession;

beforeAll(async () => {
  h = await openHarness({ worker: false });
  await h.ledger.openPlatformAccounts();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-admin-pages-'));
  const app = createDashboardApp({
    db: h.db, ledger: h.ledger, client: h.client, infrastructure: ['test'], suppliers: h.deps.suppliers,
    config: loadConfig({ ...process.env, KAMENG_DOCUMENT_DIR: dir, KAMENG_DOCUMENT_MAX_BYTES: '2048' }),
    health: { postgres: '18', migrations: 18, accounts: 1, entries: 0, ledgerImbalanceFen: 0, checkedAt: new Date().toISOString() },
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  [ops, viewer, finance, compliance] = await Promise.all([loginAs(base, h.db, 'ops'), loginAs(base, h.db, 'viewer'), loginAs(base, h.db, 'finance'), loginAs(base, h.db, 'compliance')]);
});
afterAll(async () => {
  server.close();
  await h.close();
  await fs.rm(dir, { recursive: true, force: true });
});

const supplierForm = (code: string) => ({ code, name: '页面供应商', apiBaseUrl: 'https://api.page.example/v1', apiKey: 'page-api-key', reason: 'test' });
const upload = (session: DashboardSession, query: Record<string, string>, body: Buffer, csrf = true) => fetch(`${base}/compliance/upload?${new URLSearchParams(query)}`, {
  method: 'POST', body: new Uint8Array(body), headers: { cookie: session.cookie, accept: 'application/json', 'content-type': 'application/octet-stream', ...(csrf ? { 'x-csrf-token': session.csrf } : {}) },
});

describe('administration pages', () => {
  it('refuses a post without the CSRF token and a role that may not act, changing nothing', async () => {
    const code = uniq('pg').toLowerCase();
    expect((await ops.post('/admin/suppliers', supplierForm(code), { csrf: false })).status).toBe(403);
    expect((await viewer.post('/admin/suppliers', supplierForm(code))).status).toBe(403);
    expect((await finance.post('/admin/suppliers', supplierForm(code))).status).toBe(403);
    expect((await ops.post('/admin/skus/ANY-SKU/price', { tier: 'default', price: '1.00', reason: 'r' })).status).toBe(403);
    expect((await ops.post('/compliance/1/review', { decision: 'approve', reason: 'r' })).status).toBe(403);
    expect(await h.db('suppliers').where({ code }).first()).toBeUndefined();
  });

  it('shows the form again with an error beside each wrong field (422)', async () => {
    const res = await ops.post('/admin/suppliers', { code: 'Bad Code', name: '', apiBaseUrl: 'ftp://x', apiKey: '', _: '' });
    expect(res.status).toBe(422);
    const page = await res.text();
    for (const field of ['code', 'name', 'apiBaseUrl', 'apiKey']) expect(page).toContain(`data-field="${field}"`);
  });

  it('shows the callback secret once, on the answer to the create; the supplier page never does', async () => {
    const code = uniq('pg').toLowerCase();
    const res = await ops.post('/admin/suppliers', supplierForm(code));
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const secret = /<pre id="callback-secret">([^<]+)<\/pre>/.exec(await res.text())![1]!;
    expect(h.deps.suppliers.callbackSecret(await h.deps.suppliers.byCode(code))).toBe(secret);
    const detail = await (await ops.get(`/admin/suppliers/${code}`)).text();
    expect(detail).not.toContain(secret);
    expect(detail).not.toContain('page-api-key');
    expect(detail).toContain(`/admin/suppliers/${code}/statement-profile`);
  });

  it('takes a document by content and size, and serves it to logged-in users only', async () => {
    const code = uniq('pg').toLowerCase();
    await ops.post('/admin/suppliers', supplierForm(code));
    const query = { supplier: code, kind: 'business_licence', documentNo: 'BL-PG', validFrom: '2020-01-01', expiresOn: '2030-01-01', name: 'licence.pdf' };
    expect((await upload(ops, query, Buffer.from('%PDF-1.4 x'), false)).status).toBe(403);
    expect((await upload(viewer, query, Buffer.from('%PDF-1.4 x'))).status).toBe(403);
    const fake = await upload(ops, query, Buffer.from('<html>not a pdf</html>'));
    expect(fake.status).toBe(422);
    expect((await fake.json()).error.fields).toEqual({ file: 'not a PDF, JPEG or PNG (checked by its content)' });
    expect((await upload(ops, query, Buffer.concat([Buffer.from('%PDF-1.4 '), Buffer.alloc(4096)]))).status).toBe(413);
    const ok = await upload(ops, query, Buffer.from('%PDF-1.4 a licence'));
    expect(ok.status).toBe(201);
    const { id } = await ok.json();
    const served = await compliance.get(`/compliance/documents/${id}`);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('application/pdf');
    expect(Buffer.from(await served.arrayBuffer()).toString()).toBe('%PDF-1.4 a licence');
    expect((await fetch(`${base}/compliance/documents/${id}`, { redirect: 'manual' })).status).not.toBe(200);
    // approved by another user, through the form
    const review = await compliance.post(`/compliance/${id}/review`, { decision: 'approve', reason: 'matches' });
    expect(review.status).toBe(303);
    expect((await h.db('supplier_qualifications').where({ id }).first()).status).toBe('approved');
  });
});
