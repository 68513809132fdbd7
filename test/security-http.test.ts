import fs from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboardApp } from '../dashboard/app.ts';
import { mountApis } from '../src/api/mount.ts';
import { loadConfig } from '../src/config.ts';
import { loginAs, type DashboardSession } from './support/dashboard-session.ts';
import { openHarness, type Harness } from './support/harness.ts';
import { rawRequest, type RawAnswer } from './support/raw-http.ts';
import { supplierCode } from './support/world.ts';

/**
 * The HTTP surface under attack (issue 17, item 6): headers that keep pages out of frames, caches and
 * other origins' scripts, and errors that answer a stable code, never a stack trace, for every route.
 */
let h: Harness;
let server: Server;
let base: string;
let admin: DashboardSession;
let supplier: string;
let dashboard: express.Express;
const archiveDir = path.join(os.tmpdir(), `kameng-security-http-${process.pid}`);

beforeAll(async () => {
  h = await openHarness({ worker: false });
  await h.ledger.openPlatformAccounts();
  supplier = supplierCode('sec');
  await h.deps.suppliers.upsert({ code: supplier, name: 'security test', apiBaseUrl: 'http://127.0.0.1:1', apiKey: 'k', callbackSecret: 'sec-cb', statementFormat: 'csv' });
  const app = express();
  mountApis(app, h.deps, h.client, { fulfillment: h.taskQueue, procurement: h.taskQueue });
  dashboard = createDashboardApp({
    db: h.db, ledger: h.ledger, client: h.client, config: loadConfig({ ...process.env, KAMENG_STATEMENT_DIR: archiveDir }), infrastructure: ['test'], resellers: h.deps.resellers,
    health: { postgres: '18', migrations: 7, accounts: 1, entries: 0, ledgerImbalanceFen: 0, checkedAt: new Date().toISOString() },
  });
  app.use(dashboard);
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  admin = await loginAs(base, h.db, 'admin');
});
afterAll(async () => {
  server?.close();
  await h?.close();
  await fs.rm(archiveDir, { recursive: true, force: true });
});

const LEAKS = /node_modules|\bat [\w.<>]+ \(|\.ts:\d+:\d+|\.js:\d+:\d+|EISDIR|ENOENT|invalid byte sequence|syntax error at/;

/** An answer of ours to a refused request: a 4xx with a stable code, JSON or the error page, and no internals. */
function expectCleanRefusal(answer: RawAnswer, what: string, status?: number): string {
  expect(answer.status, `${what}: ${answer.text.slice(0, 300)}`).toBeLessThan(500);
  if (status) expect(answer.status, what).toBe(status);
  expect(answer.text, what).not.toMatch(LEAKS);
  const type = String(answer.headers['content-type'] ?? '');
  if (type.startsWith('application/json')) return JSON.parse(answer.text).error?.code;
  const code = /data-code="([A-Z_]+)"/.exec(answer.text)?.[1];
  return code ?? `page ${answer.status}`;
}

const asAdmin = (options: Parameters<typeof rawRequest>[1]) =>
  rawRequest(base, { ...options, headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrf, accept: 'application/json', ...options.headers } });

describe('HTTP security headers', () => {
  const expectHardened = (headers: RawAnswer['headers'], what: string) => {
    expect(headers['x-powered-by'], what).toBeUndefined();
    expect(headers['x-frame-options'], what).toBe('DENY');
    expect(headers['x-content-type-options'], what).toBe('nosniff');
    expect(headers['referrer-policy'], what).toBe('no-referrer');
    expect(String(headers['content-security-policy']), what).toMatch(/frame-ancestors 'none'/);
  };

  it('sends a CSP without inline script, frame and sniffing refusals on every page, and never caches one', async () => {
    for (const page of ['/login', '/', '/reconciliation', '/settlement', '/audit', '/stock', '/fulfillment', '/no-such-page']) {
      const answer = await rawRequest(base, { path: page, headers: { cookie: admin.cookie, accept: 'text/html' } });
      expectHardened(answer.headers, page);
      const csp = String(answer.headers['content-security-policy']);
      expect(csp).toMatch(/script-src 'self'(;|$)/);
      expect(csp).not.toContain('unsafe-inline');
      expect(answer.headers['cache-control'], page).toBe('no-store');
      // nothing the CSP would block: no inline script or style, no handler attribute, no javascript: URL
      expect(answer.text.replace(/<script type="application\/json"[^>]*>[^<]*<\/script>/g, ''), page).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=|javascript:/i);
    }
  });

  it('never caches an export with money figures', async () => {
    // (a day's statement workbook exists only for a settled day: the discrepancy cases are always there)
    const answer = await rawRequest(base, { path: '/reconciliation/cases.xlsx', headers: { cookie: admin.cookie } });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-disposition']).toContain('attachment');
    expectHardened(answer.headers, 'cases.xlsx');
    expect(answer.headers['cache-control']).toBe('no-store');
  });

  it('hardens the API and callback answers too, and lets static assets be cached', async () => {
    for (const p of ['/api/v1/balance', `/callbacks/suppliers/${supplier}`]) {
      const answer = await rawRequest(base, p.startsWith('/api') ? { path: p } : { method: 'POST', path: p, body: '{}' });
      expectHardened(answer.headers, p);
      expect(answer.headers['cache-control'], p).toBe('no-store');
    }
    const asset = await rawRequest(base, { path: '/assets/overview.js' });
    expect(asset.status).toBe(200);
    expect(asset.headers['cache-control']).toMatch(/max-age=\d+/);
    expect(asset.headers['x-powered-by']).toBeUndefined();
  });
});

