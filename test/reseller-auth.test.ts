import { randomBytes } from 'node:crypto';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resellerApi } from '../src/api/reseller-api.ts';
import { RequestAuthenticator } from '../src/resellers/authenticate.ts';
import { ResellerRegistry } from '../src/resellers/registry.ts';
import { signedHeaders } from '../src/resellers/signature.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';

let h: Harness;
let registry: ResellerRegistry;
let baseUrl: string;
let server: ReturnType<express.Express['listen']>;
let credentials: { apiKey: string; apiSecret: string };
let resellerId: number;

beforeAll(async () => {
  h = await openHarness({ worker: false });
  await h.ledger.openPlatformAccounts();
  registry = new ResellerRegistry(h.db, h.ledger, randomBytes(32));
  const created = await registry.create({ code: uniq('shop'), name: '测试小店 Test shop' });
  credentials = { apiKey: created.reseller.apiKey, apiSecret: created.apiSecret };
  resellerId = created.reseller.id;
  await registry.topUpWallet(resellerId, 12_345, 'bank-transfer-1');
  const app = express();
  app.use('/api/v1', resellerApi({
    auth: new RequestAuthenticator(h.db, registry),
    orders: {
      placeOrder: async () => ({ order: { ok: true }, replayed: false }),
      getOrder: async () => ({}),
      balance: async (r) => ({ balanceFen: await registry.walletBalance(r.id), currency: 'CNY' }),
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

async function call(method: string, path: string, body = '', headers?: Record<string, string>) {
  const res = await fetch(`${baseUrl}${path}`, {
    method, body: method === 'GET' ? undefined : body, headers: headers ?? signedHeaders(credentials, method, path, body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

describe('signed reseller API requests', () => {
  it('accepts a correctly signed request and answers with the wallet balance in fen', async () => {
    const res = await call('GET', '/api/v1/balance');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ balanceFen: 12_345, currency: 'CNY' });
  });

  it('refuses a request whose body was changed after signing', async () => {
    const headers = signedHeaders(credentials, 'POST', '/api/v1/orders', '{"sku":"A","resellerOrderId":"1"}');
    const res = await call('POST', '/api/v1/orders', '{"sku":"B","resellerOrderId":"1"}', headers);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('BAD_SIGNATURE');
  });

  it('refuses a signature made with another secret', async () => {
    const res = await call('GET', '/api/v1/balance', '', signedHeaders({ ...credentials, apiSecret: 'guessed' }, 'GET', '/api/v1/balance', ''));
    expect(res.body.error.code).toBe('BAD_SIGNATURE');
  });

  it('refuses a replayed request (same nonce), even when correctly signed', async () => {
    const headers = signedHeaders(credentials, 'GET', '/api/v1/balance', '');
    expect((await call('GET', '/api/v1/balance', '', headers)).status).toBe(200);
    const replay = await call('GET', '/api/v1/balance', '', headers);
    expect(replay.status).toBe(409);
    expect(replay.body.error.code).toBe('REPLAYED_NONCE');
  });

  it('refuses a request older than five minutes', async () => {
    const old = signedHeaders(credentials, 'GET', '/api/v1/balance', '', Date.now() - 5 * 60 * 1000 - 1000);
    const res = await call('GET', '/api/v1/balance', '', old);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('STALE_TIMESTAMP');
  });

  it('refuses an unknown key and missing headers, saying which', async () => {
    const unknown = await call('GET', '/api/v1/balance', '', signedHeaders({ apiKey: 'rk_nobody', apiSecret: 'x' }, 'GET', '/api/v1/balance', ''));
    expect(unknown.body.error.code).toBe('UNKNOWN_API_KEY');
    const bare = await call('GET', '/api/v1/balance', '', {});
    expect(bare.status).toBe(401);
    expect(bare.body.error.message).toMatch(/missing header\(s\): x-kameng-key, x-kameng-timestamp, x-kameng-nonce, x-kameng-signature/);
  });

  it('does not burn a nonce for a forged request', async () => {
    const nonce = `n${randomBytes(8).toString('hex')}`;
    const forged = signedHeaders({ ...credentials, apiSecret: 'wrong' }, 'GET', '/api/v1/balance', '', Date.now(), nonce);
    expect((await call('GET', '/api/v1/balance', '', forged)).body.error.code).toBe('BAD_SIGNATURE');
    const genuine = signedHeaders(credentials, 'GET', '/api/v1/balance', '', Date.now(), nonce);
    expect((await call('GET', '/api/v1/balance', '', genuine)).status).toBe(200);
  });

  it('answers malformed JSON with a clear 400 and an oversized body with 413', async () => {
    const bad = await call('POST', '/api/v1/orders', '{"sku":');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('MALFORMED_JSON');
    const huge = 'x'.repeat(70 * 1024);
    const big = await call('POST', '/api/v1/orders', huge);
    expect(big.status).toBe(413);
  });

  it('refuses a suspended reseller', async () => {
    await registry.setStatus(resellerId, 'suspended');
    try {
      const res = await call('GET', '/api/v1/balance');
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('RESELLER_SUSPENDED');
    } finally {
      await registry.setStatus(resellerId, 'active');
    }
  });

  it('keeps the API secret sealed at rest', async () => {
    const row = await h.db('resellers').where({ id: resellerId }).first();
    expect(row.api_secret_sealed.toString('latin1')).not.toContain(credentials.apiSecret);
    expect(JSON.stringify(row)).not.toContain(credentials.apiSecret);
  });

  it('makes a wallet top-up idempotent by its reference', async () => {
    const again = await registry.topUpWallet(resellerId, 12_345, 'bank-transfer-1');
    expect(again.created).toBe(false);
    expect(await registry.walletBalance(resellerId)).toBe(12_345);
  });
});
