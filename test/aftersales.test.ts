import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ComplaintService } from '../src/aftersales/complaints.ts';
import { AFTERSALES_EFFECTS } from '../src/aftersales/postings.ts';
import { complaints } from '../src/aftersales/store.ts';
import { complaintRates, exportClaims, searchOrders, supplierClaims } from '../src/aftersales/queue.ts';
import { PassThrough } from 'node:stream';
import { resellerApi } from '../src/api/reseller-api.ts';
import { businessDateOf } from '../src/dates.ts';
import { applyOpsAction, opsActionFrom } from '../src/fulfillment/ops.ts';
import { importCardCodes } from '../src/inventory/import.ts';
import { checkInvariants } from '../src/invariants/check.ts';
import { accountCode } from '../src/ledger/accounts.ts';
import { OrderService } from '../src/orders/order-service.ts';
import { Payouts } from '../src/payouts/payouts.ts';
import { onSupplierCredit } from '../src/procurement/booking.ts';
import { RequestAuthenticator } from '../src/resellers/authenticate.ts';
import { signedHeaders } from '../src/resellers/signature.ts';
import type { Actor } from '../src/users/actor.ts';
import { userActor } from './support/actors.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';
import { cardSku, openWorld, supplierCode, type World } from './support/world.ts';

let h: Harness;
let world: World;
let api: http.Server;
let baseUrl: string;
let receiver: http.Server;
let receiverUrl: string;
let service: ComplaintService;
let ops: Actor;
const received: any[] = [];
const CARDS = supplierCode('cards');
const TOPUPS = supplierCode('topups');
/** Short SLA deadlines, so that an escalation can be watched. */
const SLA = { firstResponseMs: 1_500, resolutionMs: 3_000 };

