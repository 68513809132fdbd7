import { recordAudit } from '../audit/audit-log.ts';
import type { OperationsSettings } from '../config.ts';
import type { Db } from '../db/knex.ts';
import { ValidationError } from '../errors.ts';
import type { Actor } from '../users/actor.ts';

export type RoutingSettings = OperationsSettings['routing'];
export type BreakerState = 'closed' | 'open' | 'half_open';
export type BreakerOverride = 'auto' | 'force_open' | 'force_closed';

/** How a supplier did for one SKU over the rolling window, and its breaker. */
export interface SupplierHealth {
  supplierId: number;
  skuCode: string;
  /** Final answers and errored calls in the window (since the breaker last closed). */
  calls: number;
  failures: number;
  /** 0..1; 1 when there were no calls. */
  successRate: number;
  /** Average time from placing an order to its final answer, of the successes. */
  avgLatencyMs: number | null;
  state: BreakerState;
  override: BreakerOverride;
  openedAt: Date | null;
}

export interface RoutingDecision {
  supplierId: number;
  /** admitted: may get new top-ups; probe: half-open, this order is its probe; blocked: open. */
  verdict: 'admitted' | 'probe' | 'blocked';
  state: BreakerState;
  score: number;
}

interface BreakerRow {
  state: BreakerState | null;
  override: BreakerOverride | null;
  opened_at: Date | null;
  half_open_at: Date | null;
  last_probe_at: Date | null;
  changed_at: Date | null;
}

/** What the breaker does next, from its row and the answers counted: a pure function (tested as such). */
export function nextBreakerState(
  row: { state: BreakerState; openedAt: Date | null; halfOpenAt: Date | null },
  counts: { calls: number; failures: number; probeOk: number; probeBad: number },
  now: Date, s: RoutingSettings,
): BreakerState {
  switch (row.state) {
    case 'closed':
      return counts.calls >= s.minCalls && counts.failures * 100 >= s.failurePct * counts.calls ? 'open' : 'closed';
    case 'open':
      return row.openedAt && now.getTime() - row.openedAt.getTime() >= s.cooldownMs ? 'half_open' : 'open';
    case 'half_open':
      if (counts.probeBad > 0) return 'open';
      return counts.probeOk >= s.probeSuccesses ? 'closed' : 'half_open';
  }
}

/**
 * Supplier health routing (智能路由). Health per supplier and SKU is read from
 * supplier_call_outcomes (final answers, written by a trigger on supplier_transactions, and errored
 * calls); the breaker (supplier_breakers) moves lazily, when a plan asks: closed → open at
 * failurePct over the window; open → half_open after cooldownMs; half_open lets one order through
 * every probeIntervalMs (placed first) and closes after probeSuccesses successes, or opens again at a
 * failure. The failover order is priority + failureRate × failureWeight + latency × weight; open
 * suppliers get no new top-ups unless every candidate is open (then the fixed order, as a last
 * resort beats refusing every order). Ops may force a breaker open or closed (audited).
 */
export class SupplierRouting {
  constructor(private readonly db: Db, private readonly settings: RoutingSettings) {}

  /** The candidates in the order to try them, and why; with mode 'priority' the list as given. */
  async order<T extends { supplierId: number; priority?: number }>(skuCode: string, candidates: T[]): Promise<{ candidates: T[]; decisions: RoutingDecision[] }> {
    if (this.settings.mode === 'priority' || candidates.length === 0) {
      return { candidates, decisions: candidates.map((c) => ({ supplierId: c.supplierId, verdict: 'admitted', state: 'closed', score: c.priority ?? 0 })) };
    }
    const { health, now } = await this.read(skuCode, candidates.map((c) => c.supplierId));
    const decisions: RoutingDecision[] = [];
    for (const [i, c] of candidates.entries()) {
      const h = health.get(c.supplierId)!;
      const state = await this.advance(skuCode, h, now);
      const score = (c.priority ?? i * 10) + this.penalty(h);
      let verdict: RoutingDecision['verdict'];
      if (h.override === 'force_open') verdict = 'blocked';
      else if (h.override === 'force_closed' || state === 'closed') verdict = 'admitted';
      else if (state === 'half_open' && (await this.takeProbe(skuCode, c.supplierId, now))) verdict = 'probe';
      else verdict = 'blocked';
      decisions.push({ supplierId: c.supplierId, verdict, state, score });
    }
    const rank = (d: RoutingDecision) => (d.verdict === 'probe' ? 0 : 1);
    const admitted = decisions.map((d, i) => ({ d, c: candidates[i]! })).filter((x) => x.d.verdict !== 'blocked')
      .sort((a, b) => rank(a.d) - rank(b.d) || a.d.score - b.d.score);
    // every supplier open: the fixed order, rather than refusing every top-up
    return { candidates: admitted.length ? admitted.map((x) => x.c) : candidates, decisions };
  }

