import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboardApp } from '../dashboard/app.ts';
import { loadConfig } from '../src/config.ts';
import { receiveDelivery } from '../src/procurement/receipt.ts';
import { recordAudit } from '../src/audit/audit-log.ts';
import { Users } from '../src/users/users.ts';
import { userActor } from './support/actors.ts';
import { loginAs, postLogin, type DashboardSession } from './support/dashboard-session.ts';
import { openHarness, type Harness } from './support/harness.ts';
import { cardSku } from './support/world.ts';

let h: Harness;
let server: Server;
let base: string;
let ops: DashboardSession;
let viewer: DashboardSession;

beforeAll(async () => {
  h = await openHarness({ worker: false });
  await h.ledger.openPlatformAccounts();
  await cardSku(h, '腾讯', { threshold: 5 });
  const app = createDashboardApp({
    db: h.db, ledger: h.ledger, client: h.client, config: loadConfig(), infrastructure: ['test'],
    health: { postgres: '18', migrations: 4, accounts: 1, entries: 0, ledgerImbalanceFen: 0, checkedAt: new Date().toISOString() },
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  ops = await loginAs(base, h.db, 'ops');
  viewer = await loginAs(base, h.db, 'viewer');
});
afterAll(async () => {
  server.close();
  await h.close();
});

describe('dashboard login', () => {
  it('sends a browser without a session to the login page, and a script gets 401', async () => {
    const page = await fetch(`${base}/stock`, { redirect: 'manual', headers: { accept: 'text/html' } });
    expect(page.status).toBe(302);
    expect(page.headers.get('location')).toBe('/login?next=%2Fstock');
    expect((await fetch(`${base}/fulfillment/1/action`, { method: 'POST' })).status).toBe(401);
  });

  it('refuses a wrong password with the same answer as an unknown user', async () => {
    await new Users(h.db).upsert({ username: 'wang-test', role: 'finance', password: 'correct horse battery' });
    const wrong = await postLogin(base, { username: 'wang-test', password: 'nope nope nope' });
    const unknown = await postLogin(base, { username: 'nobody-here', password: 'nope nope nope' });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(await wrong.text()).toContain('用户名或密码错误');
    expect(wrong.headers.get('set-cookie')).not.toContain('kameng_session=');
  });

  it('keeps the session in an httpOnly SameSite cookie and goes back where the user was headed', async () => {
    await new Users(h.db).upsert({ username: 'li-test', role: 'ops', password: 'correct horse battery' });
    const res = await postLogin(base, { username: 'li-test', password: 'correct horse battery', next: '/stock' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/stock');
    const session = res.headers.getSetCookie().find((c) => c.startsWith('kameng_session='));
    expect(session).toMatch(/^kameng_session=[^;]+;.*HttpOnly.*SameSite=Lax/i);
    // Served over plain http here: a Secure cookie would never come back.
    expect(session).not.toMatch(/;\s*Secure/i);
    const offsite = await postLogin(base, { username: 'li-test', password: 'correct horse battery', next: '//evil.example' });
    expect(offsite.headers.get('location')).toBe('/');
  });

  it('marks the session cookie Secure when the configured public URL is https', async () => {
    const app = createDashboardApp({
      db: h.db, ledger: h.ledger, client: h.client, config: loadConfig({ ...process.env, KAMENG_PUBLIC_URL: 'https://kameng.example' }), infrastructure: ['test'],
      health: { postgres: '18', migrations: 7, accounts: 1, entries: 0, ledgerImbalanceFen: 0, checkedAt: new Date().toISOString() },
    });
    const https = app.listen(0, '127.0.0.1');
    await new Promise((r) => https.once('listening', r));
    try {
      await new Users(h.db).upsert({ username: 'secure-test', role: 'viewer', password: 'correct horse battery' });
      const res = await postLogin(`http://127.0.0.1:${(https.address() as AddressInfo).port}`, { username: 'secure-test', password: 'correct horse battery' });
      expect(res.status).toBe(303);
      expect(res.headers.getSetCookie().find((c) => c.startsWith('kameng_session='))).toMatch(/HttpOnly.*Secure.*SameSite=Lax|HttpOnly.*SameSite=Lax.*Secure/i);
    } finally {
      https.close();
    }
  });

  it("refuses a login post without the login form's CSRF token, even with the right password", async () => {
    await new Users(h.db).upsert({ username: 'csrf-test', role: 'admin', password: 'correct horse battery' });
    const forged = await postLogin(base, { username: 'csrf-test', password: 'correct horse battery' }, { csrf: false });
    expect(forged.status).toBe(403);
    expect(forged.headers.getSetCookie().some((c) => c.startsWith('kameng_session='))).toBe(false);
    const bare = await fetch(`${base}/login`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ username: 'csrf-test', password: 'correct horse battery', _csrf: 'made-up' }) });
    expect(bare.status).toBe(403);
  });

  it('ends the session on logout: the old cookie no longer opens a page', async () => {
    const s = await loginAs(base, h.db, 'finance');
    expect((await s.get('/audit')).status).toBe(200);
    expect((await s.post('/logout', {})).status).toBe(303);
    const after = await s.get('/audit');
    expect(after.status).toBe(302);
    expect(after.headers.get('location')).toContain('/login');
  });
});

describe('dashboard pages', () => {
  it('renders the overview in Chinese by default and in English on request', async () => {
    const zh = await (await ops.get('/')).text();
    expect(zh).toContain('试算平衡');
    expect(zh).toContain('借贷平衡');
    const en = await (await ops.get('/?lang=en')).text();
    expect(en).toContain('Trial balance');
    expect(en).toContain('Open discrepancies');
    expect(en).toContain('Daily margin');
  });

  it('charts daily margin by reseller over a chosen range, and refuses a bad date', async () => {
    const page = await (await ops.get('/?by=reseller&from=2026-01-01&to=2026-01-31&lang=en')).text();
    expect(page).toContain('"dates":["2026-01-01"');
    expect(page).toContain('<option value="reseller" selected>');
    expect((await ops.get('/?from=2026-13-45')).status).toBe(400);
  });

  it('shows stock with low-stock warnings on the suppliers and stock page', async () => {
    const res = await ops.get('/stock?lang=en');
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).toContain('Suppliers and stock');
    expect(page).toContain('Low stock');
  });

  it('shows ops the codes a supplier delivered that were quarantined, with the reason and the claim', async () => {
    const supplier = await h.deps.suppliers.upsert({ code: `q-${Date.now().toString(36)}`, name: '隔离供应商', apiBaseUrl: 'http://127.0.0.1:1', apiKey: 'k' });
    const sku = await cardSku(h, '腾讯');
    await receiveDelivery({ ...h.deps, db: h.db }, {
      requestId: `req-${sku.code}`, supplierId: supplier.id, supplierCode: supplier.code, supplierOrderId: 'O-1', sku: sku.code, unitCostFen: 9_400,
      codes: [{ serial: 'SN-GOOD', code: `GOOD-${sku.code}`, expiresAt: '2030-12-31' }, { serial: 'SN-EXPIRED', code: `OLD-${sku.code}`, expiresAt: '2020-01-31' }],
    });
    const page = await (await ops.get('/stock?lang=en')).text();
    const section = page.slice(page.indexOf('id="quarantine"'));
    expect(section).toContain('Quarantined codes');
    expect(section).toContain('SN-EXPIRED');
    expect(section).toContain('expires_at: code expired on 2020-01-31');
    expect(section).toContain('open');
    expect(section).not.toContain('SN-GOOD');
  });
});

