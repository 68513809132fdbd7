import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountApis } from '../src/api/mount.ts';
import { accountCode } from '../src/ledger/accounts.ts';
import { signedHeaders } from '../src/resellers/signature.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';
import { cardSku } from './support/world.ts';

/**
 * Whatever a reseller's system sends, the API answers with a stable JSON error code (never a 500)
 * and a refused request writes nothing: no order, no ledger entry, no burnt nonce if it is forged.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
let h: Harness;
let server: http.Server;
let port: number;
let credentials: { apiKey: string; apiSecret: string };
let resellerId = 0;
let sku = '';
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

beforeAll(async () => {
  h = await openHarness({ worker: false });
  await h.ledger.openPlatformAccounts();
  sku = (await cardSku(h, '腾讯', { threshold: 0, batch: 0 })).code;
  // An empty wallet: an order that gets through validation is refused for funds, so none is written.
  const created = await h.deps.resellers.create({ code: uniq('fuzz'), name: '模糊测试 Fuzz shop' });
  resellerId = created.reseller.id;
  credentials = { apiKey: created.reseller.apiKey, apiSecret: created.apiSecret };
  const app = express();
  mountApis(app, h.deps, h.client, { fulfillment: h.taskQueue, procurement: h.taskQueue });
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  agent.destroy();
  server.close();
  await h.close();
});

function send(method: string, path: string, headers: Record<string, string>, body: Buffer | string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode!, json: JSON.parse(text) });
        } catch {
          reject(new Error(`not JSON (${res.statusCode}): ${text.slice(0, 200)}`));
        }
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function footprint() {
  const [orders] = await h.db('orders').where({ reseller_id: resellerId }).count<{ n: number }[]>('* as n');
  const [nonces] = await h.db('api_nonces').where({ reseller_id: resellerId }).count<{ n: number }[]>('* as n');
  const [entries] = await h.db('ledger_postings as p').join('ledger_accounts as a', 'a.id', 'p.account_id').where('a.code', accountCode.resellerWallet(resellerId)).count<{ n: number }[]>('* as n');
  return { orders: Number(orders!.n), nonces: Number(nonces!.n), postings: Number(entries!.n) };
}

const STABLE_CODES = new Set(['VALIDATION_ERROR', 'MALFORMED_JSON', 'UNKNOWN_SKU', 'INSUFFICIENT_FUNDS', 'OUT_OF_STOCK', 'BODY_TOO_LARGE', 'IDEMPOTENCY_CONFLICT']);

// Orders as a buggy or hostile client might write them: right shape, wrong types and values.
const orderish = fc.record({
  resellerOrderId: fc.oneof(fc.string({ maxLength: 80 }), fc.integer(), fc.constant(null), fc.constant('ok-1')),
  sku: fc.oneof(fc.constantFrom('NOPE', 'qq-100', ''), fc.string({ maxLength: 20 }), fc.integer(), fc.constant(undefined)),
  quantity: fc.oneof(fc.integer({ min: -5, max: 200 }), fc.double(), fc.string({ maxLength: 4 }), fc.constant(null), fc.constant(1)),
  account: fc.oneof(fc.string({ maxLength: 30 }), fc.integer(), fc.constant(undefined)),
}, { requiredKeys: [] });
const body = fc.oneof(
  { weight: 6, arbitrary: orderish.map((o) => JSON.stringify(o)) },
  { weight: 2, arbitrary: fc.json() },
  { weight: 2, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')) },
  { weight: 1, arbitrary: fc.constant('{"resellerOrderId":"x","sku":"') },
);

describe('the reseller API under fuzz', () => {
  it(`answers ${RUNS} correctly signed requests with arbitrary bodies with a stable 4xx code, writing nothing`, async () => {
    const before = await footprint();
    let signed = 0;
    await fc.assert(fc.asyncProperty(body, fc.boolean(), async (text, knownSku) => {
      const payload = knownSku ? text.replace(/"sku":"[^"]*"/, `"sku":"${sku}"`) : text;
      const res = await send('POST', '/api/v1/orders', signedHeaders(credentials, 'POST', '/api/v1/orders', payload), payload);
      signed++;
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(STABLE_CODES).toContain(res.json.error.code);
      expect(typeof res.json.error.message).toBe('string');
    }), { numRuns: RUNS });
    const after = await footprint();
    expect(after.orders).toBe(before.orders);
    expect(after.postings).toBe(before.postings);
    expect(after.nonces).toBe(before.nonces + signed);
  });

  it('refuses a body over 64 KB with 413 before reading it', async () => {
    const huge = JSON.stringify({ resellerOrderId: 'big', sku, quantity: 1, pad: 'x'.repeat(70_000) });
    const res = await send('POST', '/api/v1/orders', signedHeaders(credentials, 'POST', '/api/v1/orders', huge), huge);
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe('BODY_TOO_LARGE');
  });

  it(`refuses ${RUNS} forged, stale or replayed requests with 401/409 and burns no nonce`, async () => {
    const replayBody = '';
    const original = signedHeaders(credentials, 'GET', '/api/v1/balance', replayBody);
    expect((await send('GET', '/api/v1/balance', original, replayBody)).status).toBe(200);
    const before = await footprint();
    const tamper = fc.oneof(
      fc.record({ kind: fc.constant('signature' as const), at: fc.nat(), char: fc.constantFrom('0', 'f', 'Z', '') }),
      fc.record({ kind: fc.constant('timestamp' as const), skewMs: fc.oneof(fc.integer({ min: 301_000, max: 10 ** 9 }), fc.integer({ min: -(10 ** 9), max: -301_000 })) }),
      fc.record({ kind: fc.constant('key' as const), key: fc.string({ maxLength: 30 }) }),
      fc.record({ kind: fc.constant('body' as const), extra: fc.string({ minLength: 1, maxLength: 20 }) }),
      fc.record({ kind: fc.constant('path' as const), path: fc.constantFrom('/api/v1/skus', '/api/v1/orders/x') }),
      fc.record({ kind: fc.constant('replay' as const) }),
      fc.record({ kind: fc.constant('missing' as const), header: fc.constantFrom('x-kameng-key', 'x-kameng-timestamp', 'x-kameng-nonce', 'x-kameng-signature') }),
    );
    await fc.assert(fc.asyncProperty(tamper, async (t) => {
      const payload = '{"resellerOrderId":"t","sku":"X","quantity":1}';
      let method = 'POST';
      let path = '/api/v1/orders';
      let sent = payload;
      let headers = signedHeaders(credentials, 'POST', '/api/v1/orders', payload, t.kind === 'timestamp' ? Date.now() + t.skewMs : Date.now());
      const sigHeader = Object.keys(headers).find((k) => k.endsWith('signature'))!;
      if (t.kind === 'signature') {
        const sig = headers[sigHeader]!;
        const at = t.at % sig.length;
        const changed = sig.slice(0, at) + t.char + sig.slice(at + 1);
        headers = { ...headers, [sigHeader]: changed === sig ? `${sig}0` : changed };
      } else if (t.kind === 'key') headers = { ...headers, 'x-kameng-key': t.key === credentials.apiKey ? `${t.key}x` : t.key };
      else if (t.kind === 'body') sent = payload + t.extra;
      else if (t.kind === 'path') path = t.path;
      else if (t.kind === 'replay') {
        method = 'GET';
        path = '/api/v1/balance';
        sent = replayBody;
        headers = original;
      } else if (t.kind === 'missing') {
        const { [t.header]: _dropped, ...rest } = headers;
        headers = rest;
      }
      const res = await send(method, path, headers, sent);
      expect([401, 409]).toContain(res.status);
      expect(['MISSING_SIGNATURE', 'UNKNOWN_API_KEY', 'STALE_TIMESTAMP', 'BAD_SIGNATURE', 'REPLAYED_NONCE']).toContain(res.json.error.code);
    }), { numRuns: RUNS });
    expect(await footprint()).toEqual(before);
  });
});
