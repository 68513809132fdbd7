import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Alerts } from '../src/alerts/alerts.ts';
import { AlertDeliveryFailedError, type ChannelKind } from '../src/alerts/robots.ts';
import { DEFAULT_OPERATIONS } from '../src/config.ts';
import { userActor } from './support/actors.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';
import { cardSku } from './support/world.ts';

/**
 * Issue 21, alerts: each rule fires once while its subject stays wrong, sends one "resolved" when it
 * clears, to DingTalk, WeCom and Feishu group robots and a generic webhook, each signed its own way
 * and verified by a fake robot server here (as the real robots do: a bad signature is refused).
 */
let h: Harness;
let robot: http.Server;
let base: string;
const SECRET = 'SEC-test-secret-1234';
const WECOM_KEY = 'wecom-key-5678';
const received: { kind: ChannelKind; verified: boolean; text: string }[] = [];
const thresholds = { ...DEFAULT_OPERATIONS.alerts, stuckTopUps: 0, supplierMinCalls: 4, supplierFailurePct: 20, qualificationDays: 14, stockStaleMinutes: 30, workflowWindowMinutes: 60 };

const b64eq = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** A fake of each robot: checks the signature as its real counterpart documents it. */
function verify(kind: ChannelKind, url: URL, headers: http.IncomingHttpHeaders, body: string): boolean {
  switch (kind) {
    case 'dingtalk': {
      const ts = url.searchParams.get('timestamp') ?? '';
      const expected = createHmac('sha256', SECRET).update(`${ts}\n${SECRET}`).digest('base64');
      return Math.abs(Date.now() - Number(ts)) < 3_600_000 && b64eq(url.searchParams.get('sign') ?? '', expected) && url.searchParams.get('access_token') === 'tok';
    }
    case 'feishu': {
      const { timestamp, sign } = JSON.parse(body);
      const expected = createHmac('sha256', `${timestamp}\n${SECRET}`).update('').digest('base64');
      return Math.abs(Date.now() / 1000 - Number(timestamp)) < 3600 && b64eq(sign, expected);
    }
    case 'wecom':
      return url.searchParams.get('key') === WECOM_KEY;
    case 'webhook': {
      const ts = String(headers['x-kameng-timestamp']);
      const expected = createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex');
      return b64eq(String(headers['x-kameng-signature']), expected);
    }
  }
}

