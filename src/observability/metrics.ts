import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from '../db/knex.ts';

/**
 * Kameng's metrics (Prometheus, prom-client), one registry per process. Counters and histograms
 * move where the work happens (the HTTP server, the order service, activities); gauges of the
 * database's state (stuck top-ups, open discrepancy cases, wallets under their low-balance
 * threshold) are counted when Prometheus scrapes, with cheap indexed queries.
 * README, Operations, lists every family; test/observability-metrics.test.ts watches each move.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'kameng_' });

const seconds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const longSeconds = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600];

export const httpRequestDuration = new Histogram({
  name: 'kameng_http_request_duration_seconds',
  help: 'HTTP requests by method, route (the pattern, not the path) and status code',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: seconds,
  registers: [registry],
});

export const ordersPlaced = new Counter({
  name: 'kameng_orders_total',
  help: 'Orders asked for through the reseller API, by kind (card_code, direct_topup) and outcome (placed, replayed, or the refusal code)',
  labelNames: ['kind', 'outcome'] as const,
  registers: [registry],
});

export const supplierCallDuration = new Histogram({
  name: 'kameng_supplier_call_duration_seconds',
  help: 'Top-up calls to suppliers (place, lookup) by supplier and answer (success, failed, pending, error)',
  labelNames: ['supplier', 'call', 'outcome'] as const,
  buckets: seconds,
  registers: [registry],
});

export const topUpDuration = new Histogram({
  name: 'kameng_topup_duration_seconds',
  help: 'Direct top-ups from order to final outcome (succeeded, refunded), by supplier',
  labelNames: ['supplier', 'outcome'] as const,
  buckets: longSeconds,
  registers: [registry],
});

export const reconciliationDuration = new Histogram({
  name: 'kameng_reconciliation_duration_seconds',
  help: 'Reconciling one supplier statement, by supplier and outcome (reconciled, not_published, error)',
  labelNames: ['supplier', 'outcome'] as const,
  buckets: longSeconds,
  registers: [registry],
});

export const settlementDuration = new Histogram({
  name: 'kameng_settlement_duration_seconds',
  help: 'Settling one business day, by outcome (settled, error)',
  labelNames: ['outcome'] as const,
  buckets: longSeconds,
  registers: [registry],
});

export const procurementRuns = new Counter({
  name: 'kameng_procurement_runs_total',
  help: 'Procurement runs (buying card codes) finished, by outcome (succeeded, failed)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

/** Times `fn` into `histogram` with `labels` plus the outcome `outcomeOf` names (or 'error' when it throws). */
export async function timed<T, L extends string>(
  histogram: Histogram<L>, labels: Partial<Record<L, string>>, outcomeOf: (result: T) => string, fn: () => Promise<T>,
): Promise<T> {
  const end = histogram.startTimer(labels as Record<L, string>);
  try {
    const result = await fn();
    end({ outcome: outcomeOf(result) } as Partial<Record<L, string>>);
    return result;
  } catch (err) {
    end({ outcome: 'error' } as Partial<Record<L, string>>);
    throw err;
  }
}

interface StateSource {
  db: Db;
  /** Default low-balance threshold (KAMENG_LOW_BALANCE_FEN). */
  lowBalanceFen: number;
}

let source: StateSource | undefined;

/** The database the scrape-time gauges count in; set once by the process that serves /metrics. */
export function measureDatabase(db: Db, options: { lowBalanceFen: number }): void {
  source = { db, lowBalanceFen: options.lowBalanceFen };
}

new Gauge({
  name: 'kameng_topups_stuck',
  help: 'Direct top-ups stuck (no final supplier answer in time), waiting for ops',
  registers: [registry],
  async collect() {
    if (!source) return;
    const row = await source.db('orders').where({ status: 'stuck' }).count<{ n: string }[]>({ n: '*' }).first();
    this.set(Number(row?.n ?? 0));
  },
});

new Gauge({
  name: 'kameng_topups_oldest_open_seconds',
  help: 'Age of the oldest top-up not yet final (processing or stuck); 0 when none',
  registers: [registry],
  async collect() {
    if (!source) return;
    const row = await source.db('orders').whereIn('status', ['processing', 'stuck']).min<{ at: Date | null }[]>({ at: 'created_at' }).first();
    this.set(row?.at ? Math.max(0, (Date.now() - new Date(row.at).getTime()) / 1000) : 0);
  },
});

new Gauge({
  name: 'kameng_discrepancy_cases_open',
  help: 'Reconciliation discrepancy cases not resolved, by state (open, investigating)',
  labelNames: ['state'] as const,
  registers: [registry],
  async collect() {
    if (!source) return;
    const rows = await source.db('recon_cases').whereNot({ state: 'resolved' }).groupBy('state').select('state').count<{ state: string; n: string }[]>({ n: '*' });
    this.reset();
    this.set({ state: 'open' }, 0);
    this.set({ state: 'investigating' }, 0);
    for (const r of rows) this.set({ state: r.state }, Number(r.n));
  },
});

new Gauge({
  name: 'kameng_wallets_low_balance',
  help: 'Active reseller wallets under their own low-balance threshold (KAMENG_LOW_BALANCE_FEN where none is set)',
  registers: [registry],
  async collect() {
    if (!source) return;
    // Wallets keep a running balance (ledger_accounts.guarded_balance, credit-normal); one row per reseller.
    // each reseller's own threshold (set at onboarding); 0 means none was set: the default applies
    const result = await source.db.raw(
      `SELECT count(*)::int AS n
         FROM resellers r
         JOIN ledger_accounts a ON a.code = 'reseller:' || r.id || ':wallet'
        WHERE r.status = 'active'
          AND (CASE a.normal_side WHEN 'credit' THEN -a.guarded_balance ELSE a.guarded_balance END)
              < CASE WHEN r.low_balance_fen > 0 THEN r.low_balance_fen ELSE ? END`,
      [source.lowBalanceFen],
    );
    this.set(Number(result.rows[0]?.n ?? 0));
  },
});
