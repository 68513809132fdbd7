import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { createDashboardApp } from '../dashboard/app.ts';
import { loadConfig } from '../src/config.ts';
import { addDays, businessDateOf } from '../src/dates.ts';
import { createDb, type Db } from '../src/db/knex.ts';
import { Ledger } from '../src/ledger/ledger.ts';
import { rollUpLedger } from '../src/ledger/rollups.ts';
import { rollUpOrderDays } from '../src/orders/rollups.ts';
import { ResellerUsers } from '../src/portal/users.ts';
import { ResellerRegistry } from '../src/resellers/registry.ts';
import { Users } from '../src/users/users.ts';
import { benchDatabase, serverVersion } from './support/database.ts';
import { reportInvariants } from './support/invariants.ts';
import { fmt, percentile, timed } from './support/measure.ts';

/** The portal's reseller: 1,000,000 of the orders (two in five) are its own. */
const PORTAL_RESELLER = 'shop-1';
const PORTAL_USER = 'bench-shop';
const PASSWORD = 'bench-password';
const STAFF_PAGES = ['/', '/fulfillment', '/reconciliation', '/settlement', '/stock', '/audit', '/?by=reseller', '/?by=supplier'];
const PORTAL_PAGES = ['/portal', '/portal/analysis', '/portal/orders', '/portal/orders?orderId=B2500000', '/portal/statements', '/portal/wallet', '/portal/callbacks'];
const TARGET_MS = { staff: 100, portal: 200 };

interface ServerRun {
  label: string;
  pages: Map<string, { p50: number; p95: number }>;
}

/**
 * Issue figures (issues 22 and 24): p50/p95 server time of each main dashboard page over a ledger
 * of 10,000,000 postings (90 days, 2,000 resellers, 500 SKUs), target p95 under 100 ms; and of the
 * reseller portal's pages for a reseller with 1,000,000 of those orders, target p95 under 200 ms.
 * With DATABASE_URL, the same run measures that server and the embedded PostgreSQL (the default a
 * new user runs), side by side.
 */
export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      postings: { type: 'string', default: '10000000' }, requests: { type: 'string', default: '40' }, keep: { type: 'string' },
      // with DATABASE_URL: 'both' (default), or only 'url' or only 'embedded' (to seed two kept databases at once)
      servers: { type: 'string', default: 'both' },
    },
  });
  const servers = String(values.servers);
  if (!['both', 'url', 'embedded'].includes(servers)) throw new Error('--servers: both, url or embedded');
  const postings = Number(values.postings);
  const requests = Number(values.requests);
  console.log(`dashboard benchmark: ${fmt(postings)} ledger postings over 90 days, 2,000 resellers, 500 SKUs; ` +
    `portal reseller ${PORTAL_RESELLER} with ${fmt(Math.floor(postings / 4 * 2 / 5))} orders; ${requests} requests per page`);
  const runs: ServerRun[] = [];
  if (process.env.DATABASE_URL && servers !== 'embedded') runs.push(await measureServer({ postings, requests, keep: values.keep, embedded: false }));
  if (!process.env.DATABASE_URL || servers !== 'url') runs.push(await measureServer({ postings, requests, keep: values.keep, embedded: true }));

  console.log('');
  console.log(`${'page'.padEnd(36)}${runs.map((r) => `${r.label} p50/p95 ms`.padStart(26)).join('')}   target`);
  for (const page of [...STAFF_PAGES, ...PORTAL_PAGES]) {
    const target = page.startsWith('/portal') ? TARGET_MS.portal : TARGET_MS.staff;
    const cells = runs.map((r) => {
      const t = r.pages.get(page)!;
      return `${fmt(t.p50, 1)} / ${fmt(t.p95, 1)}`.padStart(26);
    });
    const met = runs.every((r) => r.pages.get(page)!.p95 < target);
    console.log(`${page.padEnd(36)}${cells.join('')}   p95 < ${target} ms: ${met ? 'met' : 'NOT MET'}`);
  }
}