describe('errors answer a stable code, never internals (the red team\'s requests)', () => {
  it('refuses a 17 KB supplier callback with 413 JSON, not an HTML stack trace', async () => {
    const answer = await rawRequest(base, { method: 'POST', path: `/callbacks/suppliers/${supplier}`, headers: { 'content-type': 'application/json' }, body: Buffer.alloc(17 * 1024, 0x20) });
    expect(expectCleanRefusal(answer, '17 KB callback', 413)).toBe('BODY_TOO_LARGE');
    expect(answer.headers['content-type']).toMatch(/^application\/json/);
  });

  it('refuses a supplier callback in an unknown content encoding with 415 JSON', async () => {
    const answer = await rawRequest(base, { method: 'POST', path: `/callbacks/suppliers/${supplier}`, headers: { 'content-type': 'application/json', 'content-encoding': 'bogus' }, body: '{}' });
    expect(expectCleanRefusal(answer, 'unknown encoding', 415)).toBe('UNSUPPORTED_ENCODING');
  });

  it('refuses a chunked callback body over the limit: the cap counts bytes received', async () => {
    const answer = await rawRequest(base, { method: 'POST', path: `/callbacks/suppliers/${supplier}`, headers: { 'content-type': 'application/json' }, chunks: Array.from({ length: 20 }, () => Buffer.alloc(1024, 0x20)) });
    expect(expectCleanRefusal(answer, 'chunked callback', 413)).toBe('BODY_TOO_LARGE');
  });

  it('refuses a statement upload named ".." before reading it (it answered 500 EISDIR)', async () => {
    const answer = await asAdmin({ method: 'POST', path: `/reconciliation/upload?supplier=${supplier}&date=2026-01-05&name=..`, headers: { 'content-type': 'application/octet-stream' }, body: 'a,b\n' });
    expect(expectCleanRefusal(answer, 'name=..', 400)).toBe('VALIDATION_ERROR');
  });

  it('refuses a NUL in a parameter with 400, before any query (reseller=%00 answered 500)', async () => {
    const answer = await asAdmin({ path: '/settlement/statement?reseller=%00&from=2026-01-01&format=csv' });
    expect(expectCleanRefusal(answer, 'reseller=%00', 400)).toBe('BAD_PARAMETER');
    const page = await rawRequest(base, { path: '/audit?actor=a%00b', headers: { cookie: admin.cookie, accept: 'text/html' } });
    expect(expectCleanRefusal(page, 'actor=a%00b', 400)).toBe('BAD_PARAMETER');
    expect(page.text).toContain('<header>');
  });

  it('answers 404 for a payout export of a batch id that is not a number (it answered 500)', async () => {
    const answer = await asAdmin({ path: '/settlement/payouts/abc.xlsx' });
    expect(expectCleanRefusal(answer, 'payouts/abc.xlsx', 404)).toBe('NOT_FOUND');
    expect(answer.headers['content-disposition']).toBeUndefined();
  });
});

/** Every route the dashboard has, read off its router: a new route is fuzzed without editing this test. */
function dashboardRoutes(): { method: string; path: string }[] {
  const stack = (dashboard as unknown as { router: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] } }).router.stack;
  return stack.flatMap((layer) => (layer.route ? Object.keys(layer.route.methods).map((m) => ({ method: m.toUpperCase(), path: layer.route!.path })) : []));
}