  /** Priority points a supplier's recent record costs it. */
  penalty(h: SupplierHealth): number {
    const latency = h.avgLatencyMs === null ? 0 : (h.avgLatencyMs / 1000) * this.settings.latencyWeightPerSecond;
    return Math.round((1 - h.successRate) * this.settings.failureWeight + latency);
  }

  /** Health and breaker of each supplier for a SKU, with the database's clock. */
  async read(skuCode: string, supplierIds: number[]): Promise<{ health: Map<number, SupplierHealth & { probeOk: number; probeBad: number; halfOpenAt: Date | null; changedAt: Date | null; lastProbeAt: Date | null }>; now: Date }> {
    const { rows } = await this.db.raw(`
      SELECT s.id AS supplier_id, clock_timestamp() AS now, b.state, b.override, b.opened_at, b.half_open_at, b.last_probe_at, b.changed_at,
             w.calls, w.failures, w.latency, p.ok AS probe_ok, p.bad AS probe_bad
        FROM unnest(?::bigint[]) AS s(id)
        LEFT JOIN supplier_breakers b ON b.supplier_id = s.id AND b.sku_code = ?
        CROSS JOIN LATERAL (
          SELECT count(*)::int AS calls, count(*) FILTER (WHERE o.outcome <> 'success')::int AS failures,
                 (avg(o.latency_ms) FILTER (WHERE o.outcome = 'success'))::int AS latency
            FROM supplier_call_outcomes o
           WHERE o.sku_code = ? AND o.supplier_id = s.id AND o.kind = 'topup' AND o.at > now() - make_interval(secs => ?)
             AND (b.state IS DISTINCT FROM 'closed' OR o.at >= b.changed_at)) w
        CROSS JOIN LATERAL (
          SELECT count(*) FILTER (WHERE o.outcome = 'success')::int AS ok, count(*) FILTER (WHERE o.outcome <> 'success')::int AS bad
            FROM supplier_call_outcomes o
           WHERE b.state = 'half_open' AND o.sku_code = ? AND o.supplier_id = s.id AND o.kind = 'topup' AND o.at >= b.half_open_at) p`,
    [supplierIds, skuCode, skuCode, this.settings.windowMs / 1000, skuCode]);
    const health = new Map();
    let now = new Date();
    for (const r of rows as (BreakerRow & Record<string, any>)[]) {
      now = new Date(r.now);
      health.set(Number(r.supplier_id), {
        supplierId: Number(r.supplier_id), skuCode, calls: r.calls, failures: r.failures,
        successRate: r.calls === 0 ? 1 : (r.calls - r.failures) / r.calls, avgLatencyMs: r.latency,
        state: r.state ?? 'closed', override: r.override ?? 'auto', openedAt: r.opened_at, halfOpenAt: r.half_open_at,
        changedAt: r.changed_at, lastProbeAt: r.last_probe_at, probeOk: r.probe_ok, probeBad: r.probe_bad,
      });
    }
    return { health, now };
  }

  /** Moves the breaker if its counts say so; concurrent planners agree (the row changes only from what was read). */
  private async advance(skuCode: string, h: SupplierHealth & { probeOk: number; probeBad: number; halfOpenAt: Date | null; changedAt: Date | null }, now: Date): Promise<BreakerState> {
    const next = nextBreakerState({ state: h.state, openedAt: h.openedAt, halfOpenAt: h.halfOpenAt }, h, now, this.settings);
    if (next === h.state) return next;
    const set: Record<string, unknown> = { state: next, changed_at: now };
    if (next === 'open') Object.assign(set, { opened_at: now, half_open_at: null, last_probe_at: null });
    if (next === 'half_open') Object.assign(set, { half_open_at: now, last_probe_at: null });
    if (next === 'closed') Object.assign(set, { opened_at: null, half_open_at: null, last_probe_at: null });
    if (h.changedAt === null) {
      const inserted = await this.db('supplier_breakers').insert({ supplier_id: h.supplierId, sku_code: skuCode, ...set }).onConflict(['supplier_id', 'sku_code']).ignore().returning('state');
      if (inserted.length) return next;
    } else {
      const n = await this.db('supplier_breakers').where({ supplier_id: h.supplierId, sku_code: skuCode, state: h.state, changed_at: h.changedAt }).update(set);
      if (n) return next;
    }
    // another planner moved it first: take what it wrote
    const row = await this.db('supplier_breakers').where({ supplier_id: h.supplierId, sku_code: skuCode }).first('state');
    return row?.state ?? h.state;
  }

