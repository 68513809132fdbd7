import fs from 'node:fs/promises';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { connectTemporal } from '../src/runtime/temporal-connection.ts';
import express from 'express';
import { DEFAULT_BEHAVIOUR } from '../fixtures/supplier-simulator/types.ts';
import { prng } from '../fixtures/supplier-simulator/prng.ts';
import { mountApis } from '../src/api/mount.ts';
import { loadConfig } from '../src/config.ts';
import { deriveKeys } from '../src/crypto/keys.ts';
import { seedDemo } from '../src/demo/seed.ts';
import { fillRate } from '../src/inventory/demand.ts';
import { checkInvariants, type CheckReport } from '../src/invariants/check.ts';
import { buildDeps } from '../src/runtime/deps.ts';
import { bundleWorkflows } from '../src/runtime/worker.ts';
import { EVERYDAY, injectFaults, type FaultCounts } from './faults.ts';
import { clusterTopology, singleProcessTopology } from './topology.ts';
import { playTraffic, startResellerEndpoints, type Shop, type TrafficTally } from './traffic.ts';

export interface ChaosOptions {
  /** Seconds of traffic under faults. */
  seconds: number;
  ratePerSecond: number;
  resellers: number;
  workers: number;
  faultEveryMs: number;
  /** How long the books may take to settle after the faults stop. */
  settleSeconds: number;
  seed: number;
  /** Supplier health routing on ('health') or the fixed priority order ('priority'). */
  routing?: 'health' | 'priority';
  /** The production topology (cluster/): a Temporal server on PostgreSQL, two API processes, API kills. */
  cluster?: boolean;
  log: (line: string) => void;
}

/**
 * Routing and stock settings for a chaos day (minutes, not hours): health over 30 s, a breaker that
 * opens at 40 % with 6 answers and probes after 10 s; demand over the last minute, a batch covering
 * 45 s of it, 10 s of safety stock.
 */
export const CHAOS_OPERATIONS_ENV = {
  KAMENG_ROUTING_WINDOW_SECONDS: '30', KAMENG_BREAKER_FAILURE_PCT: '40', KAMENG_BREAKER_MIN_CALLS: '6', KAMENG_BREAKER_COOLDOWN_SECONDS: '10',
  KAMENG_BREAKER_PROBE_INTERVAL_SECONDS: '2', KAMENG_BREAKER_PROBE_SUCCESSES: '2',
  KAMENG_STOCK_VELOCITY_SECONDS: '60', KAMENG_STOCK_LEAD_SECONDS: '10', KAMENG_STOCK_SAFETY_SECONDS: '10', KAMENG_STOCK_COVER_SECONDS: '45',
};

export interface ChaosReport {
  seconds: number;
  traffic: TrafficTally;
  orders: { cardDelivered: number; topUpsSucceeded: number; refunded: number; stuck: number; processing: number; procurementRuns: number };
  routing: 'health' | 'priority';
  /** Card units delivered ÷ card units asked (delivered + refused out of stock), over the day. */
  fillRate: { served: number; refused: number; rate: number };
  /** 'cluster': `npm run chaos -- --cluster`. */
  topology: 'single' | 'cluster';
  faults: FaultCounts & { workerCrashes: number; simulator: Record<string, number> };
  callbacks: { delivered: number; refused: number };
  settledInSeconds: number | null;
  invariants: CheckReport;
  notes: string[];
}