beforeAll(async () => {
  h = await openHarness();
  await h.ledger.openPlatformAccounts();
  world = await openWorld(h, [
    { code: CARDS, products: [{ sku: 'C-QQ100', costFen: 9_000, kind: 'card_batch' }], authorisations: { 腾讯: '2030-12-31' } },
    { code: TOPUPS, products: [{ sku: 'T-CM50', costFen: 4_880, kind: 'topup' }], authorisations: { 中国移动: '2030-12-31' } },
  ]);
  service = new ComplaintService({ db: h.db, vault: h.deps.vault, temporal: h.client, taskQueue: h.taskQueue, windowHours: 72, sla: SLA });
  const orderService = new OrderService({ db: h.db, ledger: h.ledger, catalog: h.deps.catalog, vault: h.deps.vault, temporal: h.client, taskQueues: { fulfillment: h.taskQueue, procurement: h.taskQueue } });
  const app = express();
  app.use('/api/v1', resellerApi({ auth: new RequestAuthenticator(h.db, h.deps.resellers), orders: orderService, complaints: service }));
  api = app.listen(0, '127.0.0.1');
  await new Promise<void>((r) => api.once('listening', r));
  baseUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push(JSON.parse(body));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/notify`;
  ops = await userActor(h.db, 'ops');
});
afterAll(async () => {
  api?.close();
  receiver?.close();
  await world?.stop();
  await h?.close();
});

async function reseller() {
  const { reseller: r, apiSecret } = await h.deps.resellers.create({ code: uniq('shop'), name: '售后测试店', callbackUrl: receiverUrl });
  await h.deps.resellers.topUpWallet(r.id, 1_000_000, 'initial');
  return { ...r, credentials: { apiKey: r.apiKey, apiSecret } };
}
type TestReseller = Awaited<ReturnType<typeof reseller>>;

async function call(r: TestReseller, method: 'GET' | 'POST', path: string, body?: unknown) {
  const text = body === undefined ? '' : JSON.stringify(body);
  const res = await fetch(`${baseUrl}${path}`, { method, body: method === 'POST' ? text : undefined, headers: signedHeaders(r.credentials, method, path, text) });
  return { status: res.status, body: (await res.json()) as any };
}

const wallet = (r: TestReseller) => h.ledger.balance(accountCode.resellerWallet(r.id));
const until = async <T>(what: string, fn: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

/** A card SKU stocked by the card supplier (the batch knows its supplier: a claim has someone to go to). */
async function stockedCardSku(codes = 6) {
  const sku = await cardSku(h, '腾讯', { priceFen: 9_800, threshold: 0, batch: 0 });
  const key = uniq('batch');
  async function* rows() {
    for (let i = 0; i < codes; i++) yield { line: i + 2, sku: sku.code, serial: `${key}-S${i}`, code: `CODE-${key}-${i}`, expiresOn: '' };
  }
  await importCardCodes(h.db, h.deps.vault, {
    booking: onSupplierCredit(h.ledger, { key: `card-import:${key}`, supplierId: world.suppliers[CARDS]!.id }),
    batchKey: key, sku: sku.code, unitCostFen: 9_000, source: 'supplier_delivery', supplierId: world.suppliers[CARDS]!.id, fileName: `${key}.csv`, rows: rows(),
  });
  return sku.code;
}

async function cardOrder(r: TestReseller, sku: string, quantity = 1) {
  const id = uniq('ord');
  const { status, body } = await call(r, 'POST', '/api/v1/orders', { resellerOrderId: id, sku, quantity });
  expect(status).toBe(201);
  return { resellerOrderId: id, order: body.order };
}

let topUpSkuCode: string | undefined;
async function topUpOrder(r: TestReseller) {
  if (!topUpSkuCode) {
    const sku = await h.deps.catalog.createSku({ code: uniq('CM50').toUpperCase(), nameZh: '移动50', nameEn: 'CMCC 50', brand: '中国移动', kind: 'direct_topup', faceValueFen: 5_000, lowStockThreshold: 0, procurementBatch: 0 });
    await h.deps.catalog.setPrice({ sku: sku.code, tier: 'default', priceFen: 4_950 });
    await h.deps.suppliers.setOffer({ supplierId: world.suppliers[TOPUPS]!.id, sku: sku.code, supplierSku: 'T-CM50', costFen: 4_880, priority: 10 });
    topUpSkuCode = sku.code;
  }
  const id = uniq('top');
  const placed = await call(r, 'POST', '/api/v1/orders', { resellerOrderId: id, sku: topUpSkuCode, account: '13800138000' });
  expect(placed.status).toBe(201);
  const order = await until('the top-up to succeed', async () => {
    const { body } = await call(r, 'GET', `/api/v1/orders/${id}`);
    return body.order.status === 'succeeded' && body.order;
  });
  return { resellerOrderId: id, order, requestId: `kameng-${order.orderNo}-1` };
}

async function complaintRow(r: TestReseller, key: string) {
  return h.db('complaints').where({ reseller_id: r.id, complaint_key: key }).first();
}
const verified = (r: TestReseller, key: string) => until('the supplier answer', async () => {
  const row = await complaintRow(r, key);
  return row?.supplier_verdict && row;
});
const claimOf = (complaintId: number) => h.db('supplier_claims').where({ complaint_id: complaintId }).first();

describe('filing a complaint (signed API)', () => {
  it('takes a complaint about a delivered code once: a repeat of the same complaintId answers the original, a different body under it is a conflict', async () => {
    const r = await reseller();
    const sku = await stockedCardSku(2);
    const { resellerOrderId, order } = await cardOrder(r, sku);
    const body = { complaintId: uniq('cmp'), kind: 'invalid_code', serial: order.codes[0].serial, note: '卡密无效' };
    const first = await call(r, 'POST', `/api/v1/orders/${resellerOrderId}/complaints`, body);
    expect(first.status).toBe(201);
    expect(first.body.complaint).toMatchObject({ complaintId: body.complaintId, resellerOrderId, kind: 'invalid_code', status: 'OPEN' });
    const again = await call(r, 'POST', `/api/v1/orders/${resellerOrderId}/complaints`, body);
    expect(again.status).toBe(200);
    expect(again.body.replayed).toBe(true);
    const other = await call(r, 'POST', `/api/v1/orders/${resellerOrderId}/complaints`, { ...body, note: 'different' });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('IDEMPOTENCY_CONFLICT');
    const second = await call(r, 'POST', `/api/v1/orders/${resellerOrderId}/complaints`, { ...body, complaintId: uniq('cmp') });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe('COMPLAINT_EXISTS');
    expect(Number((await h.db('complaints').where({ reseller_id: r.id }).count('* as n'))[0]!.n)).toBe(1);
    const got = await call(r, 'GET', `/api/v1/complaints/${body.complaintId}`);
    expect(got.status).toBe(200);
    expect(got.body.complaint.complaintId).toBe(body.complaintId);
  });

  it("answers 404 for another reseller's order and for another reseller's complaint, and changes nothing", async () => {
    const owner = await reseller();
    const stranger = await reseller();
    const sku = await stockedCardSku(1);
    const { resellerOrderId, order } = await cardOrder(owner, sku);
    const res = await call(stranger, 'POST', `/api/v1/orders/${resellerOrderId}/complaints`, { complaintId: uniq('cmp'), kind: 'used_code', serial: order.codes[0].serial, note: '' });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
    const key = uniq('cmp');
    expect((await call(owner, 'POST', `/api/v1/orders/${resellerOrderId}/complaints`, { complaintId: key, kind: 'used_code', note: '' })).status).toBe(201);
    expect((await call(stranger, 'GET', `/api/v1/complaints/${key}`)).status).toBe(404);
    expect(Number((await h.db('complaints').where({ reseller_id: stranger.id }).count('* as n'))[0]!.n)).toBe(0);
  });

  it('refuses a complaint outside the window after delivery, a wrong kind and an unknown serial, with a clear error', async () => {
    const r = await reseller();
    const sku = await stockedCardSku(2);
    const { resellerOrderId, order } = await cardOrder(r, sku);
    await h.ownerDb('orders').where({ id: order.orderNo }).update({ completed_at: new Date(Date.now() - 73 * 3_600_000) });
    const late = await call(r, 'POST', `/api/v1/orders/${resellerOrderId}/complaints`, { complaintId: uniq('cmp'), kind: 'used_code', note: '' });
    expect(late.status).toBe(422);
    expect(late.body.error.code).toBe('COMPLAINT_WINDOW_CLOSED');
    expect(late.body.error.message).toMatch(/72 hours/);
    const fresh = await cardOrder(r, sku);
    const wrongKind = await call(r, 'POST', `/api/v1/orders/${fresh.resellerOrderId}/complaints`, { complaintId: uniq('cmp'), kind: 'not_received', note: '' });
    expect(wrongKind.status).toBe(422);
    expect(wrongKind.body.error.message).toMatch(/^kind: .*card order/);
    const badSerial = await call(r, 'POST', `/api/v1/orders/${fresh.resellerOrderId}/complaints`, { complaintId: uniq('cmp'), kind: 'used_code', serial: 'NOPE', note: '' });
    expect(badSerial.status).toBe(422);
    expect(badSerial.body.error.message).toMatch(/^serial: NOPE is not a code delivered/);
    expect(Number((await h.db('complaints').where({ reseller_id: r.id }).count('* as n'))[0]!.n)).toBe(0);
  });
});

type Kind = 'invalid_code' | 'used_code' | 'not_received' | 'wrong_amount';
type Decision = 'replace' | 'refund' | 'reject';
/** What the supplier answers for each kind in these cases: the fault confirmed. */
const FAULT: Record<Kind, 'invalid' | 'used' | 'not_delivered' | 'delivered'> = { invalid_code: 'invalid', used_code: 'used', not_received: 'not_delivered', wrong_amount: 'delivered' };

describe('each kind × each decision, through the workflow (money per the table in src/aftersales/postings.ts)', () => {
  const kinds: Kind[] = ['invalid_code', 'used_code', 'not_received', 'wrong_amount'];
  const decisions: Decision[] = ['replace', 'refund', 'reject'];
  for (const kind of kinds) {
    for (const decision of decisions) {
      const card = kind === 'invalid_code' || kind === 'used_code';
      const refused = decision === 'replace' && !card;
      it(`${kind} × ${decision}${refused ? ' is refused: a top-up cannot be replaced' : ''}`, async () => {
        const r = await reseller();
        let resellerOrderId: string;
        let serial: string | undefined;
        let chargeFen: number;
        let costFen: number;
        if (card) {
          const sku = await stockedCardSku(3);
          const placed = await cardOrder(r, sku);
          resellerOrderId = placed.resellerOrderId;
          serial = placed.order.codes[0].serial;
          world.sim.supplier(CARDS).codeVerdicts.set(serial!, FAULT[kind] as 'invalid' | 'used');
          chargeFen = 9_800;
          costFen = 9_000;
        } else {
          const placed = await topUpOrder(r);
          resellerOrderId = placed.resellerOrderId;
          world.sim.supplier(TOPUPS).deliveries.set(placed.requestId, FAULT[kind] as 'not_delivered' | 'delivered');
          chargeFen = 4_950;
          costFen = 4_880;
        }
        const key = uniq('cmp');
        const filed = await call(r, 'POST', `/api/v1/orders/${resellerOrderId}/complaints`, { complaintId: key, kind, serial, note: '顾客投诉' });
        expect(filed.status).toBe(201);
        const row = await verified(r, key);
        expect(row.supplier_verdict).toBe(FAULT[kind]);
        const walletBefore = await wallet(r);
        const inventoryBefore = await h.ledger.balance(accountCode.platform('inventory'));

        if (refused) {
          await expect(service.decide(Number(row.id), { actor: ops, decision, reason: 'try a replacement' })).rejects.toThrow(/only a card code can be replaced/);
          expect((await complaintRow(r, key)).status).toBe('open');
          expect(await claimOf(Number(row.id))).toBeUndefined();
          // the complaint is still open for a decision that fits it
          await service.decide(Number(row.id), { actor: ops, decision: 'reject', reason: 'tidy up the test' });
          return;
        }
        const state = await service.decide(Number(row.id), { actor: ops, decision, reason: decision === 'reject' ? '供应商确认已到账 the supplier shows it delivered' : 'supplier confirmed' });
        const status = { replace: 'replaced', refund: 'refunded', reject: 'rejected' }[decision];
        expect(state.status).toBe(status);
        const after = await complaintRow(r, key);
        expect(after.status).toBe(status);

        const effect = AFTERSALES_EFFECTS[decision];
        expect((await wallet(r)) - walletBefore).toBe(effect.wallet * chargeFen);
        const entry = await h.db('ledger_entries').where('idempotency_key', 'like', `complaint-%:${row.id}`).first();
        expect(entry?.kind).toBe(effect.entry ? `complaint_${decision}` : undefined);
        if (decision === 'replace') {
          expect(await h.ledger.balance(accountCode.platform('inventory'))).toBe(inventoryBefore - 9_000);
          const old = await h.db('card_codes').where({ id: row.code_id }).first();
          expect(old).toMatchObject({ status: 'void', order_id: null });
          const { body } = await call(r, 'GET', `/api/v1/complaints/${key}`);
          expect(body.complaint.replacement.serial).not.toBe(serial);
          const order = await call(r, 'GET', `/api/v1/orders/${resellerOrderId}`);
          expect(order.body.order.codes.map((c: { serial: string }) => c.serial)).toEqual([body.complaint.replacement.serial]);
        }
        // a claim against the supplier when it confirmed the fault and ops did not reject
        const fault = FAULT[kind] !== 'delivered';
        const claim = await claimOf(Number(row.id));
        if (effect.claim && fault) {
          expect(claim).toMatchObject({ source: 'complaint', status: 'open' });
          expect(Number(claim.supplier_id)).toBe(Number(world.suppliers[card ? CARDS : TOPUPS]!.id));
          expect(Number(claim.amount_fen)).toBe(costFen);
          expect(claim.reference).toMatch(card ? new RegExp(serial!) : /^request kameng-/);
        } else {
          expect(claim).toBeUndefined();
        }
        if (decision === 'reject') {
          const { body } = await call(r, 'GET', `/api/v1/complaints/${key}`);
          expect(body.complaint.reason).toMatch(/supplier shows it delivered/);
        }
        // the reseller is told, signed, once
        const told = await until('the callback', async () => received.find((b) => b.complaintId === key));
        expect(told).toMatchObject({ type: 'complaint', resellerOrderId, status: status.toUpperCase() });
        expect(JSON.stringify(told)).not.toMatch(/CODE-/);
        const audit = await h.db('audit_log').where({ subject_type: 'complaint', subject_id: String(row.id) }).first();
        expect(audit.action).toBe(`complaint.${decision}`);
        expect(Number(audit.actor_user_id)).toBe(ops.userId);
        // a second decision changes nothing
        await expect(service.decide(Number(row.id), { actor: ops, decision: 'refund', reason: 'once more' })).rejects.toThrow(/already/);
      });
    }
  }
});

describe('refunds never exceed the charge', () => {
  it('refuses a refund above what the complaint may refund and keeps the complaint open', async () => {
    const r = await reseller();
    const sku = await stockedCardSku(1);
    const { resellerOrderId, order } = await cardOrder(r, sku);
    world.sim.supplier(CARDS).codeVerdicts.set(order.codes[0].serial, 'used');
    const key = uniq('cmp');
    await call(r, 'POST', `/api/v1/orders/${resellerOrderId}/complaints`, { complaintId: key, kind: 'used_code', note: '' });
    const row = await verified(r, key);
    await expect(service.decide(Number(row.id), { actor: ops, decision: 'refund', reason: 'too much', amountFen: 9_801 })).rejects.toThrow(/exceeds what this complaint may refund \(9800 fen/);
    expect((await complaintRow(r, key)).status).toBe('open');
    const state = await service.decide(Number(row.id), { actor: ops, decision: 'refund', reason: 'partial goodwill', amountFen: 5_000 });
    expect(state.status).toBe('refunded');
    expect(Number((await complaintRow(r, key)).refund_fen)).toBe(5_000);
  });

  it('a viewer may not decide', async () => {
    const viewer = await userActor(h.db, 'viewer');
    await expect(service.decide(1, { actor: viewer, decision: 'reject', reason: 'not mine' })).rejects.toThrow(/may not act on fulfillment/);
  });
});

describe('SLA', () => {
  it('escalates a complaint nobody decided to the ops queue when the first-response and then the resolution deadline pass', async () => {
    const r = await reseller();
    const sku = await stockedCardSku(1);
    const { resellerOrderId } = await cardOrder(r, sku);
    const key = uniq('cmp');
    await call(r, 'POST', `/api/v1/orders/${resellerOrderId}/complaints`, { complaintId: key, kind: 'invalid_code', note: '' });
    const first = await until('the first-response escalation', async () => {
      const row = await complaintRow(r, key);
      return row?.escalation && row;
    }, 15_000);
    expect(first.escalation).toBe('first_response');
    const second = await until('the resolution escalation', async () => {
      const row = await complaintRow(r, key);
      return row?.escalation === 'resolution' && row;
    }, 15_000);
    const timeline = await complaints.timeline(h.db, Number(second.id));
    expect(timeline.map((e) => e.kind)).toEqual(['filed', 'supplier_answer', 'escalated', 'escalated']);
    expect((await complaintRow(r, key)).status).toBe('open');
    await service.decide(Number(second.id), { actor: ops, decision: 'reject', reason: 'the code was fine' });
  });
});

describe('supplier claims', () => {
  it("a claim from a used code is netted off the supplier's next payout, once", async () => {
    const r = await reseller();
    const sku = await stockedCardSku(2);
    const { resellerOrderId, order } = await cardOrder(r, sku);
    world.sim.supplier(CARDS).codeVerdicts.set(order.codes[0].serial, 'used');
    const key = uniq('cmp');
    await call(r, 'POST', `/api/v1/orders/${resellerOrderId}/complaints`, { complaintId: key, kind: 'used_code', note: '' });
    const row = await verified(r, key);
    await service.decide(Number(row.id), { actor: ops, decision: 'replace', reason: 'supplier says used' });
    const claim = await claimOf(Number(row.id));
    expect(claim.status).toBe('open');

    const payouts = new Payouts(h.db, h.ledger);
    const drafter = await userActor(h.db, 'finance');
    const approver = await userActor(h.db, 'finance');
    // every open claim of this supplier (the matrix above raised some too) is netted in its line
    const open = await h.db('supplier_claims').where({ supplier_id: world.suppliers[CARDS]!.id, status: 'open' }).sum('amount_fen as fen');
    const today = businessDateOf(new Date());
    const batch = await payouts.draft({ from: today, to: today, actor: drafter, suppliers: [CARDS] });
    const line = batch.lines.find((l) => l.supplierCode === CARDS)!;
    expect(line.claimsFen).toBe(Number(open[0]!.fen));
    expect(line.amountFen).toBe(line.payableFen - line.claimsFen);
    await payouts.approve(batch.id, approver);
    expect((await claimOf(Number(row.id))).status).toBe('netted');
    // the next payout does not net it again
    const next = await h.db('supplier_claims').where({ supplier_id: world.suppliers[CARDS]!.id, status: 'open' }).count('* as n');
    expect(Number(next[0]!.n)).toBe(0);
  });
});

describe('ops on a card order', () => {
  it('`ops refund` on a card order points to after-sales instead of a missing workflow', async () => {
    const r = await reseller();
    const sku = await stockedCardSku(1);
    const { order } = await cardOrder(r, sku);
    await expect(applyOpsAction(h.client, order.orderNo, opsActionFrom('refund', { actor: ops, reason: 'bad code' }), { db: h.db })).rejects.toThrow(/after-sales/);
  });
});

describe('support tools', () => {
  it("exports the supplier's claims with serials and references, finds an order by serial (serials, never codes) and counts complaints per supplier", async () => {
    const r = await reseller();
    const sku = await stockedCardSku(2);
    const { resellerOrderId, order } = await cardOrder(r, sku);
    const serial = order.codes[0].serial;
    world.sim.supplier(CARDS).codeVerdicts.set(serial, 'invalid');
    const key = uniq('cmp');
    await call(r, 'POST', `/api/v1/orders/${resellerOrderId}/complaints`, { complaintId: key, kind: 'invalid_code', note: '' });
    const row = await verified(r, key);
    await service.decide(Number(row.id), { actor: ops, decision: 'refund', reason: 'supplier says invalid' });

    const lines = await supplierClaims(h.db, { supplier: CARDS, status: 'open' });
    const mine = lines.find((l) => l.complaintKey === key)!;
    expect(mine).toMatchObject({ source: 'complaint', amountFen: 9_000, resellerOrderId });
    expect(mine.reference).toContain(serial);
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c) => chunks.push(c));
    await exportClaims(lines, out, 'csv');
    const csv = Buffer.concat(chunks).toString('utf8');
    expect(csv).toMatch(/^\uFEFF索赔号 Claim,/);
    expect(csv).toContain(serial);
    expect(csv).toContain('90.00');

    const found = await searchOrders(h.db, serial);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ resellerOrderId, codes: [{ serial, supplier: CARDS }], complaints: [{ complaintId: key, status: 'refunded' }] });
    expect(JSON.stringify(found)).not.toContain('CODE-');
    expect((await searchOrders(h.db, resellerOrderId))[0]?.id).toBe(found[0]!.id);

    // per supplier: over the codes received in its batches (and its completed top-ups, once rolled up)
    const rates = await complaintRates(h.db, 'supplier');
    const cards = rates.find((x) => x.key === CARDS)!;
    const received = await h.db('card_batches').where({ supplier_id: world.suppliers[CARDS]!.id }).sum('code_count as n');
    expect(cards.delivered).toBe(Number(received[0]!.n));
    expect(cards.complaints).toBe(Number((await h.db('complaints').where({ supplier_id: world.suppliers[CARDS]!.id }).count('* as n'))[0]!.n));
    expect(cards.rate).toBeCloseTo(cards.complaints / cards.delivered);
    // per SKU: today's orders are not rolled up yet
    expect((await complaintRates(h.db, 'sku')).find((x) => x.key === sku)).toMatchObject({ complaints: 1, upheld: 1 });
  });

  it('refuses to replace when no code is left in stock, and the complaint stays open for a refund', async () => {
    const r = await reseller();
    const sku = await stockedCardSku(1);
    const { resellerOrderId } = await cardOrder(r, sku);
    const key = uniq('cmp');
    await call(r, 'POST', `/api/v1/orders/${resellerOrderId}/complaints`, { complaintId: key, kind: 'used_code', note: '' });
    const row = await verified(r, key);
    await expect(service.decide(Number(row.id), { actor: ops, decision: 'replace', reason: 'try it' })).rejects.toThrow(/no code of .* is in stock/);
    expect((await complaintRow(r, key)).status).toBe('open');
    expect((await service.decide(Number(row.id), { actor: ops, decision: 'refund', reason: 'no stock, refund' })).status).toBe('refunded');
  });
});

describe('the books', () => {
  it('every invariant holds, the after-sales ones included', async () => {
    const report = await checkInvariants(h.db);
    const broken = report.results.filter((x) => x.violations > 0).map((x) => `${x.invariant.id}: ${x.samples.join('; ')}`);
    expect(broken).toEqual([]);
    const ids = report.results.map((x) => x.invariant.id);
    expect(ids).toEqual(expect.arrayContaining(['complaint_one_money_outcome', 'complaint_refunds_within_charge', 'replaced_code_counted_once', 'claims_netted_once']));
  });

  it('reports each kind of after-sales breakage planted behind the application: a refund unlike its entry or above the charge, a replaced code back in its order, a claim netted without a payout', async () => {
    const verdict = async (id: string) => (await checkInvariants(h.db)).results.find((x) => x.invariant.id === id)!;
    const refunded = await h.db('complaints').where({ status: 'refunded' }).first();
    const replaced = await h.db('complaints').where({ status: 'replaced' }).first();
    const claim = await h.db('supplier_claims').where({ source: 'complaint', status: 'open' }).first();
    const plantAndUndo = async (plant: () => Promise<unknown>, undo: () => Promise<unknown>, ids: string[]) => {
      await plant();
      try {
        for (const id of ids) {
          const v = await verdict(id);
          expect(v.violations, id).toBeGreaterThan(0);
          expect(v.samples.join(' '), id).toMatch(/complaint|order|claim/);
        }
      } finally {
        await undo();
      }
    };
    await plantAndUndo(
      () => h.ownerDb('complaints').where({ id: refunded.id }).update({ refund_fen: 99_999 }),
      () => h.ownerDb('complaints').where({ id: refunded.id }).update({ refund_fen: refunded.refund_fen }),
      ['complaint_one_money_outcome', 'complaint_refunds_within_charge'],
    );
    await plantAndUndo(
      () => h.ownerDb.transaction(async (trx) => {
        await trx('card_codes').where({ id: replaced.replacement_code_id }).update({ status: 'void', order_id: null });
        await trx('card_codes').where({ id: replaced.code_id }).update({ status: 'delivered', order_id: replaced.order_id });
      }),
      () => h.ownerDb.transaction(async (trx) => {
        await trx('card_codes').where({ id: replaced.code_id }).update({ status: 'void', order_id: null });
        await trx('card_codes').where({ id: replaced.replacement_code_id }).update({ status: 'delivered', order_id: replaced.order_id });
      }),
      ['replaced_code_counted_once'],
    );
    await plantAndUndo(
      () => h.ownerDb('supplier_claims').where({ id: claim.id }).update({ status: 'netted' }),
      () => h.ownerDb('supplier_claims').where({ id: claim.id }).update({ status: 'open' }),
      ['claims_netted_once'],
    );
    expect((await checkInvariants(h.db)).violations).toBe(0);
  });
});