  /** A half-open breaker's probe slot: at most one order per probeIntervalMs, whoever takes it first. */
  private async takeProbe(skuCode: string, supplierId: number, now: Date): Promise<boolean> {
    const n = await this.db('supplier_breakers')
      .where({ supplier_id: supplierId, sku_code: skuCode, state: 'half_open' })
      .andWhere((q) => q.whereNull('last_probe_at').orWhere('last_probe_at', '<=', new Date(now.getTime() - this.settings.probeIntervalMs)))
      .update({ last_probe_at: now });
    return n > 0;
  }

  /** Ops forces a breaker open or closed, or hands it back to the automatic rule (audited). */
  async setOverride(actor: Actor, input: { supplierId: number; skuCode: string; override: BreakerOverride; reason: string }): Promise<void> {
    if (!['auto', 'force_open', 'force_closed'].includes(input.override)) throw new ValidationError(`override must be auto, force_open or force_closed, not "${input.override}"`);
    if (!input.reason?.trim()) throw new ValidationError('reason: an override needs a reason');
    const offer = await this.db('supplier_offers').where({ supplier_id: input.supplierId, sku_code: input.skuCode }).first();
    if (!offer) throw new ValidationError(`supplier ${input.supplierId} does not offer ${input.skuCode}`);
    await this.db.transaction(async (trx) => {
      const set = { override: input.override, override_by_user_id: actor.userId, override_reason: input.reason.trim() };
      await trx('supplier_breakers').insert({ supplier_id: input.supplierId, sku_code: input.skuCode, ...set }).onConflict(['supplier_id', 'sku_code']).merge(Object.keys(set));
      await recordAudit(trx, { actor, action: 'routing.override', subjectType: 'supplier_breaker', subjectId: `${input.supplierId}:${input.skuCode}`, reason: input.reason.trim(), details: { override: input.override } });
    });
  }

  /** Every direct top-up offer with its health and breaker: the /routing page. */
  async overview(): Promise<(SupplierHealth & { supplierCode: string; priority: number; penalty: number })[]> {
    const offers = await this.db('supplier_offers as o').join('suppliers as s', 's.id', 'o.supplier_id').join('skus as k', 'k.code', 'o.sku_code')
      .where({ 'k.kind': 'direct_topup', 'o.active': true }).orderBy(['o.sku_code', 'o.priority', 's.code'])
      .select('o.sku_code', 'o.supplier_id', 'o.priority', 's.code as supplier_code');
    const out: (SupplierHealth & { supplierCode: string; priority: number; penalty: number })[] = [];
    const bySku = new Map<string, typeof offers>();
    for (const o of offers) bySku.set(o.sku_code, [...(bySku.get(o.sku_code) ?? []), o]);
    for (const [sku, list] of bySku) {
      const { health } = await this.read(sku, list.map((o) => Number(o.supplier_id)));
      for (const o of list) {
        const h = health.get(Number(o.supplier_id))!;
        out.push({ ...h, supplierCode: o.supplier_code, priority: o.priority, penalty: this.penalty(h) });
      }
    }
    return out;
  }
}

/** A call that errored (timeout, 5xx, refused) counts against the supplier's health; final answers are written by a trigger. */
export async function recordCallError(db: Db, input: { supplierId: number; skuCode: string; kind: 'topup' | 'card_batch'; latencyMs: number; requestId: string; rejected: boolean }): Promise<void> {
  await db('supplier_call_outcomes').insert({
    supplier_id: input.supplierId, sku_code: input.skuCode, kind: input.kind, outcome: input.rejected ? 'failed' : 'error',
    latency_ms: Math.max(0, Math.round(input.latencyMs)), request_id: input.requestId,
  });
}
