import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PORTAL_API_ROUTE } from '../dashboard/pages/portal-api.ts';
import { callbackSignature } from '../src/callbacks/deliver.ts';
import { CALLBACK_SENDS_PER_HOUR, PortalCallbackSettings } from '../src/portal/callback-settings.ts';
import { base32Decode, base32Encode, hotp, matchingStep, stepAt, TOTP_STEP_SECONDS } from '../src/portal/totp.ts';
import { ResellerUsers } from '../src/portal/users.ts';
import { RequestAuthenticator } from '../src/resellers/authenticate.ts';
import { signedHeaders } from '../src/resellers/signature.ts';
import { openPortalWorld, portalLogin, postPortalLogin, type PortalSessionClient, type PortalWorld } from './support/portal-world.ts';

/**
 * The portal's API page and two-factor login (issue 24): the owner edits its callback URL (the SSRF
 * rules of the callbacks module) and IP allowlist (what the signed API checks), sends a signed test
 * callback and re-sends a failed one from the delivery log; owners may turn on TOTP (RFC 6238).
 * Staff get 403, another reseller's user 404, a refused value changes nothing.
 */
let w: PortalWorld;
let ownerA: PortalSessionClient;
let ownerB: PortalSessionClient;
let staffA: PortalSessionClient;

/** The shop's callback endpoint: what it received, and what it answers next. */
const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
let answer = 200;
let receiver: http.Server;
let receiverUrl: string;
/** Shop a's final top-up whose callback failed, and that failed delivery. */
let topupOrderId: number;
let failedDeliveryId: number;

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(answer).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/notify`;
  w = await openPortalWorld({ allowPrivateCallbacks: true });
  ownerA = await portalLogin(w.base, w.shops.a.owner);
  ownerB = await portalLogin(w.base, w.shops.b.owner);
  staffA = await portalLogin(w.base, w.shops.a.staff);
  // a top-up of shop a that succeeded while its endpoint was down: one failed delivery in the log
  const card = await w.h.db('orders').where({ id: w.shops.a.cardOrderId }).first();
  const [topup] = await w.h.db('orders').insert({
    reseller_id: card.reseller_id, reseller_order_id: `a-topup-${Date.now()}`, request_hash: 'test', sku_code: card.sku_code, kind: 'direct_topup', quantity: 1,
    account: '13800138000', unit_price_fen: 1_000, amount_fen: 1_000, status: 'succeeded', business_date: card.business_date, completed_at: new Date(),
  }).returning('id');
  topupOrderId = Number(topup.id);
  const [failed] = await w.h.db('callback_deliveries').insert({ order_id: topupOrderId, url: receiverUrl, attempt: 1, status_code: 503, error: 'callback answered 503', delivered: false }).returning('id');
  failedDeliveryId = Number(failed.id);
});
afterAll(async () => {
  await w?.close();
  receiver?.close();
});
beforeEach(() => {
  answer = 200;
});

const resellerRow = (id: number) => w.h.db('resellers').where({ id }).first('callback_url', 'ip_allowlist');
const audits = (action: string, actor: string) => w.h.db('audit_log').where({ action, actor }).orderBy('id');

describe('isolation: every new route is scoped to the session\'s own reseller', () => {
  const cases: { route: string; call: () => Promise<Response>; expect: (res: Response, text: string) => void | Promise<void> }[] = [
    { route: 'GET /portal/api-settings', call: () => ownerB.get('/portal/api-settings'), expect: (res, text) => { expect(res.status).toBe(200); expect(text).not.toContain(receiverUrl); } },
    {
      route: 'POST /portal/api-settings/callback-url', call: () => ownerB.post('/portal/api-settings/callback-url', { callbackUrl: 'https://shop-b.example/notify' }),
      expect: async (res) => { expect(res.status).toBe(303); expect((await resellerRow(w.shops.a.id)).callback_url).not.toBe('https://shop-b.example/notify'); expect((await resellerRow(w.shops.b.id)).callback_url).toBe('https://shop-b.example/notify'); },
    },
    {
      route: 'POST /portal/api-settings/allowlist', call: () => ownerB.post('/portal/api-settings/allowlist', { ipAllowlist: '' }),
      expect: (res) => expect(res.status).toBe(303),
    },
    {
      // shop b's URL answers nothing useful, but the test goes to shop b's URL, never shop a's
      route: 'POST /portal/api-settings/test-callback', call: () => ownerB.post('/portal/api-settings/test-callback'),
      expect: async (res) => { expect(res.status).toBe(303); expect(received.filter((r) => r.body.includes(w.shops.b.code))).toEqual([]); },
    },
    {
      route: 'POST /portal/callbacks/:id/resend', call: () => ownerB.post(`/portal/callbacks/${failedDeliveryId}/resend`),
      expect: async (res, text) => { expect(res.status).toBe(404); expect(text).not.toContain(receiverUrl); expect(await w.h.db('callback_deliveries').where({ order_id: topupOrderId })).toHaveLength(1); },
    },
    { route: 'GET /portal/security', call: () => ownerB.get('/portal/security'), expect: (res, text) => { expect(res.status).toBe(200); expect(text).toContain('id="totp-start"'); } },
    {
      route: 'POST /portal/security/totp/start', call: () => ownerB.post('/portal/security/totp/start'),
      expect: async (res) => { expect(res.status).toBe(303); expect((await w.h.db('reseller_users').where({ username: w.shops.a.owner }).first('totp_pending_sealed')).totp_pending_sealed).toBeNull(); },
    },
    { route: 'POST /portal/security/totp/confirm', call: () => ownerB.post('/portal/security/totp/confirm', { code: '000000' }), expect: (res) => expect(res.status).toBe(400) },
    { route: 'POST /portal/security/totp/disable', call: () => ownerB.post('/portal/security/totp/disable', { code: '000000' }), expect: (res) => expect(res.status).toBe(400) },
    // no password step waiting: back to the login
    { route: 'GET /portal/login/totp', call: () => fetch(`${w.base}/portal/login/totp`, { redirect: 'manual' }), expect: (res) => { expect(res.status).toBe(303); expect(res.headers.get('location')).toBe('/portal/login'); } },
    { route: 'POST /portal/login/totp', call: () => fetch(`${w.base}/portal/login/totp`, { method: 'POST', body: new URLSearchParams({ code: '123456' }), redirect: 'manual' }), expect: (res) => { expect(res.status).toBe(403); expect(res.headers.getSetCookie().some((c) => c.startsWith('kameng_portal='))).toBe(false); } },
  ];

  it('the table names every route these pages add', () => {
    expect(cases.map((c) => c.route).sort()).toEqual(w.routes.filter((r) => PORTAL_API_ROUTE.test(r)).sort());
  });
  for (const c of cases) {
    it(c.route, async () => {
      const res = await c.call();
      await c.expect(res, await res.clone().text());
    });
  }
});

describe('callback URL and IP allowlist', () => {
  it('staff read them but cannot change them or send: 403, nothing changes', async () => {
    const before = await resellerRow(w.shops.a.id);
    const page = await (await staffA.get('/portal/api-settings')).text();
    expect(page).toContain('id="owner-only"');
    expect(page).not.toContain('id="send-test"');
    for (const [path, form] of [['/portal/api-settings/callback-url', { callbackUrl: 'https://evil.example/' }], ['/portal/api-settings/allowlist', { ipAllowlist: '0.0.0.0/0' }],
      ['/portal/api-settings/test-callback', {}], [`/portal/callbacks/${failedDeliveryId}/resend`, {}], ['/portal/security/totp/start', {}]] as const) {
      const res = await staffA.post(path, form);
      expect(res.status, path).toBe(403);
      expect(await res.text()).toContain('data-code="FORBIDDEN"');
    }
    expect(await resellerRow(w.shops.a.id)).toEqual(before);
    expect(await w.h.db('callback_deliveries').where({ order_id: topupOrderId })).toHaveLength(1);
  });

  it('a bad URL or CIDR is refused with the reason beside the field, what was typed kept, and nothing changes', async () => {
    const before = await resellerRow(w.shops.a.id);
    for (const [url, why] of [['ftp://shop-a.example/notify', 'http:// or https://'], ['https://user:pw@shop-a.example/', 'user name or password'], ['not a url', 'not a URL']] as const) {
      const res = await ownerA.post('/portal/api-settings/callback-url', { callbackUrl: url });
      expect(res.status).toBe(400);
      const text = await res.text();
      expect(text).toMatch(/id="callbackUrl-error" data-code="VALIDATION_ERROR"/);
      expect(text).toContain(why);
      expect(text).toContain(`value="${url}"`);
    }
    for (const [cidr, why] of [['10.0.0.0/33', 'prefix length must be 0-32'], ['203.0.113.9\nnot-an-ip', '"not-an-ip" is not an IPv4/IPv6 address or CIDR'], ['::1/129', 'prefix length must be 0-128']] as const) {
      const res = await ownerA.post('/portal/api-settings/allowlist', { ipAllowlist: cidr });
      expect(res.status).toBe(400);
      const text = await res.text();
      expect(text).toContain('id="ipAllowlist-error"');
      expect(text).toContain(why.replace(/"/g, '&quot;'));
    }
    expect(await resellerRow(w.shops.a.id)).toEqual(before);
  });

  it('private, loopback and localhost URLs are refused by the same SSRF rules as the staff admin\'s form', async () => {
    const strict = new PortalCallbackSettings({ db: w.h.db, resellers: w.h.deps.resellers, allowPrivateCallbacks: false });
    const owner = (await new ResellerUsers(w.h.db).session(/kameng_portal=(.*)/.exec(ownerA.cookie)![1]))!.user;
    for (const url of ['http://127.0.0.1:8080/notify', 'http://10.1.2.3/x', 'http://localhost/x', 'http://[::1]/x', 'http://169.254.169.254/latest/meta-data']) {
      await expect(strict.setCallbackUrl(owner, url), url).rejects.toThrow(/callbackUrl: .*must not point at/);
    }
    expect((await resellerRow(w.shops.a.id)).callback_url).toBeNull();
  });

  it('the owner saves the callback URL and an allowlist, audited like the staff admin\'s edit; the signed API then checks the allowlist', async () => {
    expect((await ownerA.post('/portal/api-settings/callback-url', { callbackUrl: receiverUrl })).headers.get('location')).toBe('/portal/api-settings?saved=1');
    const saved = await ownerA.post('/portal/api-settings/allowlist', { ipAllowlist: '203.0.113.0/24\n2001:db8::/32' });
    expect(saved.status).toBe(303);
    expect(await w.h.deps.resellers.byId(w.shops.a.id)).toMatchObject({ callbackUrl: receiverUrl, ipAllowlist: ['203.0.113.0/24', '2001:db8::/32'] });
    const [urlAudit, allowAudit] = (await audits('reseller.update', `portal:${w.shops.a.owner}`)).map((a) => (typeof a.details === 'string' ? JSON.parse(a.details) : a.details));
    expect(urlAudit.changed).toEqual([{ field: 'callbackUrl', from: null, to: receiverUrl }]);
    expect(allowAudit.changed).toEqual([{ field: 'ipAllowlist', from: [], to: ['203.0.113.0/24', '2001:db8::/32'] }]);

    // what an API host sees (a fresh one: each keeps credentials up to a minute)
    const body = JSON.stringify({ resellerOrderId: 'allowlist-check', sku: w.sku, quantity: 1 });
    const request = (remoteAddress: string) => ({ method: 'POST', path: '/api/v1/orders', headers: signedHeaders(w.shops.a.credentials, 'POST', '/api/v1/orders', body), rawBody: Buffer.from(body), remoteAddress });
    await expect(new RequestAuthenticator(w.h.db, w.h.deps.resellers).verify(request('127.0.0.1'))).rejects.toMatchObject({ code: 'IP_NOT_ALLOWED' });
    await expect(new RequestAuthenticator(w.h.db, w.h.deps.resellers).verify(request('203.0.113.77'))).resolves.toMatchObject({ resellerId: w.shops.a.id });
    expect((await ownerA.post('/portal/api-settings/allowlist', { ipAllowlist: '' })).status).toBe(303);
    await expect(new RequestAuthenticator(w.h.db, w.h.deps.resellers).verify(request('127.0.0.1'))).resolves.toMatchObject({ resellerId: w.shops.a.id });
    expect((await (await ownerA.get('/portal/api-settings')).text())).toContain(`value="${receiverUrl}"`);
  });
});

describe('test callback and re-send', () => {
  it('the owner sends a signed test callback, marked as a test; it is in the delivery log, delivered or failed', async () => {
    received.length = 0;
    const sent = await ownerA.post('/portal/api-settings/test-callback');
    expect(sent.headers.get('location')).toBe('/portal/api-settings?sent=delivered');
    expect(received).toHaveLength(1);
    const got = received[0]!;
    expect(JSON.parse(got.body)).toMatchObject({ event: 'TEST', test: true, resellerCode: w.shops.a.code });
    // the same signing as a real callback: HMAC of timestamp and body with the reseller's API secret
    const secret = (await w.h.deps.resellers.credentialsFor(w.shops.a.credentials.apiKey))!.apiSecret;
    expect(got.headers['x-kameng-signature']).toBe(callbackSignature(secret, String(got.headers['x-kameng-timestamp']), got.body));

    answer = 500;
    expect((await ownerA.post('/portal/api-settings/test-callback')).headers.get('location')).toBe('/portal/api-settings?sent=failed');
    const log = await (await ownerA.get('/portal/callbacks')).text();
    expect(log).toMatch(/<tr data-delivered="yes" data-test="yes"/);
    expect(log).toMatch(/<tr data-delivered="no" data-test="yes"[^]*?answered 500/);
    // shop b sees its own test (to its URL), never shop a's
    const other = await (await ownerB.get('/portal/callbacks')).text();
    expect(other).toContain('shop-b.example');
    expect(other).not.toContain(receiverUrl);
    expect(await audits('portal.test_callback', `portal:${w.shops.a.owner}`)).toHaveLength(2);
  });

  it('the owner re-sends a failed delivery from the log (the same code as `kameng callbacks resend`), audited; a delivered one is not re-sent', async () => {
    const staffLog = await (await staffA.get('/portal/callbacks?failed=1')).text();
    expect(staffLog).not.toContain('class="resend"');
    const log = await (await ownerA.get('/portal/callbacks?failed=1')).text();
    expect(log).toContain(`action="/portal/callbacks/${failedDeliveryId}/resend"`);
    received.length = 0;
    const res = await ownerA.post(`/portal/callbacks/${failedDeliveryId}/resend`);
    expect(res.headers.get('location')).toBe('/portal/callbacks?resent=delivered');
    expect(JSON.parse(received[0]!.body)).toMatchObject({ orderNo: topupOrderId, status: 'SUCCESS' });
    expect(await w.h.db('callback_deliveries').where({ order_id: topupOrderId }).orderBy('id').pluck('delivered')).toEqual([false, true]);
    const [audit] = await audits('order.resend_callback', `portal:${w.shops.a.owner}`);
    expect(audit).toMatchObject({ subject_type: 'order', subject_id: String(topupOrderId) });
    const again = await ownerA.post(`/portal/callbacks/${failedDeliveryId}/resend`);
    expect(again.status).toBe(400);
    expect(await again.text()).toContain('already took its callback');
    expect((await ownerA.post('/portal/callbacks/abc/resend')).status).toBe(404);
  });

  it(`test callbacks and re-sends are limited to ${CALLBACK_SENDS_PER_HOUR} an hour per user`, async () => {
    const sentSoFar = (await w.h.db('audit_log').where({ actor: `portal:${w.shops.a.owner}` }).whereIn('action', ['portal.test_callback', 'order.resend_callback'])).length;
    for (let i = sentSoFar; i < CALLBACK_SENDS_PER_HOUR; i++) expect((await ownerA.post('/portal/api-settings/test-callback')).status).toBe(303);
    received.length = 0;
    const limited = await ownerA.post('/portal/api-settings/test-callback');
    expect(limited.status).toBe(429);
    expect(await limited.text()).toContain('data-code="CALLBACK_SENDS_RATE_LIMITED"');
    expect(received).toEqual([]);
  });
});

describe('TOTP (RFC 6238)', () => {
  it('matches the RFC 6238 SHA-1 test vectors and base32 round-trips', () => {
    const secret = Buffer.from('12345678901234567890');
    // RFC 6238 appendix B (8 digits there; these are the last 6)
    expect(hotp(secret, Math.floor(59 / 30))).toBe('287082');
    expect(hotp(secret, Math.floor(1111111109 / 30))).toBe('081804');
    expect(hotp(secret, Math.floor(2000000000 / 30))).toBe('279037');
    expect(base32Encode(secret)).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
    expect(base32Decode('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ').equals(secret)).toBe(true);
    expect(matchingStep(secret, '287082', 59_000)).toBe(1);
    expect(matchingStep(secret, '287082', 59_000 + 3 * TOTP_STEP_SECONDS * 1000)).toBeUndefined();
    expect(matchingStep(secret, 'abcdef', 59_000)).toBeUndefined();
  });

  /** Codes of the steps around now, from a moment with time left in its step (so none expires mid-test). */
  async function codesNow(secretBase32: string) {
    const left = TOTP_STEP_SECONDS * 1000 - (Date.now() % (TOTP_STEP_SECONDS * 1000));
    if (left < 8_000) await new Promise((r) => setTimeout(r, left + 200));
    const step = stepAt(Date.now());
    const key = base32Decode(secretBase32);
    return { previous: hotp(key, step - 1), current: hotp(key, step), next: hotp(key, step + 1) };
  }

  it('staff cannot enrol', async () => {
    const page = await (await staffA.get('/portal/security')).text();
    expect(page).toContain('id="owner-only"');
    expect((await staffA.post('/portal/security/totp/confirm', { code: '123456' })).status).toBe(403);
  });

  it('the owner enrols with a code, then logs in with password and code; a wrong or replayed code is refused; off again with a code', async () => {
    expect((await ownerA.post('/portal/security/totp/start')).status).toBe(303);
    const enrol = await (await ownerA.get('/portal/security')).text();
    const secret = /<code id="totp-secret">([A-Z2-7]+)<\/code>/.exec(enrol)![1]!;
    expect(enrol).toMatch(new RegExp(`<code id="totp-uri">otpauth://totp/Kameng%3A[^<]*secret=${secret}&amp;issuer=Kameng&amp;algorithm=SHA1&amp;digits=6&amp;period=30</code>`));
    expect(enrol).toContain('data-on="no"');
    const codes = await codesNow(secret);
    const wrong = await ownerA.post('/portal/security/totp/confirm', { code: codes.current === '000000' ? '111111' : '000000' });
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toContain('data-code="TOTP_CODE_WRONG"');
    expect((await w.h.db('reseller_users').where({ username: w.shops.a.owner }).first('totp_secret_sealed')).totp_secret_sealed).toBeNull();
    expect((await ownerA.post('/portal/security/totp/confirm', { code: codes.previous })).status).toBe(303);
    expect(await (await ownerA.get('/portal/security')).text()).toContain('data-on="yes"');
    expect(await audits('portal.totp_enable', `portal:${w.shops.a.owner}`)).toHaveLength(1);
    const sealed = (await w.h.db('reseller_users').where({ username: w.shops.a.owner }).first('totp_secret_sealed')).totp_secret_sealed as Buffer;
    expect(sealed.toString('latin1')).not.toContain(secret);

    // the password alone opens nothing: a code form, and a cookie that is no session
    const password = await postPortalLogin(w.base, { username: w.shops.a.owner, password: 'portal-test-password' });
    expect(password.status).toBe(303);
    expect(password.headers.get('location')).toBe('/portal/login/totp?next=%2Fportal');
    const cookies = password.headers.getSetCookie().map((c) => c.split(';')[0]!);
    expect(cookies.some((c) => c.startsWith('kameng_portal='))).toBe(false);
    const pending = cookies.find((c) => c.startsWith('kameng_portal_2fa='))!;
    expect((await fetch(`${w.base}/portal`, { headers: { cookie: pending.replace('kameng_portal_2fa', 'kameng_portal') }, redirect: 'manual' })).status).toBe(302);
    const csrfCookie = await loginCsrfCookie();
    const form = await fetch(`${w.base}/portal/login/totp?next=%2Fportal`, { headers: { cookie: `${pending}; ${csrfCookie}` } });
    expect(form.status).toBe(200);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
    const postCode = (code: string, waiting = pending) => fetch(`${w.base}/portal/login/totp`, { method: 'POST', redirect: 'manual', headers: { cookie: `${waiting}; ${csrfCookie}` }, body: new URLSearchParams({ _csrf: csrf, code, next: '/portal' }) });
    const bad = await postCode(codes.current === '999999' ? '888888' : '999999');
    expect(bad.status).toBe(401);
    expect(await bad.text()).toContain('data-code="TOTP_CODE_WRONG"');
    // the code used to turn it on is used up
    expect((await postCode(codes.previous)).status).toBe(401);
    const ok = await postCode(codes.current);
    expect(ok.status).toBe(303);
    const session = ok.headers.getSetCookie().find((c) => c.startsWith('kameng_portal='))!.split(';')[0]!;
    expect((await fetch(`${w.base}/portal`, { headers: { cookie: session } })).status).toBe(200);
    const login = await w.h.db('audit_log').where({ action: 'portal.login', actor: `portal:${w.shops.a.owner}` }).orderBy('id', 'desc').first();
    expect(JSON.parse(typeof login.details === 'string' ? login.details : JSON.stringify(login.details))).toMatchObject({ secondFactor: true });
    // the waiting token is gone, and the same code cannot open a second session
    expect((await postCode(codes.current)).headers.get('location')).toBe('/portal/login');
    const replay = await postPortalLogin(w.base, { username: w.shops.a.owner, password: 'portal-test-password' });
    const replayPending = replay.headers.getSetCookie().find((c) => c.startsWith('kameng_portal_2fa='))!.split(';')[0]!;
    const replayed = await postCode(codes.current, replayPending);
    expect(replayed.status).toBe(401);

    // off again: a wrong code changes nothing, a fresh one turns it off
    expect((await ownerA.post('/portal/security/totp/disable', { code: codes.current })).status).toBe(400);
    expect(await (await ownerA.get('/portal/security')).text()).toContain('data-on="yes"');
    expect((await ownerA.post('/portal/security/totp/disable', { code: codes.next })).status).toBe(303);
    expect(await (await ownerA.get('/portal/security')).text()).toContain('data-on="no"');
    expect(await audits('portal.totp_disable', `portal:${w.shops.a.owner}`)).toHaveLength(1);
    expect((await postPortalLogin(w.base, { username: w.shops.a.owner, password: 'portal-test-password' })).headers.get('location')).toBe('/portal');
  });
});

/** A login form's CSRF cookie (the code form is checked against the same cookie). */
async function loginCsrfCookie(): Promise<string> {
  const page = await fetch(`${w.base}/portal/login`);
  return page.headers.getSetCookie().find((c) => c.startsWith('kameng_portal_login_csrf='))!.split(';')[0]!;
}
