import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PORTAL_API_ROUTE } from '../dashboard/pages/portal-api.ts';
import { REVEALS_PER_HOUR } from '../src/portal/portal.ts';
import { postLogin } from './support/dashboard-session.ts';
import { DAY_A_ONLY, DAY_BOTH, openPortalWorld, portalLogin, postPortalLogin, PORTAL_PASSWORD, type PortalSessionClient, type PortalWorld } from './support/portal-world.ts';
import { Users } from '../src/users/users.ts';
import { businessDateOf } from '../src/dates.ts';
import { Recharges } from '../src/wallet/recharges.ts';
import { userActor } from './support/actors.ts';

/**
 * The reseller portal (issue 24) over HTTP: its own logins, cookie, CSRF and throttle; every route
 * reads only the session's own reseller (another reseller's order or statement is 404); only the
 * owner rotates keys; card codes are revealed one order at a time, audited and rate-limited.
 */
let w: PortalWorld;
let ownerA: PortalSessionClient;
let ownerB: PortalSessionClient;
let staffA: PortalSessionClient;

const FREE_TRIES = 3;

beforeAll(async () => {
  w = await openPortalWorld({ freeTries: FREE_TRIES });
  // what the fulfillment's callback delivery records for shop a's order: one refused attempt, then one delivered
  await w.h.db('callback_deliveries').insert([
    { order_id: w.shops.a.cardOrderId, url: 'https://shop-a.example/notify', attempt: 1, status_code: 502, error: 'HTTP 502 from the reseller endpoint', delivered: false, duration_ms: 41 },
    { order_id: w.shops.a.cardOrderId, url: 'https://shop-a.example/notify', attempt: 2, status_code: 200, error: null, delivered: true, duration_ms: 12 },
  ]);
  // finance records shop a's bank recharge, as on the recharges page
  await new Recharges(w.h.db, w.h.ledger, { rechargeApprovalFen: 5_000_000 }).record(await userActor(w.h.db, 'finance'), {
    resellerCode: w.shops.a.code, channel: 'bank', payer: '门户小店A', amountFen: 20_000, reference: 'BK-PORTAL-A-1', valueDate: businessDateOf(new Date()),
  });
  ownerA = await portalLogin(w.base, w.shops.a.owner);
  ownerB = await portalLogin(w.base, w.shops.b.owner);
  staffA = await portalLogin(w.base, w.shops.a.staff);
});
afterAll(async () => {
  await w?.close();
});

const sealedSecret = async (resellerId: number) => (await w.h.db('resellers').where({ id: resellerId }).first('api_secret_sealed')).api_secret_sealed.toString('hex');

