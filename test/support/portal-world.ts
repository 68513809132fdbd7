import type { Server } from 'node:http';
import express from 'express';
import { createDashboardApp } from '../../dashboard/app.ts';
import { mountPortal } from '../../dashboard/pages/portal.ts';
import { mountApis } from '../../src/api/mount.ts';
import { loadConfig, type AppConfig } from '../../src/config.ts';
import { importCardCodes } from '../../src/inventory/import.ts';
import { ResellerUsers } from '../../src/portal/users.ts';
import { ResellerAdmin } from '../../src/resellers/admin.ts';
import { signedHeaders } from '../../src/resellers/signature.ts';
import { freePort } from '../../src/runtime/temporal-dev-server.ts';
import { settleDay } from '../../src/settlement/settle.ts';
import type { Actor } from '../../src/users/actor.ts';
import { userActor } from './actors.ts';
import { openHarness, uniq, type Harness } from './harness.ts';
import { testStock } from './stock.ts';
import { cardSku } from './world.ts';

export const PORTAL_PASSWORD = 'portal-test-password';
/** Only shop a has a statement on DAY_A_ONLY (shop b was onboarded after it was settled); both on DAY_BOTH. */
export const DAY_A_ONLY = '2021-03-01';
export const DAY_BOTH = '2021-03-02';

export interface Shop {
  id: number;
  code: string;
  credentials: { apiKey: string; apiSecret: string };
  owner: string;
  staff: string;
  /** Its delivered card order (database id, and its own order id). */
  cardOrderId: number;
  resellerOrderId: string;
}

export interface PortalWorld {
  h: Harness;
  base: string;
  config: AppConfig;
  admin: Actor;
  sku: string;
  shops: { a: Shop; b: Shop };
  /** Every portal route, "METHOD /portal/path". */
  routes: string[];
  /** Those of dashboard/pages/portal-pages.ts (isolation cases in test/portal-pages.test.ts). */
  pageRoutes: string[];
  placeCardOrder(shop: Pick<Shop, 'credentials'>, resellerOrderId: string, credentials?: { apiKey: string; apiSecret: string }): Promise<Response>;
  close(): Promise<void>;
}

/**
 * Two resellers on a database of their own (settled days are global state): each with an owner
 * and a staff login created at onboarding by an admin, a settled statement, and a delivered card
 * order placed through the signed API; the API and the dashboard (with the portal) on one port.
 */