/** Seeds (or keeps) one server's database, rolls it up as the nightly settlement does, and times every page. */
async function measureServer(o: { postings: number; requests: number; keep?: string; embedded: boolean }): Promise<ServerRun> {
  // --keep NAME: seed a database of that name once and keep it, so later runs measure without reseeding
  const database = await benchDatabase('bench', { ...(o.keep ? { keep: o.keep } : {}), embedded: o.embedded });
  const db = createDb(database.url, { poolMax: 8 });
  try {
    const version = await serverVersion(db);
    console.log(`\ndatabase: ${database.where}; ${version}`);
    const { rows: [existing] } = await db.raw('SELECT count(*)::int AS n FROM orders');
    if (existing.n === 0) {
      const seeded = await timed(() => seed(db, o.postings));
      console.log(`seeded in ${fmt(seeded.seconds, 1)} s`);
    } else {
      console.log(`kept database already seeded: ${fmt(existing.n)} orders`);
    }
    // what the nightly settlement does after settling: roll the closed days up for the dashboard
    const ledgerRollup = await timed(() => rollUpLedger(db));
    const orderRollup = await timed(() => rollUpOrderDays(db));
    console.log(`nightly rollups: ledger ${fmt(ledgerRollup.result.postings)} postings in ${fmt(ledgerRollup.seconds, 1)} s, ` +
      `orders ${orderRollup.result.days.length} days in ${fmt(orderRollup.seconds, 1)} s (today stays live)`);
    await db.raw('VACUUM ANALYZE');

    // Pages that show workflow history need Temporal; these do not, so the client never connects.
    const client = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
    // the reconciliation page lists the running reconciliations: none here, answered without a server
    Object.assign(client.workflow, { list: () => (async function* () {})() });
    const config = loadConfig();
    const ledger = new Ledger(db);
    const app = createDashboardApp({
      db, ledger, client, config, infrastructure: ['bench'], resellers: new ResellerRegistry(db, ledger, randomBytes(32)),
      health: { postgres: 'bench', migrations: 7, accounts: 0, entries: 0, ledgerImbalanceFen: 0, checkedAt: new Date().toISOString() },
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as AddressInfo).port;
    const staff = await new Users(db).upsert({ username: 'bench', role: 'admin', password: PASSWORD });
    if (!(await db('reseller_users').where({ username: PORTAL_USER }).first('id'))) {
      await new ResellerUsers(db).createByStaff({ userId: staff.id, username: staff.username, role: staff.role }, PORTAL_RESELLER, { username: PORTAL_USER, role: 'owner', password: PASSWORD });
    }
    const agent = new http.Agent({ keepAlive: true });
    const cookies = { staff: await login(port, agent, '', 'bench'), portal: await login(port, agent, '/portal', PORTAL_USER) };

    const pages = new Map<string, { p50: number; p95: number }>();
    // the first view also pays what later ones reuse: the intraday rolls, a process's copy of the closed days' margins
    console.log(`${'page'.padEnd(36)} ${'first ms'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)}`);
    for (const page of [...STAFF_PAGES, ...PORTAL_PAGES]) {
      const cookie = page.startsWith('/portal') ? cookies.portal : cookies.staff;
      const first = await get(port, agent, cookie, page);
      const times: number[] = [];
      for (let i = 0; i < o.requests; i++) times.push(await get(port, agent, cookie, page));
      const t = { p50: percentile(times, 50), p95: percentile(times, 95) };
      pages.set(page, t);
      console.log(`${page.padEnd(36)} ${fmt(first, 1).padStart(9)} ${fmt(t.p50, 1).padStart(8)} ${fmt(t.p95, 1).padStart(8)}`);
    }
    agent.destroy();
    server.close();
    await reportInvariants(db);
    return { label: `PG ${/PostgreSQL (\d+)/.exec(version)?.[1] ?? '?'}${o.embedded ? ' embedded' : ''}`, pages };
  } finally {
    await db.destroy();
    await database.stop();
  }
}

/**
 * 2,000 resellers with wallets, 500 card SKUs, 3 suppliers, and delivered card orders spread over
 * 90 days, each with the entry the order service posts (wallet, revenue, cost, inventory: four
 * postings), in bulk SQL: posting ten million entries one by one would take hours.
 */
async function seed(db: Db, postings: number): Promise<void> {
  const ledger = new Ledger(db);
  await ledger.openPlatformAccounts();
  const orders = Math.floor(postings / 4);
  const today = businessDateOf(new Date());
  const first = addDays(today, -89);
  await db.transaction(async (trx) => {
    await trx.raw('SET LOCAL session_replication_role = replica');
    await trx.raw(`INSERT INTO suppliers (code, name, api_base_url, api_key, callback_secret)
      SELECT 'sup-' || g, '供应商 ' || g, 'http://127.0.0.1:1', 'k', 's' FROM generate_series(1, 3) g`);
    await trx.raw(`INSERT INTO skus (code, name_zh, name_en, brand, kind, face_value_fen)
      SELECT 'SKU-' || g, '点卡 ' || g, 'Card ' || g, '品牌' || (g % 20), 'card_code', 10000 FROM generate_series(1, 500) g`);
    await trx.raw(`INSERT INTO resellers (code, name, api_key, api_secret_sealed)
      SELECT 'shop-' || g, '小店 ' || g, 'rk_bench_' || g, '\\\\x00'::bytea FROM generate_series(1, 2000) g`);
    await trx.raw(`INSERT INTO ledger_accounts (code, kind, normal_side, no_overdraft, currency, name, owner_type, owner_id)
      SELECT 'reseller:' || r.id || ':wallet', 'reseller_wallet', 'credit', true, 'CNY', r.name, 'reseller', r.id FROM resellers r`);
    // one batch per SKU holding exactly the codes its orders took
    await trx.raw(
      `INSERT INTO card_batches (batch_key, sku_code, source, unit_cost_fen, code_count)
       SELECT 'bench-' || k.code, k.code, 'file', 9400, count(g) FROM skus k
         JOIN generate_series(1, ?) g ON k.code = 'SKU-' || (1 + g % 500) GROUP BY k.code`,
      [orders],
    );
    // each batch booked as it came in (inventory / adjustments), so the sales' inventory credits leave the shelf's value at zero
    await trx.raw(
      `WITH e AS (
         INSERT INTO ledger_entries (idempotency_key, content_hash, kind, description, business_date, metadata, posted_at)
         SELECT 'card-import:' || b.batch_key, 'bench', 'stock_import', 'bench stock', ?::date, jsonb_build_object('batchId', b.id), (?::date - 1)::timestamptz
           FROM card_batches b WHERE b.batch_key LIKE 'bench-%'
         RETURNING id, (metadata ->> 'batchId')::bigint AS batch_id, posted_at
       )
       INSERT INTO ledger_postings (entry_id, account_id, amount, currency, posted_at)
       SELECT e.id, a.id, v.amount, 'CNY', e.posted_at
         FROM e JOIN card_batches b ON b.id = e.batch_id
         CROSS JOIN LATERAL (VALUES ('platform:inventory', b.code_count * 9400), ('platform:adjustments', -b.code_count * 9400)) v (code, amount)
         JOIN ledger_accounts a ON a.code = v.code`,
      [addDays(first, -1), first],
    );
    await trx.raw(
      `WITH o AS (
         INSERT INTO orders (reseller_id, reseller_order_id, request_hash, sku_code, kind, quantity, unit_price_fen, amount_fen, cost_fen, status, supplier_id,
                             business_date, created_at, completed_at)
         SELECT r.id, 'B' || g, 'bench', 'SKU-' || (1 + g % 500), 'card_code', 1, 9800, 9800, 9400, 'delivered', s.id,
                -- in time order, as orders arrive: a day's orders lie together on disk
                d.day, d.at, d.at
           FROM generate_series(1, ?) g
           CROSS JOIN LATERAL (SELECT (?::date + ((g - 1) * 90 / ?)::int) AS day) d0
           -- Shanghai wall-clock times over the day, none in the future
           CROSS JOIN LATERAL (SELECT d0.day, least((d0.day + make_interval(secs => g % 86400)) AT TIME ZONE 'Asia/Shanghai', now() - interval '1 minute') AS at) d
           -- two in five orders are the portal reseller's (1,000,000 of 2,500,000)
           JOIN resellers r ON r.code = CASE WHEN g % 5 < 2 THEN ? ELSE 'shop-' || (1 + g % 2000) END
           JOIN suppliers s ON s.code = 'sup-' || (1 + g % 3)
         RETURNING id, reseller_id, sku_code, business_date, created_at
       ), codes AS (
         INSERT INTO card_codes (sku_code, batch_id, serial, code_sealed, fingerprint, status, order_id, delivered_at)
         SELECT o.sku_code, b.id, 'S' || o.id, '\\\\x00'::bytea, sha256(o.id::text::bytea), 'delivered', o.id, o.created_at FROM o JOIN card_batches b ON b.sku_code = o.sku_code
       ), e AS (
         INSERT INTO ledger_entries (idempotency_key, content_hash, kind, description, business_date, metadata, posted_at)
         SELECT 'order:' || o.id, 'bench', 'order_sale', 'card sale', o.business_date, jsonb_build_object('orderId', o.id, 'resellerId', o.reseller_id), o.created_at FROM o
         RETURNING id, business_date, posted_at, (metadata ->> 'resellerId')::bigint AS reseller_id
       )
       INSERT INTO ledger_postings (entry_id, account_id, amount, currency, posted_at)
       SELECT e.id, a.id, v.amount, 'CNY', e.posted_at
         FROM e
         CROSS JOIN LATERAL (VALUES ('reseller:' || e.reseller_id || ':wallet', 9800), ('platform:revenue', -9800), ('platform:cost_of_goods', 9400), ('platform:inventory', -9400)) v (code, amount)
         JOIN ledger_accounts a ON a.code = v.code`,
      [orders, first, orders, PORTAL_RESELLER],
    );
    // the portal reseller has a callback URL: every order of its was called back once (one in 50 failed first, then delivered)
    await trx.raw(
      `INSERT INTO callback_deliveries (order_id, url, attempt, status_code, error, delivered, duration_ms, at)
       SELECT o.id, 'https://shop.example/callback', a.attempt, CASE WHEN a.attempt = 1 AND o.id % 50 = 0 THEN 502 ELSE 200 END,
              CASE WHEN a.attempt = 1 AND o.id % 50 = 0 THEN 'HTTP 502' END, NOT (a.attempt = 1 AND o.id % 50 = 0), 40, o.completed_at + a.attempt * interval '1 second'
         FROM orders o JOIN resellers r ON r.id = o.reseller_id AND r.code = ?
         CROSS JOIN LATERAL (SELECT generate_series(1, CASE WHEN o.id % 50 = 0 THEN 2 ELSE 1 END) AS attempt) a
        ORDER BY o.id, a.attempt`,
      [PORTAL_RESELLER],
    );
    // Every wallet funded once, before the orders, so none is below zero.
    await trx.raw(
      `WITH w AS (SELECT a.id, a.code, coalesce((SELECT sum(amount) FROM ledger_postings p WHERE p.account_id = a.id), 0) AS spent FROM ledger_accounts a WHERE a.kind = 'reseller_wallet'),
       e AS (INSERT INTO ledger_entries (idempotency_key, content_hash, kind, description, business_date, posted_at)
             SELECT 'fund:' || w.code, 'bench', 'wallet_topup', 'opening', ?::date, ?::date - interval '1 day' FROM w RETURNING id, idempotency_key)
       INSERT INTO ledger_postings (entry_id, account_id, amount, currency, posted_at)
       SELECT e.id, a.id, v.amount, 'CNY', ?::date - interval '1 day'
         FROM e JOIN w ON 'fund:' || w.code = e.idempotency_key
         CROSS JOIN LATERAL (VALUES (w.id, -(w.spent + 1000000)), ((SELECT id FROM ledger_accounts WHERE code = 'platform:platform_cash'), w.spent + 1000000)) v (account, amount)
         JOIN ledger_accounts a ON a.id = v.account`,
      [first, first, first],
    );
    await trx.raw(`UPDATE ledger_accounts a SET guarded_balance = (SELECT coalesce(sum(amount), 0) FROM ledger_postings p WHERE p.account_id = a.id) WHERE no_overdraft`);
  });
  await db.raw('ANALYZE');
  const { rows: [count] } = await db.raw('SELECT count(*)::bigint AS n FROM ledger_postings');
  console.log(`ledger: ${fmt(count.n)} postings, ${fmt(orders)} orders`);
}

/** Logs in as a browser does: the form (its CSRF cookie and field), then the post; `base` '' for staff, '/portal' for a reseller user. */
async function login(port: number, agent: http.Agent, base: string, username: string): Promise<string> {
  const sessionCookie = base === '/portal' ? 'kameng_portal=' : 'kameng_session=';
  const form = await new Promise<{ cookie: string; token: string }>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: `${base}/login`, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ cookie: res.headers['set-cookie']![0]!.split(';')[0]!, token: /name="_csrf" value="([^"]+)"/.exec(text)![1]! }));
    }).on('error', reject);
  });
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: `${base}/login`, agent, headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: form.cookie } }, (res) => {
      res.resume();
      const cookie = res.headers['set-cookie']?.find((c) => c.startsWith(sessionCookie))?.split(';')[0];
      if (cookie) resolve(cookie);
      else reject(new Error(`login failed: ${res.statusCode}`));
    });
    req.on('error', reject);
    req.end(new URLSearchParams({ username, password: PASSWORD, _csrf: form.token }).toString());
  });
}

/** Milliseconds from sending the request to the last byte of the page. */
function get(port: number, agent: http.Agent, cookie: string, path: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent, headers: { cookie } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`${path}: ${res.statusCode}`));
      res.resume();
      res.on('end', () => resolve(performance.now() - started));
    }).on('error', reject);
  });
}