describe('logging in to the portal', () => {
  it('a reseller user logs in with the portal cookie, sees its own overview, and logs out', async () => {
    const wrong = await postPortalLogin(w.base, { username: w.shops.b.staff, password: 'not the password' });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('data-code="LOGIN_FAILED"');

    const ok = await postPortalLogin(w.base, { username: w.shops.b.staff, password: PORTAL_PASSWORD });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/portal');
    const setCookie = ok.headers.getSetCookie().find((c) => c.startsWith('kameng_portal='))!;
    expect(setCookie).toMatch(/Path=\/portal/);
    expect(setCookie).toMatch(/HttpOnly/);
    const cookie = setCookie.split(';')[0]!;
    const overview = await fetch(`${w.base}/portal`, { headers: { cookie } });
    expect(overview.status).toBe(200);
    const text = await overview.text();
    expect(text).toContain(w.shops.b.code);
    expect(text).toContain('id="balance"');
    expect(text).not.toContain(w.shops.a.code);
    const audit = await w.h.db('audit_log').where({ action: 'portal.login' }).whereNotNull('actor_reseller_user_id').orderBy('id', 'desc').first();
    expect(audit).toMatchObject({ actor: `portal:${w.shops.b.staff}`, actor_user_id: null });

    const csrf = /name="_csrf" value="([^"]+)"/.exec(text)![1]!;
    const out = await fetch(`${w.base}/portal/logout`, { method: 'POST', headers: { cookie }, body: new URLSearchParams({ _csrf: csrf }), redirect: 'manual' });
    expect(out.status).toBe(303);
    const after = await fetch(`${w.base}/portal`, { headers: { cookie, accept: 'text/html' }, redirect: 'manual' });
    expect(after.status).toBe(302);
    expect(after.headers.get('location')).toBe('/portal/login?next=%2Fportal');
  });

  it('a staff dashboard session does not open the portal, and a portal session does not open the dashboard', async () => {
    const username = 'portal-test-ops';
    await new Users(w.h.db).upsert({ username, role: 'admin', password: PORTAL_PASSWORD });
    const staffLogin = await postLogin(w.base, { username, password: PORTAL_PASSWORD });
    const staffCookie = staffLogin.headers.getSetCookie().find((c) => c.startsWith('kameng_session='))!.split(';')[0]!;
    const portal = await fetch(`${w.base}/portal`, { headers: { cookie: staffCookie, accept: 'text/html' }, redirect: 'manual' });
    expect(portal.status).toBe(302);
    expect(portal.headers.get('location')).toMatch(/^\/portal\/login/);
    // a reseller user is not a dashboard user of the same name either
    const asDashboard = await postLogin(w.base, { username: w.shops.a.owner, password: PORTAL_PASSWORD });
    expect(asDashboard.status).toBe(401);
    const dashboard = await fetch(`${w.base}/`, { headers: { cookie: ownerA.cookie, accept: 'text/html' }, redirect: 'manual' });
    expect(dashboard.status).toBe(302);
    expect(dashboard.headers.get('location')).toMatch(/^\/login/);
  });

  it('a login without the form\'s CSRF token is refused; a POST without the session\'s token changes nothing', async () => {
    const noToken = await postPortalLogin(w.base, { username: w.shops.a.owner, password: PORTAL_PASSWORD }, { csrf: false });
    expect(noToken.status).toBe(403);
    expect(noToken.headers.getSetCookie().some((c) => c.startsWith('kameng_portal='))).toBe(false);
    const before = await sealedSecret(w.shops.a.id);
    const rotate = await ownerA.post('/portal/api-keys/rotate', {}, { csrf: false });
    expect(rotate.status).toBe(403);
    expect((await rotate.json()).error.code).toBe('CSRF');
    const wrong = await fetch(`${w.base}/portal/api-keys/rotate`, { method: 'POST', headers: { cookie: ownerA.cookie }, body: new URLSearchParams({ _csrf: ownerB.csrf }), redirect: 'manual' });
    expect(wrong.status).toBe(403);
    expect(await sealedSecret(w.shops.a.id)).toBe(before);
  });

  it('failed logins are throttled under the portal\'s own key space', async () => {
    const username = w.shops.b.owner;
    const statuses: number[] = [];
    for (let i = 0; i < FREE_TRIES + 1; i++) statuses.push((await postPortalLogin(w.base, { username, password: `wrong-${i}` })).status);
    expect(statuses.slice(0, FREE_TRIES)).toEqual(Array(FREE_TRIES).fill(401));
    expect(statuses[FREE_TRIES]).toBe(429);
    // even the right password waits now
    const right = await postPortalLogin(w.base, { username, password: PORTAL_PASSWORD });
    expect(right.status).toBe(429);
    expect(right.headers.get('retry-after')).toMatch(/^\d+$/);
    const keys = await w.h.db('login_throttle').where('key', 'like', `%${username}%`).pluck('key');
    expect(keys).toContain(`user:portal:${username}`);
    expect(keys).not.toContain(`user:${username}`);
    await w.h.ownerDb('login_throttle').where('key', 'like', `%${username}%`).delete();
  });
});