beforeAll(async () => {
  h = await openHarness({ freshDatabase: true, operations: { ...DEFAULT_OPERATIONS, alerts: thresholds } });
  robot = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const url = new URL(req.url!, 'http://robot');
      const kind = url.pathname.slice(1) as ChannelKind;
      const verified = verify(kind, url, req.headers, body);
      received.push({ kind, verified, text: body });
      const ok = kind === 'feishu' ? { code: 0, msg: 'success' } : { errcode: 0, errmsg: 'ok' };
      const refused = kind === 'feishu' ? { code: 19021, msg: 'sign match fail or timestamp is not within one hour from current time' } : { errcode: 310000, errmsg: 'sign not match' };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(verified ? ok : refused));
    });
  });
  await new Promise<void>((r) => robot.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(robot.address() as AddressInfo).port}`;
});
afterAll(async () => {
  robot.close();
  await h.close();
});

const evaluate = () => h.client.workflow.execute('evaluateAlerts', { taskQueue: h.taskQueue, workflowId: uniq('alerts') }) as Promise<{ pending: number; delivered: number; abandoned: number }>;
const firings = (rule: string) => received.filter((m) => m.text.includes(rule));

describe('alerts to group robots', () => {
  it('fires each rule once to every robot kind, signed as each expects, stays quiet while firing, and sends one resolved notice', async () => {
    const alerts = h.deps.alerts!;
    await alerts.addChannel({ name: '钉钉 ops', kind: 'dingtalk', url: `${base}/dingtalk?access_token=tok`, secret: SECRET });
    await alerts.addChannel({ name: '企业微信 ops', kind: 'wecom', url: `${base}/wecom`, secret: WECOM_KEY });
    await alerts.addChannel({ name: '飞书 ops', kind: 'feishu', url: `${base}/feishu`, secret: SECRET });
    await alerts.addChannel({ name: 'webhook', kind: 'webhook', url: `${base}/webhook`, secret: SECRET });
    expect(JSON.stringify(await alerts.channels())).not.toContain('tok'); // the token is sealed with the secret

    // what is wrong: a supplier failing every call, a licence expiring, a shelf empty, a failed run
    const supplier = await h.deps.suppliers.upsert({ code: uniq('bad').toLowerCase(), name: '坏供应商', apiBaseUrl: 'http://127.0.0.1:1', apiKey: 'k', callbackSecret: 'c' });
    await h.deps.suppliers.addQualification({ supplierId: supplier.id, kind: 'business_licence', documentNo: 'BL-1', validFrom: '2020-01-01', expiresOn: new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10) });
    const sku = await cardSku(h, '腾讯', { threshold: 5 });
    for (let i = 0; i < 4; i++) await h.db('supplier_call_outcomes').insert({ supplier_id: supplier.id, sku_code: sku.code, kind: 'topup', outcome: 'error' });
    const [failedRun] = await h.db('procurement_runs').insert({ workflow_id: uniq('procure'), sku_code: sku.code, quantity: 10, reason: 'low_stock', status: 'failed', finished_at: new Date() }).returning('id');

    const first = await evaluate();
    expect(first).toEqual({ pending: 16, delivered: 16, abandoned: 0 });
    for (const rule of ['supplier_failure_rate', 'qualification_expiring', 'stock_not_replenished', 'workflow_failing']) {
      expect(firings(rule).map((m) => m.kind).sort(), rule).toEqual(['dingtalk', 'feishu', 'webhook', 'wecom']);
    }
    expect(received.every((m) => m.verified)).toBe(true);
    expect(received.find((m) => m.kind === 'webhook')!.text).toContain('"event":"firing"');

    // still wrong: nothing sent again
    expect(await evaluate()).toEqual({ pending: 0, delivered: 0, abandoned: 0 });
    expect(received).toHaveLength(16);

    // put right: one resolved notice per rule and robot
    for (let i = 0; i < 40; i++) await h.db('supplier_call_outcomes').insert({ supplier_id: supplier.id, sku_code: sku.code, kind: 'topup', outcome: 'success' });
    await h.deps.suppliers.addQualification({ supplierId: supplier.id, kind: 'business_licence', documentNo: 'BL-2', validFrom: '2020-01-01', expiresOn: '2035-12-31' });
    await h.db('procurement_runs').insert({ workflow_id: uniq('procure'), sku_code: sku.code, quantity: 10, reason: 'low_stock', status: 'succeeded', finished_at: new Date() });
    await h.db('procurement_runs').where({ id: failedRun.id }).update({ finished_at: new Date(Date.now() - 2 * 3_600_000) });
    expect(await evaluate()).toEqual({ pending: 16, delivered: 16, abandoned: 0 });
    const resolved = received.slice(16);
    expect(resolved.every((m) => m.verified && (m.text.includes('resolved') || m.text.includes('RESOLVED')))).toBe(true);
    expect(await evaluate()).toEqual({ pending: 0, delivered: 0, abandoned: 0 });
    expect((await alerts.states()).every((s) => s.status === 'resolved')).toBe(true);

    // wrong again later: a new episode fires again
    await h.db('procurement_runs').insert({ workflow_id: uniq('procure'), sku_code: sku.code, quantity: 10, reason: 'low_stock', status: 'failed', finished_at: new Date() });
    expect(await evaluate()).toMatchObject({ pending: 4, delivered: 4 });
  });

  it('fires and resolves the stuck top-ups, open discrepancies and payout approval rules too', async () => {
    const before = received.length;
    const ops = await userActor(h.db, 'finance');
    const { reseller } = await h.deps.resellers.create({ code: uniq('shop'), name: '测试店铺' });
    const supplier = await h.deps.suppliers.upsert({ code: uniq('recon').toLowerCase(), name: '对账供应商', apiBaseUrl: 'http://127.0.0.1:1', apiKey: 'k', callbackSecret: 'c' });
    const [stuck] = await h.db('orders').insert({
      reseller_id: reseller.id, reseller_order_id: uniq('o'), request_hash: 'x', sku_code: 'CMCC-50', kind: 'direct_topup', quantity: 1, account: '13900000000',
      unit_price_fen: 4_950, amount_fen: 4_950, status: 'stuck', business_date: '2026-12-01',
    }).returning('id');
    const [recon] = await h.db('recon_cases').insert({ supplier_id: supplier.id, business_date: '2026-11-30', subject_key: 'txn:1', class: 'missing_ours', delta_fen: 500, first_run_id: 1, last_run_id: 1 }).returning('id');
    const [payout] = await h.db('payout_batches').insert({ status: 'draft', period_from: '2026-11-01', period_to: '2026-11-30', total_fen: 100_000, created_by: ops.username, created_by_user_id: ops.userId }).returning('id');

    expect(await evaluate()).toEqual({ pending: 12, delivered: 12, abandoned: 0 });
    for (const rule of ['stuck_topups', 'recon_discrepancies', 'payout_awaiting_approval']) {
      expect(received.slice(before).filter((m) => m.text.includes(rule)).map((m) => m.kind).sort(), rule).toEqual(['dingtalk', 'feishu', 'webhook', 'wecom']);
    }
    expect(await evaluate()).toEqual({ pending: 0, delivered: 0, abandoned: 0 });

    await h.db('orders').where({ id: stuck.id }).update({ status: 'refunded' });
    await h.db('recon_cases').where({ id: recon.id }).delete();
    await h.db('payout_batches').where({ id: payout.id }).update({ status: 'cancelled' });
    expect(await evaluate()).toEqual({ pending: 12, delivered: 12, abandoned: 0 });
    expect(received.slice(before + 12).every((m) => m.verified && (m.text.includes('resolved') || m.text.includes('RESOLVED')))).toBe(true);
  });

  it('a robot that refuses the signature fails the delivery (retried, never marked delivered)', async () => {
    const alerts = new Alerts(h.db, h.keys.alertSecrets, { thresholds, allowPrivate: true });
    const channel = await alerts.addChannel({ name: uniq('wrong'), kind: 'dingtalk', url: `${base}/dingtalk?access_token=tok`, secret: 'not-the-secret' });
    await h.db('alert_channels').whereNot({ id: channel.id }).update({ active: false });
    await h.db('procurement_runs').insert({ workflow_id: uniq('procure'), sku_code: (await cardSku(h, '网易')).code, quantity: 10, reason: 'low_stock', status: 'failed', finished_at: new Date() });
    const pending = await alerts.evaluate();
    const mine = pending.filter((p) => p.rule === 'workflow_failing');
    expect(mine.length).toBeGreaterThan(0);
    await expect(alerts.deliver(mine[0]!.id)).rejects.toBeInstanceOf(AlertDeliveryFailedError);
    const row = await h.db('alert_deliveries').where({ id: mine[0]!.id }).first();
    expect(row).toMatchObject({ status: 'pending', attempts: 1 });
    expect(row.last_error).toMatch(/310000/);
    expect(row.last_error).not.toContain('tok');
  });

  it('refuses a robot URL on a private address unless allowed, and a signed kind without its secret', async () => {
    const strict = new Alerts(h.db, h.keys.alertSecrets, { thresholds, allowPrivate: false });
    await expect(strict.addChannel({ name: 'x', kind: 'feishu', url: 'http://10.0.0.8/hook', secret: 's' })).rejects.toThrow(/private or loopback/);
    await expect(strict.addChannel({ name: 'x', kind: 'dingtalk', url: 'ftp://oapi.dingtalk.com/robot/send', secret: 's' })).rejects.toThrow(/http\(s\)/);
    await expect(strict.addChannel({ name: 'x', kind: 'feishu', url: 'https://open.feishu.cn/open-apis/bot/v2/hook/x', secret: '' })).rejects.toThrow(/secret/);
  });
});
