import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboardApp } from '../dashboard/app.ts';
import { loadConfig } from '../src/config.ts';
import { businessDateOf } from '../src/dates.ts';
import { loginAs, type DashboardSession } from './support/dashboard-session.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';

/** The administration pages over HTTP: role-checked, CSRF-checked, refusals with their fields, and what a disable does at once. */
let h: Harness;
let server: Server;
let base: string;
let admin: DashboardSession;
let finance: DashboardSession;
let viewer: DashboardSession;
let shop: string;

beforeAll(async () => {
  h = await openHarness({ worker: false });
  await h.ledger.openPlatformAccounts();
  const app = express();
  app.use(createDashboardApp({
    db: h.db, ledger: h.ledger, client: h.client, config: loadConfig(process.env), infrastructure: ['test'], resellers: h.deps.resellers,
    health: { postgres: '18', migrations: 7, accounts: 1, entries: 0, ledgerImbalanceFen: 0, checkedAt: new Date().toISOString() },
  }));
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  admin = await loginAs(base, h.db, 'admin');
  finance = await loginAs(base, h.db, 'finance');
  viewer = await loginAs(base, h.db, 'viewer');
  shop = uniq('shop');
  await h.deps.resellers.create({ code: shop, name: '页面测试店' });
});
afterAll(async () => {
  server?.close();
  await h?.close();
});

const recharge = (reference: string) => ({ resellerCode: shop, channel: 'bank', payer: '张三', amount: '100.00', reference, valueDate: businessDateOf(new Date()) });

describe('the administration pages', () => {
  it('a viewer reads but may not record a recharge, onboard a reseller or see users', async () => {
    expect((await viewer.get('/finance/recharges')).status).toBe(200);
    expect((await viewer.get('/admin/resellers')).status).toBe(200);
    expect((await viewer.post('/finance/recharges', recharge(uniq('BK')))).status).toBe(403);
    expect((await viewer.post('/admin/resellers', { code: uniq('s'), name: 'x' })).status).toBe(403);
    expect((await finance.post('/admin/resellers', { code: uniq('s'), name: 'x' })).status).toBe(403);
    expect((await finance.get('/admin/users')).status).toBe(403);
  });

  it('a post without its CSRF token is refused and records nothing', async () => {
    const reference = uniq('BK');
    const res = await finance.post('/finance/recharges', recharge(reference), { csrf: false });
    expect(res.status).toBe(403);
    expect((await res.json() as any).error.code).toBe('CSRF');
    expect(await h.db('wallet_recharges').where({ reference }).first()).toBeUndefined();
  });

  it('a recharge is recorded by finance; a duplicate reference comes back 422 with the reference field marked', async () => {
    const reference = uniq('BK');
    expect((await finance.post('/finance/recharges', recharge(reference))).status).toBe(303);
    const again = await finance.post('/finance/recharges', recharge(reference));
    expect(again.status).toBe(422);
    expect(await again.text()).toMatch(/data-field="reference"/);
    expect(await h.db('wallet_recharges').where({ reference }).count<{ n: string }[]>('* as n')).toEqual([{ n: 1 }]);
  });

  it('a bank statement file uploaded on the recharges page is recorded all at once; a bad one is refused with file:line:column and records nothing', async () => {
    const today = businessDateOf(new Date());
    const [good, other] = [uniq('LS'), uniq('LS')];
    const upload = (name: string, text: string) => fetch(`${base}/finance/recharges/import?channel=bank&name=${encodeURIComponent(name)}`, {
      method: 'POST', body: text, headers: { cookie: finance.cookie, 'x-csrf-token': finance.csrf, 'content-type': 'application/octet-stream', accept: 'application/json' },
    });
    const bad = await upload('bad.csv', `交易日期,对方户名,金额,摘要,流水号\n${today},张三,10.00,充值 ${shop},${other}\n${today},李四,abc,充值 ${shop},${uniq('LS')}\n`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.message).toContain('bad.csv:3:C(金额)');
    expect(await h.db('wallet_recharges').where({ reference: other }).first()).toBeUndefined();
    const ok = await upload('bank.csv', `交易日期,对方户名,金额,摘要,流水号\n${today},张三,10.00,充值 ${shop},${good}\n`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ recorded: 1, alreadyRecorded: 0 });
    expect(await (await upload('bank.csv', `交易日期,对方户名,金额,摘要,流水号\n${today},张三,10.00,充值 ${shop},${good}\n`)).json()).toMatchObject({ recorded: 0, alreadyRecorded: 1 });
    expect((await fetch(`${base}/finance/recharges/import?name=x.csv`, { method: 'POST', body: 'a', headers: { cookie: viewer.cookie, 'x-csrf-token': viewer.csrf, accept: 'application/json' } })).status).toBe(403);
  });

  it('an admin disables a user from the users page: that user\'s session ends at once', async () => {
    const clerk = await loginAs(base, h.db, 'finance');
    expect((await clerk.get('/finance/recharges')).status).toBe(200);
    expect((await admin.post('/admin/users/action', { username: clerk.username, action: 'disable', reason: 'left the company' })).status).toBe(303);
    const after = await clerk.get('/finance/recharges');
    expect([302, 303, 401]).toContain(after.status);
    const audit = await h.db('audit_log').where({ action: 'user.disable', subject_id: clerk.username }).first();
    expect(audit.reason).toBe('left the company');
  });
});