describe('isolation: another reseller\'s user gets 404, and every page reads its own reseller only', () => {
  // Shop b's owner against shop a's things. Every portal route is in this table (checked below).
  const cases: { route: string; call: () => Promise<Response>; expect: (res: Response, text: string) => void | Promise<void> }[] = [
    { route: 'GET /portal', call: () => ownerB.get('/portal'), expect: (res, text) => { expect(res.status).toBe(200); expect(text).not.toContain(w.shops.a.code); } },
    { route: 'GET /portal/analysis', call: () => ownerB.get('/portal/analysis'), expect: (res, text) => { expect(res.status).toBe(200); expect(text).not.toContain(w.shops.a.code); } },
    { route: 'GET /portal/orders', call: () => ownerB.get(`/portal/orders?orderId=${w.shops.a.resellerOrderId}`), expect: (res, text) => { expect(res.status).toBe(200); expect(text).toContain('id="no-orders"'); } },
    { route: 'GET /portal/orders/:id', call: () => ownerB.get(`/portal/orders/${w.shops.a.cardOrderId}`), expect: (res) => expect(res.status).toBe(404) },
    { route: 'POST /portal/orders/:id/reveal', call: () => ownerB.post(`/portal/orders/${w.shops.a.cardOrderId}/reveal`), expect: (res, text) => { expect(res.status).toBe(404); expect(text).not.toContain('PORTAL-'); } },
    { route: 'GET /portal/statements', call: () => ownerB.get('/portal/statements'), expect: (res, text) => { expect(res.status).toBe(200); expect(text).toContain(`data-date="${DAY_BOTH}"`); expect(text).not.toContain(DAY_A_ONLY); } },
    { route: 'GET /portal/statements/:date.:format', call: () => ownerB.get(`/portal/statements/${DAY_A_ONLY}.xlsx`), expect: (res) => { expect(res.status).toBe(404); expect(res.headers.get('content-disposition')).toBeNull(); } },
    { route: 'GET /portal/wallet', call: () => ownerB.get('/portal/wallet'), expect: (res, text) => { expect(res.status).toBe(200); expect(text).toContain('id="no-recharges"'); expect(text).not.toContain('BK-PORTAL-A-1'); } },
    { route: 'GET /portal/callbacks', call: () => ownerB.get('/portal/callbacks'), expect: (res, text) => { expect(res.status).toBe(200); expect(text).not.toContain(w.shops.a.resellerOrderId); expect(text).not.toContain('shop-a.example'); } },
    { route: 'GET /portal/api-keys', call: () => ownerB.get('/portal/api-keys'), expect: (res, text) => { expect(res.status).toBe(200); expect(text).toContain(w.shops.b.credentials.apiKey); expect(text).not.toContain(w.shops.a.credentials.apiKey); } },
    {
      route: 'POST /portal/api-keys/rotate',
      call: async () => {
        (cases as any).before = await sealedSecret(w.shops.a.id);
        return ownerB.post('/portal/api-keys/rotate', { overlapHours: '24' });
      },
      expect: async (res) => { expect(res.status).toBe(200); expect(await sealedSecret(w.shops.a.id)).toBe((cases as any).before); },
    },
    { route: 'POST /portal/api-keys/revoke-previous', call: () => ownerB.post('/portal/api-keys/revoke-previous'), expect: async (res) => { expect(res.status).toBe(200); expect((await w.h.db('resellers').where({ id: w.shops.a.id }).first('previous_secret_sealed')).previous_secret_sealed).toBeDefined(); } },
    { route: 'GET /portal/users', call: () => ownerB.get('/portal/users'), expect: (res, text) => { expect(res.status).toBe(200); expect(text).not.toContain(w.shops.a.owner); expect(text).toContain(w.shops.b.owner); } },
    {
      route: 'POST /portal/users', call: () => ownerB.post('/portal/users', { username: 'b-helper', password: 'helper-password-1', role: 'staff' }),
      expect: async (res) => { expect(res.status).toBe(303); expect(Number((await w.h.db('reseller_users').where({ username: 'b-helper' }).first('reseller_id')).reseller_id)).toBe(w.shops.b.id); },
    },
    { route: 'POST /portal/logout', call: async () => (await portalLogin(w.base, w.shops.b.staff)).post('/portal/logout'), expect: (res) => expect(res.status).toBe(303) },
    { route: 'GET /portal/login', call: () => fetch(`${w.base}/portal/login`), expect: (res) => expect(res.status).toBe(200) },
    // a reseller user is no staff user: the support view of another reseller is not found
    { route: 'GET /portal/support/:code', call: () => ownerB.get(`/portal/support/${w.shops.a.code}`), expect: (res) => { expect(res.status).toBe(404); expect(res.headers.getSetCookie()).toEqual([]); } },
    { route: 'GET /portal/support-exit', call: () => ownerB.get('/portal/support-exit'), expect: (res) => expect(res.status).toBe(303) },
    { route: 'POST /portal/login', call: () => postPortalLogin(w.base, { username: w.shops.b.staff, password: PORTAL_PASSWORD }), expect: (res) => expect(res.status).toBe(303) },
  ];

  it('the table names every portal route (portal-pages.ts and portal-api.ts routes have their own tables, in test/portal-pages.test.ts and test/portal-api.test.ts)', () => {
    expect(w.pageRoutes.length).toBeGreaterThan(0);
    expect(cases.map((c) => c.route).sort()).toEqual(w.routes.filter((r) => !w.pageRoutes.includes(r) && !PORTAL_API_ROUTE.test(r)).sort());
  });

  for (const c of cases) {
    it(c.route, async () => {
      const res = await c.call();
      await c.expect(res, await res.clone().text());
    });
  }

  it('the statement download is its own reseller\'s, the same export finance uses', async () => {
    const res = await ownerA.get(`/portal/statements/${DAY_A_ONLY}.xlsx`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toContain(`statement-${w.shops.a.code}-${DAY_A_ONLY}.xlsx`);
    const csv = await ownerA.get(`/portal/statements/${DAY_BOTH}.csv`);
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toBe('application/zip');
    expect((await ownerA.get('/portal/statements/2021-13-01.xlsx')).status).toBe(404);
    expect((await ownerA.get(`/portal/statements/${DAY_BOTH}.pdf`)).status).toBe(404);
  });
});

describe('API keys', () => {
  it('staff cannot rotate or revoke; the owner rotates with an overlap, audited as the owner', async () => {
    const before = await sealedSecret(w.shops.a.id);
    const page = await (await staffA.get('/portal/api-keys')).text();
    expect(page).toContain('id="owner-only"');
    expect(page).not.toContain('id="rotate"');
    const refused = await staffA.post('/portal/api-keys/rotate', { overlapHours: '1' });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('data-code="FORBIDDEN"');
    expect((await staffA.post('/portal/api-keys/revoke-previous')).status).toBe(403);
    expect(await sealedSecret(w.shops.a.id)).toBe(before);

    const rotated = await ownerA.post('/portal/api-keys/rotate', { overlapHours: '2' });
    expect(rotated.status).toBe(200);
    const text = await rotated.text();
    const secret = /<code id="new-secret">([^<]+)<\/code>/.exec(text)![1]!;
    expect(rotated.headers.get('cache-control')).toContain('no-store');
    // the new secret signs orders; the old one still does within the overlap
    expect((await w.placeCardOrder(w.shops.a, 'after-rotate-1', { apiKey: w.shops.a.credentials.apiKey, apiSecret: secret })).status).toBe(201);
    expect((await w.placeCardOrder(w.shops.a, 'after-rotate-old')).status).toBe(201);
    const audit = await w.h.db('audit_log').where({ action: 'reseller.rotate_secret', subject_id: String(w.shops.a.id) }).orderBy('id', 'desc').first();
    expect(audit).toMatchObject({ actor: `portal:${w.shops.a.owner}`, actor_user_id: null });
    expect(audit.details).not.toContain(secret);
    expect(JSON.stringify(audit)).not.toContain(secret);
    expect((await ownerA.post('/portal/api-keys/rotate', { overlapHours: '-1' })).status).toBe(400);
    expect((await ownerA.post('/portal/api-keys/rotate', { overlapHours: '9999' })).status).toBe(400);
  });

  it('an audit row names exactly one kind of actor (the database refuses both)', async () => {
    const staff = await w.h.db('dashboard_users').first('id');
    const resellerUser = await w.h.db('reseller_users').first('id');
    await expect(w.h.db('audit_log').insert({ actor: 'both', actor_user_id: staff.id, actor_reseller_user_id: resellerUser.id, action: 'x', subject_type: 'x', subject_id: '1' }))
      .rejects.toThrow(/audit_log_actor_is_a_user/);
  });
});

describe('card codes', () => {
  it('are hidden until an explicit reveal, which is audited and rate-limited per user', async () => {
    const detail = await (await ownerA.get(`/portal/orders/${w.shops.a.cardOrderId}`)).text();
    expect(detail).toContain('id="reveal"');
    expect(detail).not.toContain('PORTAL-');
    const revealed = await ownerA.post(`/portal/orders/${w.shops.a.cardOrderId}/reveal`);
    expect(revealed.status).toBe(200);
    expect(revealed.headers.get('cache-control')).toContain('no-store');
    expect(await revealed.text()).toMatch(/<td class="code">PORTAL-[^<]+<\/td>/);
    const audits = await w.h.db('audit_log').where({ action: 'portal.reveal_codes', subject_id: String(w.shops.a.cardOrderId) });
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ actor: `portal:${w.shops.a.owner}`, subject_type: 'order' });
    expect(JSON.stringify(audits[0])).not.toContain('PORTAL-');

    for (let i = 0; i < REVEALS_PER_HOUR; i++) expect((await staffA.post(`/portal/orders/${w.shops.a.cardOrderId}/reveal`)).status).toBe(200);
    const limited = await staffA.post(`/portal/orders/${w.shops.a.cardOrderId}/reveal`);
    expect(limited.status).toBe(429);
    expect(await limited.text()).not.toContain('PORTAL-');
    // the limit is per user: the owner still may
    expect((await ownerA.post(`/portal/orders/${w.shops.a.cardOrderId}/reveal`)).status).toBe(200);
  });

  it('the orders page searches by the reseller\'s order id, account and date, and the detail shows its history', async () => {
    const found = await (await ownerA.get(`/portal/orders?orderId=${w.shops.a.resellerOrderId}`)).text();
    expect(found).toContain(`/portal/orders/${w.shops.a.cardOrderId}`);
    const badDate = await ownerA.get('/portal/orders?date=2021-02-30');
    expect(badDate.status).toBe(400);
    const detail = await (await ownerA.get(`/portal/orders/${w.shops.a.cardOrderId}`)).text();
    expect(detail).toContain('data-event="placed"');
    expect((await ownerA.get('/portal/orders/abc')).status).toBe(404);
  });

  it('the wallet shows the balance, the memo to quote, and the recharges recorded', async () => {
    const text = await (await ownerA.get('/portal/wallet')).text();
    expect(text).toContain(`<strong id="pay-reference">${w.shops.a.code}</strong>`);
    expect(text).toMatch(/<tr data-status="credited">[^]*BK-PORTAL-A-1/);
  });

  it('the callback log says why a callback failed, and the order\'s history shows both attempts', async () => {
    const all = await (await ownerA.get('/portal/callbacks')).text();
    expect(all.match(/<tr data-delivered=/g)).toHaveLength(2);
    const failed = await (await ownerA.get('/portal/callbacks?failed=1')).text();
    expect(failed.match(/<tr data-delivered="no"/g)).toHaveLength(1);
    expect(failed).toContain('HTTP 502 from the reseller endpoint');
    const detail = await (await ownerA.get(`/portal/orders/${w.shops.a.cardOrderId}`)).text();
    expect(detail).toContain('data-event="callback_failed"');
    expect(detail).toContain('data-event="callback_delivered"');
  });

  it('the analysis page carries its chart data in a JSON block and refuses a bad range', async () => {
    const text = await (await ownerA.get('/portal/analysis')).text();
    const data = JSON.parse(/<script type="application\/json" id="portal-analysis-data">([^<]+)<\/script>/.exec(text)![1]!);
    expect(data.series.map((s: { sku: string }) => s.sku)).toEqual([w.sku]);
    expect(text).not.toMatch(/<script>(?!<\/script>)/);
    expect((await ownerA.get('/portal/analysis?from=2021-01-01&to=2021-12-31')).status).toBe(400);
    expect((await ownerA.get('/portal/analysis?from=2021-03-05&to=2021-03-01')).status).toBe(400);
  });
});

