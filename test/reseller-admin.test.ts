import express from 'express';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resellerApi } from '../src/api/reseller-api.ts';
import { RequestAuthenticator } from '../src/resellers/authenticate.ts';
import { ResellerAdmin } from '../src/resellers/admin.ts';
import { signedHeaders } from '../src/resellers/signature.ts';
import { actorFromToken, type Actor } from '../src/users/actor.ts';
import { listUsers, resetPassword, setRole, setUserDisabled } from '../src/users/manage.ts';
import { Users } from '../src/users/users.ts';
import { userActor } from './support/actors.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';

let h: Harness;
let admin: ResellerAdmin;
let boss: Actor;
let baseUrl: string;
let server: ReturnType<express.Express['listen']>;
/** The API's clock: tests move it past an overlap window. */
let clockOffsetMs = 0;
const HOUR = 3600_000;

beforeAll(async () => {
  h = await openHarness({ worker: false });
  await h.ledger.openPlatformAccounts();
  admin = new ResellerAdmin(h.db, h.deps.resellers, { allowPrivateCallbacks: false, secretOverlapMs: 24 * HOUR });
  boss = await userActor(h.db, 'admin');
  const app = express();
  app.use('/api/v1', resellerApi({
    auth: new RequestAuthenticator(h.db, h.deps.resellers, () => Date.now() + clockOffsetMs),
    orders: {
      // the real claim: the order service claims the caller in the order's statement, refusing as claim() does
      placeOrder: async (caller) => ({ order: { reseller: (await caller.claim()).code }, replayed: false }),
      getOrder: async () => ({}),
      balance: async (r) => ({ balanceFen: await h.deps.resellers.walletBalance(r.id), currency: 'CNY' }),
      listSkus: async () => [],
    },
  }));
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.close();
  await h.close();
});

async function call(credentials: { apiKey: string; apiSecret: string }, method = 'GET', path = '/api/v1/balance', body = '') {
  const res = await fetch(`${baseUrl}${path}`, { method, body: method === 'GET' ? undefined : body, headers: signedHeaders(credentials, method, path, body, Date.now() + clockOffsetMs) });
  return { status: res.status, body: (await res.json()) as any };
}

const onboard = (form: Record<string, unknown> = {}) => admin.onboard(boss, { code: uniq('shop'), name: '新店 New shop', contact: '张三 13800000000', tier: 'silver', ...form });

