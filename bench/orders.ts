import { SYSTEM } from '../src/users/actor.ts';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import http, { type Server } from 'node:http';
import { parseArgs } from 'node:util';
import { Client } from '@temporalio/client';
import { connectTemporal } from '../src/runtime/temporal-connection.ts';
import express from 'express';
import { startSupplierSimulator } from '../fixtures/supplier-simulator/server.ts';
import { mountApis } from '../src/api/mount.ts';
import { loadConfig } from '../src/config.ts';
import { deriveKeys } from '../src/crypto/keys.ts';
import { createDb } from '../src/db/knex.ts';
import { importCardCodes } from '../src/inventory/import.ts';
import { againstAccount } from '../src/procurement/booking.ts';
import { accountCode } from '../src/ledger/accounts.ts';
import { signedHeaders } from '../src/resellers/signature.ts';
import { buildDeps } from '../src/runtime/deps.ts';
import { resolveTemporalCli } from '../src/runtime/temporal-cli.ts';
import { freePort, startTemporalDevServer } from '../src/runtime/temporal-dev-server.ts';
import { startWorkers } from '../src/runtime/worker.ts';
import { benchDatabase, serverVersion } from './support/database.ts';
import { closedLoop, fmt, percentile, timed } from './support/measure.ts';
import { topUpWorkflowId } from '../workflows/fulfill-topup.ts';

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** A reseller's client: keep-alive, headers and body in one write (undici's fetch adds 10-30 ms a request here). */
function post(port: number, path: string, body: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

type Phase = Awaited<ReturnType<typeof closedLoop>>;

/** Rounds of one phase as one: operations and seconds added up, CPU per operation weighted by them. */
function pooled(runs: Phase[]): Phase {
  const ops = runs.reduce((n, r) => n + r.ops, 0);
  const cpuKnown = runs.every((r) => r.cpuMsPerOp !== undefined);
  return {
    ops, seconds: runs.reduce((n, r) => n + r.seconds, 0), latenciesMs: runs.flatMap((r) => r.latenciesMs),
    cpuMsPerOp: cpuKnown && ops ? runs.reduce((n, r) => n + r.cpuMsPerOp! * r.ops, 0) / ops : undefined,
    ownCpuMsPerOp: ops ? runs.reduce((n, r) => n + (r.ownCpuMsPerOp ?? 0) * r.ops, 0) / ops : undefined,
  };
}

const cpu = (phase: Phase) => (phase.cpuMsPerOp === undefined ? ''
  : `; CPU per order ${fmt(phase.cpuMsPerOp, 2)} ms, of which ${fmt(phase.ownCpuMsPerOp ?? 0, 2)} ms in this Node process (clients, API, workers)`);

/**
 * Issue figures: card-code orders/s and p50/p99 over the signed HTTP API from 64 clients, next to a
 * bare SQL transaction doing the same allocation; zero double deliveries. Then direct top-up
 * workflows completed per second against the simulator, next to an empty one-activity workflow.
 */
export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { clients: { type: 'string', default: '64' }, seconds: { type: 'string', default: '8' }, rounds: { type: 'string', default: '3' }, topups: { type: 'string', default: '300' }, 'topup-rounds': { type: 'string', default: '2' } } });
  const clients = Number(values.clients);
  const rounds = Number(values.rounds);
  const seconds = Number(values.seconds);
  const topups = Number(values.topups);
  const topupRounds = Number(values['topup-rounds']);
  const config = loadConfig();
  const database = await benchDatabase('bench', { keep: process.env.BENCH_KEEP_DB });
  const db = createDb(database.url, { poolMax: 40 });
  const stops: (() => Promise<unknown>)[] = [() => database.stop(), () => db.destroy()];
  try {
    let address = config.temporal.address;
    if (!address) {
      const server = await startTemporalDevServer({ cliPath: await resolveTemporalCli({ explicitPath: config.temporal.cliPath, cacheDir: config.cacheDir }), port: await freePort(), namespace: 'default' });
      stops.unshift(server.stop);
      address = server.address;
    }
    const apiPort = await freePort();
    const deps = buildDeps(db, deriveKeys(randomBytes(32)), { stuckAfterMs: 600_000, pollIntervalMs: 1_000, supplierTimeoutMs: 5_000, publicUrl: `http://127.0.0.1:${apiPort}`, allowPrivateCallbacks: true },
      { archiveDir: path.join(os.tmpdir(), 'kameng-bench-statements'), windowMinutes: 10, statementPollMs: 60_000, statementWaitMs: 0 });
    const taskQueue = 'bench-orders';
    const workers = await startWorkers({ address, namespace: 'default', taskQueues: [taskQueue], deps });
    stops.unshift(() => workers.shutdown());
    const connection = await connectTemporal(address);
    stops.unshift(() => connection.close());
    const temporal = new Client({ connection });
    const sim = await startSupplierSimulator({ suppliers: [{ code: 'benchsup', name: 'bench', apiKey: 'k', callbackSecret: 'cb', balanceFen: 1e12, statementFormat: 'csv', products: [{ sku: 'B-TOPUP', costFen: 4_900, kind: 'topup' }] }] });
    sim.configure('benchsup', { latencyMs: 1, jitterMs: 1, asyncCompletionMs: 10 });
    stops.unshift(() => sim.stop());
    const app = express();
    mountApis(app, deps, temporal, { fulfillment: taskQueue, procurement: taskQueue });
    const server: Server = app.listen(apiPort, '127.0.0.1');
    stops.unshift(() => new Promise((r) => server.close(r)));

    console.log(`orders benchmark: ${clients} signed HTTP clients; ${rounds} rounds of ${seconds} s of bare SQL then ${seconds} s of HTTP; ${topupRounds} rounds of ${topups} direct top-ups then ${topups} empty workflows`);
    console.log(`database: ${database.where}; ${await serverVersion(db)}; Temporal at ${address}`);

    await deps.ledger.openPlatformAccounts();
    const cardSku = await deps.catalog.createSku({ code: 'BENCH-CARD', nameZh: '基准卡', nameEn: 'bench card', brand: 'bench', kind: 'card_code', faceValueFen: 1_000, lowStockThreshold: 0, procurementBatch: 0 });
    await deps.catalog.setPrice({ sku: cardSku.code, tier: 'default', priceFen: 980 });
    const stock = 200_000;
    async function* codes() {
      const salt = randomBytes(4).toString('hex');
      for (let i = 0; i < stock; i++) yield { line: i + 2, sku: cardSku.code, serial: `S${i}`, code: `${salt}-${i}`, expiresOn: '' };
    }
    await importCardCodes(db, deps.vault, {
      batchKey: 'bench', sku: cardSku.code, unitCostFen: 940, source: 'file', fileName: 'bench', rows: codes(),
      booking: againstAccount(deps.ledger, { key: 'card-import:bench', counter: 'adjustments', reason: 'benchmark stock', actor: SYSTEM }),
    });
    const shops: { id: number; credentials: { apiKey: string; apiSecret: string } }[] = [];
    for (let i = 0; i < clients; i++) {
      const { reseller, apiSecret } = await deps.resellers.create({ code: `bench-${i}`, name: `bench ${i}`, callbackUrl: undefined });
      await deps.resellers.topUpWallet(reseller.id, 1e10, 'bench');
      shops.push({ id: reseller.id, credentials: { apiKey: reseller.apiKey, apiSecret } });
    }

    // The floor: the same allocation and charge as one SQL transaction, no HTTP, no auth, no ORM.
    const bareRound = (round: number, forSeconds = seconds) => closedLoop(clients, forSeconds, async (c, i) => {
      const conn = await db.client.acquireConnection();
      try {
        await conn.query('BEGIN');
        const picked = await conn.query(
          `UPDATE card_codes SET status = 'delivered', order_id = $1, delivered_at = now()
            WHERE id = (SELECT id FROM card_codes WHERE sku_code = $2 AND status = 'available' ORDER BY expires_on, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id`,
          [-((round + 2) * 100_000_000 + c * 1_000_000 + i + 1), cardSku.code]);
        if (picked.rowCount !== 1) throw new Error('bench ran out of codes');
        await conn.query(
          `SELECT ledger_post($1, 'h', 'bench_sale', '', current_date, '{}', $2::text[], $3::bigint[], ARRAY['CNY','CNY','CNY','CNY'])`,
          [`bare:${round}:${c}:${i}`, [accountCode.resellerWallet(shops[c]!.id), accountCode.platform('revenue'), accountCode.platform('cost_of_goods'), accountCode.platform('inventory')], [980, -980, 940, -940]]);
        await conn.query('COMMIT');
      } finally {
        await db.client.releaseConnection(conn);
      }
    });

    const httpRound = (round: number, forSeconds = seconds) => closedLoop(clients, forSeconds, async (c, i) => {
      const body = JSON.stringify({ resellerOrderId: `h-${round}-${i}`, sku: cardSku.code });
      const res = await post(apiPort, '/api/v1/orders', body, signedHeaders(shops[c]!.credentials, 'POST', '/api/v1/orders', body));
      if (res.status !== 201) throw new Error(`order failed: ${res.status} ${res.text}`);
    });

    // Alternating rounds: this 2-core machine's speed drifts by a third between runs, and a ratio of
    // phases run minutes apart would mostly measure the drift.
    // Warm-up, not counted: every pool connection plans its statements and compiles the ledger's
    // functions once, which a server that has been running for a minute did long ago.
    await bareRound(-1, 2);
    await httpRound(-1, 2);
    const bareRuns: Awaited<ReturnType<typeof closedLoop>>[] = [];
    const httpRuns: typeof bareRuns = [];
    for (let round = 0; round < rounds; round++) {
      bareRuns.push(await bareRound(round));
      httpRuns.push(await httpRound(round));
      const [b, h] = [bareRuns.at(-1)!, httpRuns.at(-1)!];
      console.log(`round ${round + 1}/${rounds}: bare ${fmt(b.ops / b.seconds)} tx/s, HTTP ${fmt(h.ops / h.seconds)} orders/s (${fmt((h.ops / h.seconds / (b.ops / b.seconds)) * 100, 1)}%)`);
    }
    const bare = pooled(bareRuns);
    const http = pooled(httpRuns);

    const { rows: [check] } = await db.raw(`
      SELECT (SELECT count(*) FROM orders WHERE kind = 'card_code')::int AS orders,
             (SELECT count(*) FROM card_codes WHERE order_id > 0)::int AS codes,
             (SELECT count(*) FROM (SELECT order_id FROM card_codes WHERE order_id > 0 GROUP BY order_id HAVING count(*) > 1) d)::int AS doubled`);

    // Direct top-ups: HTTP order -> workflow -> supplier -> callback -> completion, all of them.
    const topupSku = await deps.catalog.createSku({ code: 'BENCH-TOPUP', nameZh: '基准直充', nameEn: 'bench top-up', brand: 'bench', kind: 'direct_topup', faceValueFen: 5_000, lowStockThreshold: 0, procurementBatch: 0 });
    await deps.catalog.setPrice({ sku: topupSku.code, tier: 'default', priceFen: 4_950 });
    const supplier = await deps.suppliers.upsert({ code: 'benchsup', name: 'bench', apiBaseUrl: sim.baseUrl('benchsup'), apiKey: 'k', callbackSecret: 'cb' });
    await deps.suppliers.addQualification({ supplierId: supplier.id, kind: 'business_licence', documentNo: 'x', validFrom: '2020-01-01', expiresOn: '2099-01-01' });
    await deps.suppliers.addQualification({ supplierId: supplier.id, kind: 'brand_authorisation', brand: 'bench', documentNo: 'y', validFrom: '2020-01-01', expiresOn: '2099-01-01' });
    await deps.suppliers.setOffer({ supplierId: supplier.id, sku: topupSku.code, supplierSku: 'B-TOPUP', costFen: 4_900 });
    // Alternating rounds again: top-ups, then as many empty workflows, and again.
    const topupRound = (round: number) => timed(async () => {
      const ids: number[] = [];
      await Promise.all(Array.from({ length: topups }, async (_, i) => {
        const shop = shops[i % shops.length]!;
        const body = JSON.stringify({ resellerOrderId: `t-${round}-${i}`, sku: topupSku.code, account: `1380000${String(i).padStart(4, '0')}` });
        const res = await post(apiPort, '/api/v1/orders', body, signedHeaders(shop.credentials, 'POST', '/api/v1/orders', body));
        ids.push((JSON.parse(res.text) as { order: { orderNo: number } }).order.orderNo);
      }));
      await Promise.all(ids.map((id) => temporal.workflow.getHandle(topUpWorkflowId(id)).result()));
    });
    const emptyRound = (round: number) => timed(() => Promise.all(Array.from({ length: topups }, (_, i) =>
      temporal.workflow.execute('pingWorkflow', { taskQueue, workflowId: `ping-${round}-${i}-${Date.now()}` }))));
    let topupSeconds = 0;
    let emptySeconds = 0;
    for (let round = 0; round < topupRounds; round++) {
      const t = (await topupRound(round)).seconds;
      const e = (await emptyRound(round)).seconds;
      topupSeconds += t;
      emptySeconds += e;
      console.log(`top-up round ${round + 1}/${topupRounds}: top-ups ${fmt(topups / t, 1)}/s, empty ${fmt(topups / e, 1)}/s (${fmt((e / t) * 100, 1)}%)`);
    }
    const succeeded = Number((await db('orders').where({ kind: 'direct_topup', status: 'succeeded' }).count('* as n'))[0]!.n);

    const httpRate = http.ops / http.seconds;
    const bareRate = bare.ops / bare.seconds;
    console.log('');
    console.log(`card orders  HTTP (signed, ${clients} clients): ${fmt(httpRate)} orders/s, p50 ${fmt(percentile(http.latenciesMs, 50), 1)} ms, p99 ${fmt(percentile(http.latenciesMs, 99), 1)} ms${cpu(http)}`);
    console.log(`baseline     bare SQL transaction (allocate + ledger_post): ${fmt(bareRate)} tx/s, p50 ${fmt(percentile(bare.latenciesMs, 50), 1)} ms${cpu(bare)}`);
    console.log(`ratio        HTTP ÷ bare = ${fmt((httpRate / bareRate) * 100, 1)}% (target ≥ 50%)`);
    console.log(`deliveries   ${check.orders} card orders, ${check.codes} codes delivered to them, orders holding two codes: ${check.doubled} (must be 0)`);
    console.log(`top-ups      ${succeeded}/${topups * topupRounds} completed in ${fmt(topupSeconds, 2)} s = ${fmt((topups * topupRounds) / topupSeconds, 1)} workflows/s`);
    console.log(`baseline     empty one-activity workflow: ${fmt((topups * topupRounds) / emptySeconds, 1)} workflows/s`);
    console.log(`ratio        top-up ÷ empty = ${fmt((emptySeconds / topupSeconds) * 100, 1)}% (target ≥ 50%)`);
  } finally {
    for (const stop of stops) await stop().catch(() => {});
  }
}