const BAD_VALUES = ['..', '%00', 'abc', '-1', '0', '1e3', '99999999999999999999', '%E0%A4%A', '%FF%FE', "'%3B--", '%3Cscript%3E', 'x'.repeat(3000), '2026-02-30', '%2F..%2F..%2Fetc%2Fpasswd'];
const QUERY_NAMES = ['supplier', 'date', 'state', 'class', 'from', 'to', 'by', 'page', 'size', 'actor', 'subject', 'status', 'reseller', 'format', 'lang', 'next', 'done', 'name'];
const FORM_NAMES = ['date', 'supplier', 'resolution', 'reason', 'reference', 'action', 'username', 'password', 'next'];

describe('a fuzz of malformed requests over every route', () => {
  it('answers no 500 and no stack text to bad parameters, bad encodings and oversized bodies', async () => {
    const routes = dashboardRoutes().filter((r) => !(r.method === 'POST' && r.path === '/logout'));
    expect(routes.length).toBeGreaterThan(15);
    routes.push({ method: 'POST', path: '/callbacks/suppliers/:code' }, { method: 'GET', path: '/api/v1/orders/:id' }, { method: 'POST', path: '/api/v1/orders' });
    const seen = new Map<string, number>();
    let requests = 0;
    const check = async (what: string, options: Parameters<typeof rawRequest>[1]) => {
      const answer = await asAdmin(options);
      requests += 1;
      const code = expectCleanRefusal(answer, what);
      seen.set(code, (seen.get(code) ?? 0) + 1);
    };
    for (const route of routes) {
      for (const bad of BAD_VALUES) {
        const p = route.path.replace(/:(\w+)/g, (_m, name: string) => (name === 'format' ? 'xlsx' : bad));
        const query = QUERY_NAMES.map((n) => `${n}=${bad}`).join('&');
        const form = FORM_NAMES.map((n) => `${n}=${bad}`).join('&');
        await check(`${route.method} ${p}`, { method: route.method, path: p });
        await check(`${route.method} ${route.path} ?${bad}`, { method: route.method, path: `${fill(route.path)}?${query}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: route.method === 'POST' ? `${form}&_csrf=${admin.csrf}` : undefined });
        // the same parameter twice: an array where a string is expected
        await check(`${route.method} ${route.path} ?a=&a= ${bad}`, { method: route.method, path: `${fill(route.path)}?${QUERY_NAMES.map((n) => `${n}=2026-01-05&${n}=${bad}`).join('&')}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: route.method === 'POST' ? `${FORM_NAMES.map((n) => `${n}=x&${n}=${bad}`).join('&')}&_csrf=${admin.csrf}` : undefined });
      }
      if (route.method !== 'POST') continue;
      const p = fill(route.path);
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      await check(`${p} unknown encoding`, { method: 'POST', path: p, headers: { ...form, 'content-encoding': 'bogus' }, body: 'a=1' });
      await check(`${p} gzip that is not`, { method: 'POST', path: p, headers: { ...form, 'content-encoding': 'gzip' }, body: 'not gzip at all' });
      await check(`${p} gzip bomb-ish`, { method: 'POST', path: p, headers: { ...form, 'content-encoding': 'gzip' }, body: gzipSync(Buffer.alloc(2 * 1024 * 1024, 0x61)) });
      await check(`${p} utf-16 form`, { method: 'POST', path: p, headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-16' }, body: 'a=1' });
      await check(`${p} 200 KB form`, { method: 'POST', path: p, headers: form, body: `a=${'x'.repeat(200 * 1024)}` });
      await check(`${p} chunked 200 KB form`, { method: 'POST', path: p, headers: form, chunks: Array.from({ length: 200 }, () => Buffer.alloc(1024, 0x61)) });
      await check(`${p} bad percent in form`, { method: 'POST', path: p, headers: form, body: `date=%E0%A4%A&supplier=%&_csrf=${admin.csrf}` });
    }
    // spread over refusals of many kinds, not one catch-all answer
    expect(requests).toBeGreaterThan(500);
    expect([...seen.keys()]).toEqual(expect.arrayContaining(['NOT_FOUND', 'VALIDATION_ERROR', 'BAD_PARAMETER', 'BODY_TOO_LARGE', 'UNSUPPORTED_ENCODING']));
  });
});

/** A route's path with plausible ids, so its query and body are what gets fuzzed. */
const fill = (routePath: string) => routePath.replace(':id', '1').replace(':format', 'xlsx').replace(':step', 'approve').replace(':code', supplier);
