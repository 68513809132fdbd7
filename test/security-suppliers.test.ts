import { createHmac } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { supplierCallbacks } from '../src/api/supplier-callbacks.ts';
import { open } from '../src/crypto/sealed-box.ts';
import { recordPlacement } from '../src/supplier-api/transactions.ts';
import type { Supplier } from '../src/suppliers/registry.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';

let h: Harness;
let server: Server;
let url: string;
let supplier: Supplier;
const logged: string[] = [];
const SECRET = 'cb-secret-of-the-supplier';

beforeAll(async () => {
  h = await openHarness({ worker: false });
  supplier = await h.deps.suppliers.upsert({ code: uniq('sec').toLowerCase(), name: '安全供应商', apiBaseUrl: 'http://127.0.0.1:1', apiKey: 'the-api-key-123', callbackSecret: SECRET });
  const app = express();
  app.use('/callbacks/suppliers', supplierCallbacks({ db: h.db, suppliers: h.deps.suppliers, temporal: h.client, log: (line) => logged.push(line) }));
  server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callbacks/suppliers/${supplier.code}`;
}, 60_000);
afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await h?.close();
});

async function placed(): Promise<string> {
  const requestId = uniq('req');
  await recordPlacement(h.db, { requestId, supplierId: supplier.id, kind: 'topup', skuCode: 'X', supplierSku: 'X', quantity: 1, costFen: 100 });
  return requestId;
}

const signed = (body: string, timestamp = String(Date.now()), secret = SECRET) =>
  ({ 'content-type': 'application/json', 'x-timestamp': timestamp, 'x-signature': createHmac('sha256', secret).update(`${timestamp}\n${body}`).digest('hex') });

const post = async (headers: Record<string, string>, body: string) => {
  const res = await fetch(url, { method: 'POST', headers, body });
  return { status: res.status, body: (await res.json()) as { ok?: boolean; error?: { code: string } } };
};

const status = async (requestId: string) => (await h.db('supplier_transactions').where({ request_id: requestId }).first()).status as string;

describe('supplier callbacks: replay', () => {
  it('accepts a callback signed over a fresh timestamp and the body', async () => {
    const requestId = await placed();
    const body = JSON.stringify({ requestId, status: 'SUCCESS', supplierTxnId: 'T1' });
    expect(await post(signed(body), body)).toMatchObject({ status: 200, body: { ok: true } });
    expect(await status(requestId)).toBe('success');
  });

  it('refuses a signature over the body alone (the old scheme an attacker could replay forever)', async () => {
    const requestId = await placed();
    const body = JSON.stringify({ requestId, status: 'FAILED' });
    const bodyOnly = createHmac('sha256', SECRET).update(body).digest('hex');
    expect((await post({ 'content-type': 'application/json', 'x-signature': bodyOnly }, body)).body.error?.code).toBe('MISSING_TIMESTAMP');
    expect(await status(requestId)).toBe('processing');
  });

  it('refuses a correctly signed callback whose timestamp is outside the window, and logs it', async () => {
    const requestId = await placed();
    const body = JSON.stringify({ requestId, status: 'FAILED' });
    const stale = String(Date.now() - 6 * 60_000);
    expect(await post(signed(body, stale), body)).toMatchObject({ status: 401, body: { error: { code: 'STALE_TIMESTAMP' } } });
    expect(logged.at(-1)).toMatch(/outside the 5-minute window/);
    expect(await status(requestId)).toBe('processing');
  });

  it('refuses a captured callback whose timestamp was moved forward (the signature covers it)', async () => {
    const requestId = await placed();
    const body = JSON.stringify({ requestId, status: 'FAILED' });
    const captured = signed(body, String(Date.now() - 6 * 60_000));
    expect(await post({ ...captured, 'x-timestamp': String(Date.now()) }, body)).toMatchObject({ status: 401, body: { error: { code: 'BAD_SIGNATURE' } } });
    expect(await status(requestId)).toBe('processing');
  });

  it('refuses the same signed callback sent again: nothing changes, the replay is counted and logged', async () => {
    const requestId = await placed();
    const body = JSON.stringify({ requestId, status: 'SUCCESS', supplierTxnId: 'T2' });
    const headers = signed(body);
    expect((await post(headers, body)).status).toBe(200);
    const before = await h.db('supplier_transactions').where({ request_id: requestId }).first();
    const again = await post(headers, body);
    expect(again).toMatchObject({ status: 409, body: { error: { code: 'REPLAYED_CALLBACK' } } });
    expect(logged.at(-1)).toMatch(new RegExp(`replayed .* callback for ${requestId}`));
    expect(await h.db('supplier_transactions').where({ request_id: requestId }).first()).toEqual(before);
    const receipt = await h.db('supplier_callback_receipts').where({ supplier_id: supplier.id, request_id: requestId }).first();
    expect(receipt.replays).toBe(1);
  });

  it('refuses concurrent copies of one signed callback but one', async () => {
    const requestId = await placed();
    const body = JSON.stringify({ requestId, status: 'SUCCESS' });
    const headers = signed(body);
    const answers = await Promise.all(Array.from({ length: 8 }, () => post(headers, body)));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 409)).toHaveLength(7);
  });

  it('accepts the same result re-sent with a new signature (a supplier retry): a harmless duplicate', async () => {
    const requestId = await placed();
    const body = JSON.stringify({ requestId, status: 'SUCCESS' });
    expect((await post(signed(body, String(Date.now() - 1000)), body)).status).toBe(200);
    expect((await post(signed(body), body)).status).toBe(200);
    expect(await status(requestId)).toBe('success');
  });
});

describe('supplier credentials at rest', () => {
  it('stores neither the API key nor the callback secret in plain text', async () => {
    const row = await h.db('suppliers').where({ id: supplier.id }).first();
    expect(row.api_key).toBeNull();
    expect(row.callback_secret).toBeNull();
    expect(open(h.keys.supplierSecrets, row.api_key_sealed)).toBe('the-api-key-123');
    expect(open(h.keys.supplierSecrets, row.callback_secret_sealed)).toBe(SECRET);
    expect(JSON.stringify(row)).not.toContain('the-api-key-123');
  });

  it('seals rows stored in plain text before migration 016, once, at startup', async () => {
    const code = uniq('plain').toLowerCase();
    await h.db('suppliers').insert({ code, name: 'old', api_base_url: 'http://127.0.0.1:1', api_key: 'old-plain-key', callback_secret: 'old-plain-secret' });
    // readable before sealing, without exposing the plain value
    const before = await h.deps.suppliers.byCode(code);
    expect(h.deps.suppliers.callbackSecret(before)).toBe('old-plain-secret');
    expect(await h.deps.suppliers.sealPlainCredentials()).toBeGreaterThanOrEqual(1);
    expect(await h.deps.suppliers.sealPlainCredentials()).toBe(0);
    const row = await h.db('suppliers').where({ code }).first();
    expect([row.api_key, row.callback_secret]).toEqual([null, null]);
    expect(open(h.keys.supplierSecrets, row.api_key_sealed)).toBe('old-plain-key');
    expect(h.deps.suppliers.callbackSecret(await h.deps.suppliers.byCode(code))).toBe('old-plain-secret');
  });

  it('keeps credentials out of what is logged or serialised: Supplier values and the supplier client', async () => {
    const read = await h.deps.suppliers.byCode(supplier.code);
    const shown = [JSON.stringify(read), inspect(read, { depth: 5 }), JSON.stringify(await h.deps.suppliers.list()),
      inspect(h.deps.suppliers.client(read), { depth: 5, showHidden: true }), JSON.stringify(h.deps.suppliers.client(read))].join('\n');
    expect(shown).not.toContain('the-api-key-123');
    expect(shown).not.toContain(SECRET);
  });

  it('never puts a credential in an error from the supplier client', async () => {
    const err = await h.deps.suppliers.client(supplier, 500).balance().catch((e: Error) => e);
    expect(inspect(err, { depth: 5 })).not.toContain('the-api-key-123');
  });
});