describe('dashboard actions', () => {
  it('refuses an action without the CSRF token', async () => {
    const res = await ops.post('/fulfillment/1/action', { action: 'retry', reason: 'test retry' }, { csrf: false });
    expect(res.status).toBe(403);
    expect((await res.json()).error.code).toBe('CSRF');
  });

  it('lets a viewer read but not act: no action forms, and a forged post is refused', async () => {
    const page = await (await viewer.get('/reconciliation')).text();
    expect(page).not.toContain('/resolve"');
    expect(page).not.toContain('id="upload"');
    const res = await viewer.post('/reconciliation/cases/1/resolve', { resolution: 'write_off', reason: 'not allowed' });
    expect(res.status).toBe(403);
    expect((await res.json()).error.code).toBe('FORBIDDEN');
  });

  it('lists every action in the audit log, filtered by actor', async () => {
    await recordAudit(h.db, { actor: await userActor(h.db, 'ops', 'ops.audit-test'), action: 'order.retry', subjectType: 'order', subjectId: 42, reason: '供应商要求重试' });
    const page = await (await ops.get('/audit?actor=ops.audit-test&lang=en')).text();
    expect(page).toContain('Audit log');
    expect(page).toContain('供应商要求重试');
  });

  it('keeps the filters on the next page', async () => {
    const pager = await userActor(h.db, 'ops', 'ops.pager-test');
    for (const i of [0, 1, 2]) await recordAudit(h.db, { actor: pager, action: 'order.retry', subjectType: 'order', subjectId: 100 + i, reason: `第${i}次` });
    const page = await (await ops.get('/audit?actor=ops.pager-test&size=2&lang=en')).text();
    expect(page).toContain('href="/audit?actor=ops.pager-test&amp;page=2&amp;size=2"');
    const second = await (await ops.get('/audit?actor=ops.pager-test&page=2&size=2')).text();
    expect(second).toContain('第0次');
    expect(second).not.toContain('第2次');
  });
});