describe('onboarding a reseller', () => {
  it('creates it with contact, tier, threshold and credentials; the secret works at once and is not stored in clear', async () => {
    const { reseller, apiSecret } = await onboard({ callbackUrl: 'https://shop.example.com/kameng', lowBalanceFen: 100_000 });
    expect(reseller).toMatchObject({ tier: 'silver', contact: '张三 13800000000', lowBalanceFen: 100_000, callbackUrl: 'https://shop.example.com/kameng', status: 'active' });
    expect((await call({ apiKey: reseller.apiKey, apiSecret })).status).toBe(200);
    const row = await h.db('resellers').where({ id: reseller.id }).first();
    expect(JSON.stringify(row)).not.toContain(apiSecret);
    const audit = await h.db('audit_log').where({ action: 'reseller.onboard', subject_id: String(reseller.id) }).first();
    expect(audit.actor_user_id).toBe(boss.userId);
  });

  it('refuses bad fields, each named, and a callback URL the SSRF policy refuses', async () => {
    const err = await admin.onboard(boss, { code: 'x', name: '', tier: 'platinum', callbackUrl: 'http://169.254.169.254/latest', ipAllowlist: '10.0.0.0/33', lowBalanceFen: -1 }).catch((e) => e);
    expect(err.code).toBe('VALIDATION_ERROR');
    expect(err.details.fields).toMatchObject({ code: expect.any(String), name: expect.any(String), tier: expect.any(String), ipAllowlist: expect.stringContaining('prefix'), lowBalanceFen: expect.any(String) });
    expect(err.details.fields.callbackUrl).toMatch(/private or reserved/);
    for (const url of ['http://localhost:8080/cb', 'http://[::1]/cb', 'ftp://shop.example.com', 'https://user:pw@shop.example.com/']) {
      expect((await admin.onboard(boss, { code: uniq('s'), name: 'n', callbackUrl: url }).catch((e) => e)).details.fields.callbackUrl).toBeDefined();
    }
  });

  it('refuses a code already taken, and anyone but an admin', async () => {
    const { reseller } = await onboard();
    expect((await admin.onboard(boss, { code: reseller.code, name: 'again' }).catch((e) => e)).details.fields.code).toMatch(/already exists/);
    const finance = await userActor(h.db, 'finance');
    await expect(admin.onboard(finance, { code: uniq('s'), name: 'n' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });
});

describe('rotating the API secret', () => {
  it('accepts both secrets during the overlap window, only the new one after it (the old one: BAD_SIGNATURE)', async () => {
    const { reseller, apiSecret: oldSecret } = await onboard();
    expect((await call({ apiKey: reseller.apiKey, apiSecret: oldSecret })).status).toBe(200);
    const rotated = await admin.rotateSecret(boss, reseller.code, 'yearly rotation');
    expect(rotated.apiKey).toBe(reseller.apiKey);
    clockOffsetMs = 2000; // past the one-second re-read guard of the key's kept credentials
    expect((await call({ apiKey: reseller.apiKey, apiSecret: rotated.apiSecret })).status).toBe(200);
    expect((await call({ apiKey: reseller.apiKey, apiSecret: oldSecret })).status).toBe(200);
    clockOffsetMs = 24 * HOUR + 60_000;
    expect((await call({ apiKey: reseller.apiKey, apiSecret: rotated.apiSecret })).status).toBe(200);
    const old = await call({ apiKey: reseller.apiKey, apiSecret: oldSecret });
    expect(old.status).toBe(401);
    expect(old.body.error.code).toBe('BAD_SIGNATURE');
    clockOffsetMs = 0;
  });

  it('revoking the old secret ends its window at once (on a fresh API host; others within a minute)', async () => {
    const { reseller, apiSecret: oldSecret } = await onboard();
    await admin.rotateSecret(boss, reseller.code, 'leaked in a log');
    await admin.revokePreviousSecret(boss, reseller.code, 'leaked in a log');
    const fresh = new RequestAuthenticator(h.db, h.deps.resellers);
    const headers = signedHeaders({ apiKey: reseller.apiKey, apiSecret: oldSecret }, 'GET', '/api/v1/balance', '');
    await expect(fresh.verify({ method: 'GET', path: '/api/v1/balance', headers, rawBody: Buffer.alloc(0) })).rejects.toMatchObject({ code: 'BAD_SIGNATURE' });
    expect(await h.db('audit_log').where({ action: 'reseller.revoke_previous_secret', subject_id: String(reseller.id) }).first()).toBeDefined();
  });
});

describe('suspension and the IP allowlist', () => {
  it("a suspended reseller's order is refused 403 RESELLER_SUSPENDED; reactivated, it is accepted again", async () => {
    const { reseller, apiSecret } = await onboard();
    const credentials = { apiKey: reseller.apiKey, apiSecret };
    await admin.setSuspended(boss, reseller.code, true, 'unpaid chargebacks');
    const order = await call(credentials, 'POST', '/api/v1/orders', JSON.stringify({ resellerOrderId: 'o-1', sku: 'X' }));
    expect(order.status).toBe(403);
    expect(order.body.error.code).toBe('RESELLER_SUSPENDED');
    await admin.setSuspended(boss, reseller.code, false, 'chargebacks settled');
    expect((await call(credentials, 'POST', '/api/v1/orders', JSON.stringify({ resellerOrderId: 'o-1', sku: 'X' }))).status).toBe(201);
    const actions = await h.db('audit_log').where({ subject_type: 'reseller', subject_id: String(reseller.id) }).orderBy('id').pluck('action');
    expect(actions).toEqual(['reseller.onboard', 'reseller.suspend', 'reseller.reactivate']);
  });

  it('a request from outside the allowlist is refused 403 IP_NOT_ALLOWED; from inside it (IPv4 or IPv6 CIDR) accepted', async () => {
    const { reseller, apiSecret } = await onboard({ ipAllowlist: '203.0.113.0/24, 2001:db8::/32' });
    const credentials = { apiKey: reseller.apiKey, apiSecret };
    const refused = await call(credentials);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('IP_NOT_ALLOWED');
    await admin.update(boss, reseller.code, { ipAllowlist: '127.0.0.0/8 ::1' }, 'the shop moved its server here');
    clockOffsetMs = 61_000; // the API re-reads a key's credentials after a minute
    expect((await call(credentials)).status).toBe(200);
    clockOffsetMs = 0;
    const audit = await h.db('audit_log').where({ action: 'reseller.update', subject_id: String(reseller.id) }).first();
    expect(audit.details.changed).toEqual([{ field: 'ipAllowlist', from: ['203.0.113.0/24', '2001:db8::/32'], to: ['127.0.0.0/8', '::1'] }]);
  });
});

describe('users, administered', () => {
  it('lists, changes a role (at once), resets a password and disables: a disabled user\'s sessions end at once', async () => {
    const users = new Users(h.db);
    const clerk = await userActor(h.db, 'viewer', uniq('clerk').toLowerCase());
    const { token } = await users.login(clerk.username, (await resetPassword(h.db, boss, { username: clerk.username, password: 'first-password-1', reason: 'new hire' })).password);
    expect((await listUsers(h.db, boss)).find((u) => u.username === clerk.username)).toMatchObject({ role: 'viewer', disabled: false, sessions: 1 });
    await setRole(h.db, boss, { username: clerk.username, role: 'finance', reason: 'moved to finance' });
    expect((await actorFromToken(h.db, token, 'dashboard'))?.role).toBe('finance');
    await setUserDisabled(h.db, boss, { username: clerk.username, disabled: true, reason: 'left the company' });
    expect(await actorFromToken(h.db, token, 'dashboard')).toBeUndefined();
    expect(await users.session(token)).toBeUndefined();
    const actions = await h.db('audit_log').where({ subject_type: 'user', subject_id: clerk.username }).orderBy('id').pluck('action');
    expect(actions).toEqual(['user.reset_password', 'user.set_role', 'user.disable']);
  });

  it('a password reset ends the sessions that had the old one; a role must be a role; an admin cannot demote themself', async () => {
    const users = new Users(h.db);
    const clerk = await userActor(h.db, 'ops', uniq('ops').toLowerCase());
    await resetPassword(h.db, boss, { username: clerk.username, password: 'known-password-1', reason: 'setup' });
    const { token } = await users.login(clerk.username, 'known-password-1');
    const { password } = await resetPassword(h.db, boss, { username: clerk.username, reason: 'forgot it' });
    expect(password.length).toBeGreaterThanOrEqual(10);
    expect(await users.session(token)).toBeUndefined();
    await expect(setRole(h.db, boss, { username: clerk.username, role: 'root', reason: 'why not' })).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
    await expect(setRole(h.db, boss, { username: boss.username, role: 'viewer', reason: 'oops' })).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
    await expect(listUsers(h.db, clerk)).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });
});
