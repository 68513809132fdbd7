import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboardApp } from '../dashboard/app.ts';
import { loadConfig } from '../src/config.ts';
import { Users } from '../src/users/users.ts';
import { loginAs, type DashboardSession } from './support/dashboard-session.ts';
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
    const wrong = await fetch(`${base}/login`, { method: 'POST', body: new URLSearchParams({ username: 'wang-test', password: 'nope nope nope' }), redirect: 'manual' });
    const unknown = await fetch(`${base}/login`, { method: 'POST', body: new URLSearchParams({ username: 'nobody-here', password: 'nope nope nope' }), redirect: 'manual' });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(await wrong.text()).toContain('用户名或密码错误');
    expect(wrong.headers.get('set-cookie')).toBeNull();
  });

  it('keeps the session in an httpOnly SameSite cookie and goes back where the user was headed', async () => {
    await new Users(h.db).upsert({ username: 'li-test', role: 'ops', password: 'correct horse battery' });
    const res = await fetch(`${base}/login`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ username: 'li-test', password: 'correct horse battery', next: '/stock' }) });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/stock');
    expect(res.headers.get('set-cookie')).toMatch(/^kameng_session=[^;]+;.*HttpOnly.*SameSite=Lax/i);
    const offsite = await fetch(`${base}/login`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ username: 'li-test', password: 'correct horse battery', next: '//evil.example' }) });
    expect(offsite.headers.get('location')).toBe('/');
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
    await h.db('audit_log').insert({ actor: 'ops.audit-test', action: 'order.retry', subject_type: 'order', subject_id: '42', reason: '供应商要求重试' });
    const page = await (await ops.get('/audit?actor=ops.audit-test&lang=en')).text();
    expect(page).toContain('Audit log');
    expect(page).toContain('供应商要求重试');
  });
});