export async function openPortalWorld(options: { freeTries?: number; worker?: boolean; allowPrivateCallbacks?: boolean } = {}): Promise<PortalWorld> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const h = await openHarness({ worker: options.worker ?? false, freshDatabase: true, settings: { publicUrl: base } });
  await h.ledger.openPlatformAccounts();
  const loaded = loadConfig(process.env);
  // the portal's complaints start their workflow on this test file's own task queue (its worker, when asked for)
  // a test's callback receiver listens on 127.0.0.1: allowPrivateCallbacks lets the portal send there
  const fulfillment = options.allowPrivateCallbacks === undefined ? loaded.fulfillment : { ...loaded.fulfillment, allowPrivateCallbacks: options.allowPrivateCallbacks };
  const config: AppConfig = { ...loaded, fulfillment, temporal: { ...loaded.temporal, taskQueues: { ...loaded.temporal.taskQueues, fulfillment: h.taskQueue } }, dashboard: { ...loaded.dashboard, login: { ...loaded.dashboard.login, freeTries: options.freeTries ?? loaded.dashboard.login.freeTries, lockAfter: Math.max(loaded.dashboard.login.lockAfter, (options.freeTries ?? 0) + 1) } } };
  const app = express();
  mountApis(app, h.deps, h.client, { fulfillment: h.taskQueue, procurement: h.taskQueue });
  const deps = { db: h.db, ledger: h.ledger, client: h.client, config, infrastructure: ['portal test'], resellers: h.deps.resellers, vault: h.deps.vault,
    health: { postgres: '18', migrations: 7, accounts: 1, entries: 0, ledgerImbalanceFen: 0, checkedAt: new Date().toISOString() } };
  app.use(createDashboardApp(deps));
  const server: Server = app.listen(port, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { routes, pageRoutes } = mountPortal(express(), { ...deps, reports: undefined as never });

  const admin = await userActor(h.db, 'admin');
  const finance = await userActor(h.db, 'finance');
  const resellerAdmin = new ResellerAdmin(h.db, h.deps.resellers, { allowPrivateCallbacks: true, secretOverlapMs: 24 * 3600_000 });
  const users = new ResellerUsers(h.db);
  const sku = (await cardSku(h, '腾讯', { threshold: 0, batch: 0, priceFen: 9_800 })).code;
  const batchKey = uniq('portal');
  async function* codes() {
    for (let i = 0; i < 20; i++) yield { line: i + 2, sku, serial: `${batchKey}-S${i}`, code: `PORTAL-${batchKey}-${i}`, expiresOn: '' };
  }
  await importCardCodes(h.db, h.deps.vault, { booking: testStock(h.ledger), batchKey, sku, unitCostFen: 9_000, source: 'file', fileName: 'portal.csv', rows: codes() });

  const placeCardOrder = (shop: Pick<Shop, 'credentials'>, resellerOrderId: string, credentials = shop.credentials) => {
    const body = JSON.stringify({ resellerOrderId, sku, quantity: 1 });
    return fetch(`${base}/api/v1/orders`, { method: 'POST', body, headers: signedHeaders(credentials, 'POST', '/api/v1/orders', body) });
  };

  const shops = {} as { a: Shop; b: Shop };
  const onboard = async (key: 'a' | 'b') => {
    const code = uniq(`shop-${key}`);
    const { reseller, apiSecret } = await resellerAdmin.onboard(admin, { code, name: `门户小店${key.toUpperCase()} Portal shop ${key.toUpperCase()}` });
    const owner = `owner-${code}`.toLowerCase().slice(0, 40);
    const staff = `staff-${code}`.toLowerCase().slice(0, 40);
    await users.createByStaff(admin, code, { username: owner, role: 'owner', password: PORTAL_PASSWORD, displayName: `店主 ${key.toUpperCase()}` });
    await users.createByStaff(admin, code, { username: staff, role: 'staff', password: PORTAL_PASSWORD });
    shops[key] = { id: reseller.id, code, credentials: { apiKey: reseller.apiKey, apiSecret }, owner, staff, cardOrderId: 0, resellerOrderId: `${key}-card-${batchKey}` };
  };
  await onboard('a');
  await h.deps.resellers.topUpWallet(shops.a.id, 50_000, `${shops.a.code}-first`, { valueDate: DAY_A_ONLY });
  await settleDay(h.db, DAY_A_ONLY, { actor: finance });
  await onboard('b');
  for (const shop of [shops.a, shops.b]) await h.deps.resellers.topUpWallet(shop.id, 1_000_000, `${shop.code}-second`, { valueDate: DAY_BOTH });
  await settleDay(h.db, DAY_BOTH, { actor: finance });
  for (const shop of [shops.a, shops.b]) {
    const placed = await placeCardOrder(shop, shop.resellerOrderId);
    if (placed.status !== 201) throw new Error(`card order of ${shop.code}: ${placed.status} ${await placed.text()}`);
    shop.cardOrderId = Number((await h.db('orders').where({ reseller_id: shop.id, reseller_order_id: shop.resellerOrderId }).first('id')).id);
  }
  return {
    h, base, config, admin, sku, shops, routes, pageRoutes, placeCardOrder,
    async close() {
      server.close();
      await h.close();
    },
  };
}

export interface PortalSessionClient {
  cookie: string;
  csrf: string;
  get(path: string): Promise<Response>;
  post(path: string, form?: Record<string, string>, options?: { csrf?: boolean }): Promise<Response>;
}

/** The portal's login form as a browser posts it: fetch the form (its CSRF cookie and field), post both. */
export async function postPortalLogin(base: string, form: Record<string, string>, options: { csrf?: boolean } = {}): Promise<Response> {
  const page = await fetch(`${base}/portal/login`);
  const cookie = page.headers.getSetCookie().find((c) => c.startsWith('kameng_portal_login_csrf='))!.split(';')[0]!;
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
  return fetch(`${base}/portal/login`, {
    method: 'POST', redirect: 'manual', headers: { cookie },
    body: new URLSearchParams({ ...form, ...(options.csrf === false ? {} : { _csrf: csrf }) }),
  });
}

export async function portalLogin(base: string, username: string, password = PORTAL_PASSWORD): Promise<PortalSessionClient> {
  const res = await postPortalLogin(base, { username, password });
  if (res.status !== 303) throw new Error(`portal login as ${username} failed: ${res.status}`);
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('kameng_portal='))!.split(';')[0]!;
  const page = await (await fetch(`${base}/portal/users`, { headers: { cookie } })).text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
  return {
    cookie, csrf,
    get: (path) => fetch(`${base}${path}`, { headers: { cookie }, redirect: 'manual' }),
    post: (path, form = {}, options = {}) => fetch(`${base}${path}`, {
      method: 'POST', headers: { cookie }, redirect: 'manual',
      body: new URLSearchParams({ ...form, ...(options.csrf === false ? {} : { _csrf: csrf }) }),
    }),
  };
}
