import { Context } from '@temporalio/activity';
import type { Db } from '../db/knex.ts';
import { logger, withLogContext } from './log.ts';
import { procurementRuns, reconciliationDuration, settlementDuration, supplierCallDuration, topUpDuration } from './metrics.ts';

type AnyFn = (...args: any[]) => Promise<unknown>;
type Recorder = (db: Db, input: any, result: unknown, seconds: number) => Promise<void> | void;

const answer = (result: unknown) => String((result as { status?: string })?.status ?? 'unknown').toLowerCase();

/** What each measured activity records once it has succeeded (the metric families of src/observability/metrics.ts). */
const RECORDERS: Record<string, Recorder> = {
  placeTopUp: (_db, input, result, seconds) => supplierCallDuration.observe({ supplier: input.supplierCode, call: 'place', outcome: answer(result) }, seconds),
  lookupTopUp: (_db, input, result, seconds) => supplierCallDuration.observe({ supplier: input.supplierCode, call: 'lookup', outcome: answer(result) }, seconds),
  completeTopUp: async (db, input) => {
    const row = await db('orders').where({ id: input.orderId }).first('created_at');
    const supplier = await db('suppliers').where({ id: input.supplierId }).first('code');
    if (row) topUpDuration.observe({ supplier: supplier?.code ?? 'none', outcome: 'succeeded' }, secondsSince(row.created_at));
  },
  refundTopUp: async (db, input) => {
    const row = await db('orders').where({ id: input.orderId }).first('created_at');
    const last = await db('supplier_transactions as t').join('suppliers as s', 's.id', 't.supplier_id').where('t.order_id', input.orderId).orderBy('t.created_at', 'desc').first('s.code');
    if (row) topUpDuration.observe({ supplier: last?.code ?? 'none', outcome: 'refunded' }, secondsSince(row.created_at));
  },
  reconcileStatement: (_db, input, result, seconds) => reconciliationDuration.observe({ supplier: input.supplierCode, outcome: answer(result) }, seconds),
  settleDay: (_db, _input, _result, seconds) => settlementDuration.observe({ outcome: 'settled' }, seconds),
  finishProcurementRun: (_db, input) => procurementRuns.inc({ outcome: input.outcome }),
};

/** Failures worth a series of their own (a supplier call that threw, a reconciliation or settlement that failed). */
const FAILURE_RECORDERS: Record<string, (input: any, seconds: number) => void> = {
  placeTopUp: (input, seconds) => supplierCallDuration.observe({ supplier: input.supplierCode, call: 'place', outcome: 'error' }, seconds),
  lookupTopUp: (input, seconds) => supplierCallDuration.observe({ supplier: input.supplierCode, call: 'lookup', outcome: 'error' }, seconds),
  reconcileStatement: (input, seconds) => reconciliationDuration.observe({ supplier: input.supplierCode, outcome: 'error' }, seconds),
  settleDay: (_input, seconds) => settlementDuration.observe({ outcome: 'error' }, seconds),
};

const secondsSince = (at: Date | string) => Math.max(0, (Date.now() - new Date(at).getTime()) / 1000);
const log = logger('metrics');

/**
 * Wraps the activities: each runs with its workflow id, activity and order id in the log context,
 * and the measured ones record their metric. A metric that cannot be recorded never fails the activity.
 */
export function measureActivities<T extends Record<string, AnyFn>>(db: Db, activities: T): T {
  const wrapped: Record<string, AnyFn> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = (...args: unknown[]) => {
      const info = currentInfo();
      const input = args[0] as { orderId?: unknown } | undefined;
      const fields = {
        workflowId: info?.workflowExecution?.workflowId, activity: name,
        ...(typeof input === 'object' && input && typeof input.orderId === 'number' ? { orderId: input.orderId } : typeof input === 'number' && /TopUp|Stuck/.test(name) ? { orderId: input } : {}),
      };
      return withLogContext(fields, async () => {
        const started = process.hrtime.bigint();
        const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
        let result: unknown;
        try {
          result = await fn(...args);
        } catch (err) {
          FAILURE_RECORDERS[name]?.(input, seconds());
          throw err;
        }
        const record = RECORDERS[name];
        if (record) await Promise.resolve(record(db, input, result, seconds())).catch((err) => log.warn({ err, activity: name }, 'could not record a metric'));
        return result;
      });
    };
  }
  return wrapped as T;
}

function currentInfo() {
  try {
    return Context.current().info;
  } catch {
    return undefined; // called outside an activity (a test calling the function directly)
  }
}
