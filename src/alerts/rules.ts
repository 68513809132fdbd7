import type { OperationsSettings } from '../config.ts';
import { businessDateOf } from '../dates.ts';
import type { Db } from '../db/knex.ts';

export type AlertThresholds = OperationsSettings['alerts'];

/** One thing a rule finds wrong now; (rule, subject) is the dedup key while it stays wrong. */
export interface Finding {
  subject: string;
  summary: string;
  details?: Record<string, unknown>;
}

export interface AlertRule {
  name: string;
  zh: string;
  en: string;
  /** Everything wrong now; a subject no longer listed is resolved. */
  evaluate(db: Db, t: AlertThresholds): Promise<Finding[]>;
}

/** The alert rules, as data: what each watches and the threshold it reads from config (operations.alerts). */
export const ALERT_RULES: AlertRule[] = [
  {
    name: 'stuck_topups', zh: '卡单过多', en: 'Stuck top-ups over threshold',
    async evaluate(db, t) {
      const { rows: [r] } = await db.raw(`SELECT count(*)::int AS n FROM orders WHERE status = 'stuck'`);
      return r.n > t.stuckTopUps ? [{ subject: 'all', summary: `${r.n} 笔直充卡单 top-ups stuck waiting for ops (threshold ${t.stuckTopUps})`, details: { stuck: r.n } }] : [];
    },
  },
  {
    name: 'supplier_failure_rate', zh: '供应商失败率过高', en: 'Supplier failure rate',
    async evaluate(db, t) {
      const { rows } = await db.raw(`
        SELECT s.code, count(*)::int AS calls, count(*) FILTER (WHERE o.outcome <> 'success')::int AS failures
          FROM supplier_call_outcomes o JOIN suppliers s ON s.id = o.supplier_id
         WHERE o.at > now() - make_interval(mins => ?)
         GROUP BY s.code`, [t.supplierWindowMinutes]);
      return rows
        .filter((r: { calls: number; failures: number }) => r.calls >= t.supplierMinCalls && r.failures * 100 > t.supplierFailurePct * r.calls)
        .map((r: { code: string; calls: number; failures: number }) => ({
          subject: r.code,
          summary: `供应商 supplier ${r.code}: ${Math.round((r.failures * 100) / r.calls)}% failed (${r.failures}/${r.calls}) in ${t.supplierWindowMinutes} min (threshold ${t.supplierFailurePct}%)`,
          details: { calls: r.calls, failures: r.failures },
        }));
    },
  },
  {
    name: 'recon_discrepancies', zh: '对账差异', en: 'Reconciliation discrepancies',
    async evaluate(db) {
      const { rows } = await db.raw(`
        SELECT s.code, c.business_date::text AS day, count(*)::int AS n, coalesce(sum(c.delta_fen), 0)::bigint AS delta
          FROM recon_cases c JOIN suppliers s ON s.id = c.supplier_id
         WHERE c.state <> 'resolved'
         GROUP BY s.code, c.business_date`);
      return rows.map((r: { code: string; day: string; n: number; delta: string }) => ({
        subject: `${r.code}:${r.day}`,
        summary: `对账 ${r.day} ${r.code}: ${r.n} 个未处理差异 open discrepancies (Δ ${(Number(r.delta) / 100).toFixed(2)} 元)`,
        details: { cases: r.n, deltaFen: Number(r.delta) },
      }));
    },
  },
  {
    name: 'qualification_expiring', zh: '资质即将到期', en: 'Qualification expiring',
    async evaluate(db, t) {
      const today = businessDateOf(new Date());
      const { rows } = await db.raw(`
        SELECT DISTINCT ON (q.supplier_id, q.kind, q.brand) s.code, q.kind, q.brand, q.document_no, q.expires_on::text AS expires_on, (q.expires_on - ?::date)::int AS days_left
          FROM supplier_qualifications q JOIN suppliers s ON s.id = q.supplier_id AND s.active
         ORDER BY q.supplier_id, q.kind, q.brand, q.expires_on DESC`, [today]);
      return rows
        .filter((r: { days_left: number }) => r.days_left <= t.qualificationDays)
        .map((r: { code: string; kind: string; brand: string | null; document_no: string; expires_on: string; days_left: number }) => ({
          subject: `${r.code}:${r.kind}:${r.brand ?? ''}`,
          summary: `资质 ${r.code} ${r.kind}${r.brand ? ` ${r.brand}` : ''} (${r.document_no}) ${r.days_left < 0 ? '已过期 expired' : '到期 expires'} ${r.expires_on}`,
          details: { daysLeft: r.days_left },
        }));
    },
  },
  {
    name: 'stock_not_replenished', zh: '库存不足未补货', en: 'Stock low and not replenished',
    async evaluate(db, t) {
      const { rows } = await db.raw(`
        SELECT s.code, s.low_stock_threshold AS threshold, a.n AS available
          FROM skus s
          CROSS JOIN LATERAL (SELECT count(*)::int AS n FROM card_codes c WHERE c.sku_code = s.code AND c.status = 'available') a
         WHERE s.kind = 'card_code' AND s.active AND a.n < s.low_stock_threshold
           AND NOT EXISTS (SELECT 1 FROM procurement_runs r WHERE r.sku_code = s.code AND r.status = 'succeeded' AND r.finished_at > now() - make_interval(mins => ?))`,
      [t.stockStaleMinutes]);
      return rows.map((r: { code: string; threshold: number; available: number }) => ({
        subject: r.code, summary: `库存 ${r.code}: ${r.available} left (threshold ${r.threshold}), no procurement completed in ${t.stockStaleMinutes} min`,
        details: { available: r.available, threshold: r.threshold },
      }));
    },
  },
  {
    name: 'payout_awaiting_approval', zh: '付款批次待审批', en: 'Payout batch awaiting approval',
    async evaluate(db) {
      const { rows } = await db.raw(`SELECT id, total_fen, period_from::text AS period_from, period_to::text AS period_to FROM payout_batches WHERE status = 'draft' ORDER BY id`);
      return rows.map((r: { id: string; total_fen: string; period_from: string; period_to: string }) => ({
        subject: String(r.id), summary: `付款批次 payout batch #${r.id} (${r.period_from}..${r.period_to}, ${(Number(r.total_fen) / 100).toFixed(2)} 元) 待审批 awaits approval`,
      }));
    },
  },
  {
    name: 'workflow_failing', zh: '工作流失败', en: 'Workflow failing',
    async evaluate(db, t) {
      const { rows } = await db.raw(`
        SELECT 'procurement:' || sku_code AS subject, count(*)::int AS n, max(finished_at) AS last FROM procurement_runs
         WHERE status = 'failed' AND finished_at > now() - make_interval(mins => ?) GROUP BY sku_code
        UNION ALL
        SELECT 'reconciliation:' || s.code, count(*)::int, max(r.finished_at) FROM recon_runs r JOIN suppliers s ON s.id = r.supplier_id
         WHERE r.status = 'failed' AND coalesce(r.finished_at, r.started_at) > now() - make_interval(mins => ?) GROUP BY s.code`,
      [t.workflowWindowMinutes, t.workflowWindowMinutes]);
      return rows.map((r: { subject: string; n: number }) => ({
        subject: r.subject, summary: `工作流 workflow ${r.subject}: ${r.n} failed run(s) in ${t.workflowWindowMinutes} min`, details: { failed: r.n },
      }));
    },
  },
];