describe('the staff dashboard\'s read-only support view', () => {
  const staffCookie = async (role: 'ops' | 'viewer') => {
    const username = `portal-support-${role}`;
    await new Users(w.h.db).upsert({ username, role, password: PORTAL_PASSWORD });
    const res = await postLogin(w.base, { username, password: PORTAL_PASSWORD });
    return res.headers.getSetCookie().find((c) => c.startsWith('kameng_session='))!.split(';')[0]!;
  };

  it('ops opens a reseller\'s portal read-only, audited as the ops user; every POST is refused', async () => {
    const staff = await staffCookie('ops');
    const open = await fetch(`${w.base}/portal/support/${w.shops.a.code}`, { headers: { cookie: staff }, redirect: 'manual' });
    expect(open.status).toBe(303);
    const support = open.headers.getSetCookie().find((c) => c.startsWith('kameng_portal_support='))!.split(';')[0]!;
    const cookie = `${staff}; ${support}`;
    const page = await (await fetch(`${w.base}/portal`, { headers: { cookie } })).text();
    expect(page).toContain('id="support-banner"');
    expect(page).toContain(w.shops.a.code);
    expect(page).not.toContain('action="/portal/logout"');
    const keys = await (await fetch(`${w.base}/portal/api-keys`, { headers: { cookie } })).text();
    expect(keys).not.toContain('id="rotate"');
    const before = await sealedSecret(w.shops.a.id);
    const rotate = await fetch(`${w.base}/portal/api-keys/rotate`, { method: 'POST', headers: { cookie }, body: new URLSearchParams({ overlapHours: '1' }) });
    expect(rotate.status).toBe(403);
    expect((await rotate.json()).error.code).toBe('READ_ONLY');
    const reveal = await fetch(`${w.base}/portal/orders/${w.shops.a.cardOrderId}/reveal`, { method: 'POST', headers: { cookie } });
    expect(reveal.status).toBe(403);
    expect(await sealedSecret(w.shops.a.id)).toBe(before);
    // a download in the support view is audited as the ops user
    expect((await fetch(`${w.base}/portal/statements/${DAY_BOTH}.xlsx`, { headers: { cookie } })).status).toBe(200);
    const ops = await w.h.db('dashboard_users').where({ username: 'portal-support-ops' }).first('id');
    const audit = await w.h.db('audit_log').where({ actor_user_id: ops.id }).orderBy('id').pluck('action');
    expect(audit).toEqual(['portal.support_view', 'portal.download_statement']);
    // without the staff session the support cookie opens nothing
    const alone = await fetch(`${w.base}/portal`, { headers: { cookie: support, accept: 'text/html' }, redirect: 'manual' });
    expect(alone.status).toBe(302);
  });

  it('a viewer, or no staff session at all, gets 404', async () => {
    const viewer = await staffCookie('viewer');
    expect((await fetch(`${w.base}/portal/support/${w.shops.a.code}`, { headers: { cookie: viewer }, redirect: 'manual' })).status).toBe(404);
    expect((await fetch(`${w.base}/portal/support/${w.shops.a.code}`, { redirect: 'manual' })).status).toBe(404);
    const ops = await staffCookie('ops');
    expect((await fetch(`${w.base}/portal/support/no-such-shop`, { headers: { cookie: ops }, redirect: 'manual' })).status).toBe(404);
  });
});
