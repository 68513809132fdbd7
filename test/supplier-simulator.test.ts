import http from 'node:http';
import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSupplierSimulator, type SupplierSimulator } from '../fixtures/supplier-simulator/server.ts';
import type { SimSupplierConfig } from '../fixtures/supplier-simulator/types.ts';
import { businessDateOf } from '../src/dates.ts';
import { SupplierClient, SupplierRejectedError, SupplierUnavailableError } from '../src/supplier-api/client.ts';

const base = (code: string, format: SimSupplierConfig['statementFormat']): SimSupplierConfig => ({
  code, name: code, apiKey: `${code}-key`, callbackSecret: `${code}-secret`, balanceFen: 1_000_000, statementFormat: format,
  products: [{ sku: 'CARD-1', costFen: 900, kind: 'card_batch' }, { sku: 'TOPUP-50', costFen: 4_900, kind: 'topup' }],
  // today's statement, before the day ends
  behaviour: { statementsBeforeDayEnd: true },
});

let sim: SupplierSimulator;
let receiver: http.Server;
let callbackUrl: string;
const callbacks: { body: string; signature: string; timestamp: string }[] = [];
const client = (code: string, timeoutMs = 2000) => new SupplierClient({ baseUrl: sim.baseUrl(code), apiKey: `${code}-key`, timeoutMs });