/**
 * A business day of traffic against the whole stack (PostgreSQL, Temporal, `kameng worker`
 * processes, the signed API, the supplier simulator, resellers' callback endpoints) while faults
 * are injected; then the faults stop, the books settle and the invariant checker judges them.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const { log } = options;
  const random = prng(options.seed);
  const routing = options.routing ?? 'health';
  const config = loadConfig({ ...process.env, ...CHAOS_OPERATIONS_ENV, KAMENG_ROUTING: routing });
  const notes: string[] = [];
  const stops: (() => Promise<unknown>)[] = [];
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-chaos-'));
  stops.push(() => fs.rm(scratch, { recursive: true, force: true }));
  try {
    const bundleFile = path.join(scratch, 'workflows.js');
    await fs.writeFile(bundleFile, (await bundleWorkflows()).code);
    const settings = { stuckAfterMs: 20_000, pollIntervalMs: 1_000, supplierTimeoutMs: 1_500, allowPrivateCallbacks: true };
    // what every worker process (and, on the cluster, every API process) reads
    const processEnv = {
      KAMENG_WORKFLOW_BUNDLE: bundleFile, KAMENG_ALLOW_PRIVATE_CALLBACKS: 'true',
      KAMENG_STUCK_AFTER_MS: String(settings.stuckAfterMs), KAMENG_POLL_INTERVAL_MS: String(settings.pollIntervalMs),
      KAMENG_SUPPLIER_TIMEOUT_MS: String(settings.supplierTimeoutMs), KAMENG_DB_POOL_MAX: '10',
      ...CHAOS_OPERATIONS_ENV, KAMENG_ROUTING: routing,
    };
    const topology = options.cluster
      ? await clusterTopology(options, config, scratch, processEnv, stops)
      : await singleProcessTopology(options, config, scratch, processEnv, stops);
    const { db, address, apiPorts, temporal } = topology;
    log(`database: ${topology.databaseWhere}`);
    log(`Temporal: ${topology.temporalWhere}`);
    const publicUrl = `http://127.0.0.1:${apiPorts[0]}`;
    const deps = buildDeps(db, deriveKeys(topology.masterKey), { ...settings, publicUrl }, { ...config.reconciliation, archiveDir: path.join(scratch, 'statements') }, config.operations);
    await deps.ledger.openPlatformAccounts();

    const demo = await seedDemo(deps, { simulatorPort: 0, dataDir: scratch });
    stops.push(() => demo.simulator.stop());
    const suppliers = ['huayu', 'jinqiao', 'yunka'];
    for (const code of suppliers) demo.simulator.configure(code, EVERYDAY);
    // shelves that empty during the day, so procurement runs under the faults too
    for (const sku of await db('skus').where({ kind: 'card_code' })) {
      await db('skus').where({ code: sku.code }).update({ low_stock_threshold: 30, procurement_batch: 120 });
    }

    const endpoints = await startResellerEndpoints(random, 0.1);
    stops.push(() => endpoints.stop());
    const shops: Shop[] = [];
    for (let i = 0; i < options.resellers; i++) {
      const { reseller, apiSecret } = await deps.resellers.create({
        code: `shop-${String(i).padStart(3, '0')}`, name: `压测店铺 chaos shop ${i}`, tier: (['default', 'silver', 'gold'] as const)[i % 3], callbackUrl: endpoints.url,
      });
      await deps.resellers.topUpWallet(reseller.id, 5_000_000, 'chaos-opening');
      shops.push({ code: reseller.code, credentials: { apiKey: reseller.apiKey, apiSecret } });
    }

    const connection = await connectTemporal(address);
    stops.push(() => connection.close());
    const client = new Client({ connection, namespace: config.temporal.namespace });
    if (!options.cluster) {
      const app = express();
      mountApis(app, deps, client, { fulfillment: config.temporal.taskQueues.fulfillment, procurement: config.temporal.taskQueues.procurement });
      const server: Server = await new Promise((resolve) => { const s = app.listen(apiPorts[0]!, '127.0.0.1', () => resolve(s)); });
      stops.push(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
    }

    const workers = await topology.startWorkers();
    log(`${options.workers} worker processes polling; ${shops.length} resellers; stocking the shelves...`);
    await client.workflow.start('stockCheck', { taskQueue: config.temporal.taskQueues.procurement, workflowId: 'chaos-stock-check' });
    await waitFor(async () => Number((await db('card_codes').where({ status: 'available' }).countDistinct('sku_code as n'))[0]!.n) >= 3, 90_000);

    const dayStarted = new Date();
    log(`traffic: ${options.ratePerSecond} orders/s for ${options.seconds}s, a fault every ${options.faultEveryMs / 1000}s`);
    const faults = injectFaults({ db, workers, temporal, apis: topology.apis, simulator: demo.simulator, suppliers, random, log }, options.faultEveryMs);
    const trafficEnds = Date.now() + options.seconds * 1000;
    const traffic = await playTraffic({
      apiPorts, shops, seconds: options.seconds, ratePerSecond: options.ratePerSecond, random,
      giveUpAt: () => trafficEnds + 60_000,
      onProgress: every(10, (t) => log(`  ${t.attempted} orders attempted, ${t.accepted} accepted, ${t.outOfStock} out of stock, ${t.retries} retries`)),
    });
    await faults.stop();
    for (const code of suppliers) demo.simulator.configure(code, { ...DEFAULT_BEHAVIOUR });

    log('faults stopped; letting the books settle...');
    const settleStarted = Date.now();
    const settled = await waitFor(async () => Number((await db('orders').where({ status: 'processing' }).count('* as n'))[0]!.n) === 0, options.settleSeconds * 1000);
    const settledInSeconds = settled ? (Date.now() - settleStarted) / 1000 : null;
    if (!settled) notes.push(`orders still processing after ${options.settleSeconds}s of settling`);

    const { rows: [o] } = await db.raw(`
      SELECT count(*) FILTER (WHERE kind = 'card_code' AND status = 'delivered')::int AS card_delivered,
             count(*) FILTER (WHERE kind = 'direct_topup' AND status = 'succeeded')::int AS top_ups_succeeded,
             count(*) FILTER (WHERE status = 'refunded')::int AS refunded,
             count(*) FILTER (WHERE status = 'stuck')::int AS stuck,
             count(*) FILTER (WHERE status = 'processing')::int AS processing,
             (SELECT count(*) FROM procurement_runs WHERE status = 'succeeded')::int AS procured
        FROM orders`);
    const simulator: Record<string, number> = {};
    for (const code of suppliers) {
      for (const [k, v] of Object.entries(demo.simulator.supplier(code).misbehaved)) simulator[k] = (simulator[k] ?? 0) + v;
    }
    // a problem points at a process's log: keep the logs past the scratch directory's removal
    const logs = path.join(scratch, 'cluster', 'logs');
    let problems = topology.problems().slice(0, 3);
    if (problems.some((p) => p.includes(logs))) {
      const kept = path.resolve(config.dataDir, 'chaos-logs', new Date().toISOString().replace(/[:.]/g, '-'));
      try {
        await fs.cp(logs, kept, { recursive: true });
        problems = problems.map((p) => p.replaceAll(logs, kept));
      } catch (err) {
        problems.push(`logs not kept: ${(err as Error).message}`);
      }
    }
    notes.push(...problems);
    const invariants = await checkInvariants(db);
    return {
      seconds: options.seconds, topology: options.cluster ? 'cluster' : 'single', traffic, routing, fillRate: await fillRate(db, dayStarted),
      orders: { cardDelivered: o.card_delivered, topUpsSucceeded: o.top_ups_succeeded, refunded: o.refunded, stuck: o.stuck, processing: o.processing, procurementRuns: o.procured },
      faults: { ...faults.counts, workerCrashes: topology.unexpectedExits(), simulator },
      callbacks: { delivered: endpoints.received(), refused: endpoints.refused() },
      settledInSeconds, invariants, notes,
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch((err) => log(`shutdown: ${(err as Error).message}`));
  }
}

async function waitFor(condition: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await condition().catch(() => false)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

/** Calls `fn` on every n-th call only (progress lines every n seconds). */
function every<T>(n: number, fn: (x: T) => void): (x: T) => void {
  let calls = 0;
  return (x) => { if (++calls % n === 0) fn(x); };
}