beforeAll(async () => {
  sim = await startSupplierSimulator({ suppliers: [base('alpha', 'csv'), base('beta', 'csv-gbk'), base('gamma', 'xlsx')], seed: 7 });
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => { callbacks.push({ body, signature: String(req.headers['x-signature']), timestamp: String(req.headers['x-timestamp']) }); res.writeHead(200).end(); });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/cb`;
});
afterAll(async () => {
  await sim.stop();
  receiver.close();
});

const waitFor = async (what: () => boolean, ms = 3000) => {
  const until = Date.now() + ms;
  while (!what()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('supplier simulator', () => {
  it('places an order once per request id, charging once', async () => {
    const before = await client('alpha').balance();
    const a = await client('alpha').placeOrder({ requestId: 'r-1', sku: 'CARD-1', kind: 'card_batch', quantity: 3 });
    const b = await client('alpha').placeOrder({ requestId: 'r-1', sku: 'CARD-1', kind: 'card_batch', quantity: 3 });
    expect(b.supplierOrderId).toBe(a.supplierOrderId);
    expect(await client('alpha').balance()).toBe(before - 2_700);
  });

  it('delivers unique codes for a card batch once it succeeds', async () => {
    const a = await client('alpha').placeOrder({ requestId: 'r-2', sku: 'CARD-1', kind: 'card_batch', quantity: 50 });
    await waitFor(() => sim.supplier('alpha').orders.get('r-2')!.status === 'SUCCESS');
    const b = await client('alpha').placeOrder({ requestId: 'r-3', sku: 'CARD-1', kind: 'card_batch', quantity: 50 });
    await waitFor(() => sim.supplier('alpha').orders.get('r-3')!.status === 'SUCCESS');
    const codes = [...(await client('alpha').deliveredCodes(a.supplierOrderId)), ...(await client('alpha').deliveredCodes(b.supplierOrderId))];
    expect(new Set(codes.map((c) => c.code)).size).toBe(100);
    expect(codes[0]!.serial).toMatch(/^\d{16}$/);
    expect(codes[0]!.code).toMatch(/^[A-Z2-9]{16}$/);
  });

  it('completes a top-up asynchronously and sends a callback we can verify', async () => {
    await client('alpha').placeOrder({ requestId: 'r-4', sku: 'TOPUP-50', kind: 'topup', quantity: 1, account: '13800138000', callbackUrl });
    await waitFor(() => callbacks.some((c) => c.body.includes('"r-4"')));
    const cb = callbacks.find((c) => c.body.includes('"r-4"'))!;
    expect(JSON.parse(cb.body)).toMatchObject({ requestId: 'r-4', status: 'SUCCESS' });
    expect(Math.abs(Number(cb.timestamp) - Date.now())).toBeLessThan(60_000);
    expect(cb.signature).toBe(createHmac('sha256', 'alpha-secret').update(`${cb.timestamp}\n${cb.body}`).digest('hex'));
  });

  it('still answers a status query when the callback is lost, and can send duplicates', async () => {
    sim.configure('alpha', { lostCallbackRate: 1 });
    await client('alpha').placeOrder({ requestId: 'r-5', sku: 'TOPUP-50', kind: 'topup', account: '13800138000', quantity: 1, callbackUrl });
    await waitFor(() => sim.supplier('alpha').orders.get('r-5')!.status === 'SUCCESS');
    expect((await client('alpha').orderByRequestId('r-5'))!.status).toBe('SUCCESS');
    expect(callbacks.some((c) => c.body.includes('"r-5"'))).toBe(false);
    sim.configure('alpha', { lostCallbackRate: 0, duplicateCallbackRate: 1 });
    await client('alpha').placeOrder({ requestId: 'r-6', sku: 'TOPUP-50', kind: 'topup', account: '13800138000', quantity: 1, callbackUrl });
    await waitFor(() => callbacks.filter((c) => c.body.includes('"r-6"')).length === 2);
    sim.configure('alpha', { duplicateCallbackRate: 0 });
  });

  it('takes an order even when the caller times out, as real suppliers do', async () => {
    sim.configure('alpha', { timeoutRate: 1, hangMs: 1000 });
    await expect(client('alpha', 200).placeOrder({ requestId: 'r-7', sku: 'CARD-1', kind: 'card_batch', quantity: 1 })).rejects.toThrow(SupplierUnavailableError);
    sim.configure('alpha', { timeoutRate: 0 });
    expect(await client('alpha').orderByRequestId('r-7')).toMatchObject({ requestId: 'r-7' });
  });

  it('refuses unknown products, a wrong key, and failing moods with the right error kinds', async () => {
    await expect(client('alpha').placeOrder({ requestId: 'r-8', sku: 'NOPE', kind: 'card_batch', quantity: 1 })).rejects.toThrow(SupplierRejectedError);
    await expect(new SupplierClient({ baseUrl: sim.baseUrl('alpha'), apiKey: 'wrong' }).balance()).rejects.toThrow(/UNAUTHORIZED/);
    sim.configure('alpha', { errorRate: 1 });
    await expect(client('alpha').balance()).rejects.toThrow(SupplierUnavailableError);
    sim.configure('alpha', { errorRate: 0 });
  });

  it('writes statements as UTF-8 CSV, GBK CSV with Chinese headers, and XLSX', async () => {
    const today = businessDateOf(new Date());
    for (const code of ['beta', 'gamma']) {
      await client(code).placeOrder({ requestId: `${code}-1`, sku: 'CARD-1', kind: 'card_batch', quantity: 1 });
      await waitFor(() => sim.supplier(code).orders.get(`${code}-1`)!.status === 'SUCCESS');
    }
    const csv = (await client('alpha').statement(today)).body.toString('utf8');
    expect(csv.split('\r\n')[0]).toBe('supplier_txn_id,merchant_order_no,sku,quantity,amount,status,completed_at');
    expect(csv).toContain(',r-1,CARD-1,3,27.00,SUCCESS,');
    const gbk = iconv.decode((await client('beta').statement(today)).body, 'gbk');
    expect(gbk.split('\r\n')[0]).toBe('订单号,商户订单号,商品编码,数量,金额(元),状态,完成时间');
    expect(gbk).toContain(',beta-1,CARD-1,1,9.00,成功,');
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load((await client('gamma').statement(today)).body as never);
    expect(wb.worksheets[0]!.getRow(2).getCell(2).value).toBe('gamma-1');
  });

  it('publishes a day\'s statement only after the day ends, like a real supplier', async () => {
    const today = businessDateOf(new Date());
    sim.configure('alpha', { statementsBeforeDayEnd: false });
    await expect(client('alpha').statement(today)).rejects.toThrow(/STATEMENT_NOT_READY/);
    sim.configure('alpha', { statementsBeforeDayEnd: true, statementNotReadyResponses: 1 });
    await expect(client('alpha').statement(today)).rejects.toThrow(/not published yet/);
    expect((await client('alpha').statement(today)).body.length).toBeGreaterThan(0);
  });

  it('plants the discrepancies it is told to, and says which', async () => {
    const sup = sim.supplier('alpha');
    for (let i = 0; i < 12; i++) {
      sup.place({ requestId: `p-${i}`, sku: 'TOPUP-50', kind: 'topup', account: '13900000000', quantity: 1 });
      sup.complete(sup.orders.get(`p-${i}`)!, 'SUCCESS', new Date(Date.UTC(2026, 9, 1, 4, i)));
    }
    sim.plant('alpha', '2026-10-01', { amountMismatch: 1, statusFlip: 1, extraLines: 1, omitted: 1, duplicated: 1, crossMidnight: 1, oneToMany: 1 });
    const { statements } = await import('../fixtures/supplier-simulator/index.ts');
    const { planted, lines } = statements.buildStatement(sup, '2026-10-01');
    expect(planted.map((p) => p.kind).sort()).toEqual(['amountMismatch', 'crossMidnight', 'duplicated', 'extraLines', 'omitted', 'oneToMany', 'statusFlip']);
    expect(lines.filter((l) => l.merchantOrderNo.includes('|'))).toHaveLength(1);
    const next = statements.buildStatement(sup, '2026-10-02');
    const moved = planted.find((p) => p.kind === 'crossMidnight')!.requestIds[0]!;
    expect(next.lines.find((l) => l.merchantOrderNo === moved)!.completedAt).toBe('2026-10-02 00:00:01');
  });
});
