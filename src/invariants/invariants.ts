/**
 * What must always hold in Kameng's books, each as one set-based query: how many things it
 * checked, how many break it, and a few of those for a person to look at. Adding one is adding an
 * entry here; `kameng check`, the end of the test suite and the benchmarks run them all.
 * (No question marks in this SQL: knex would take them for bindings.)
 */
export interface Invariant {
  id: string;
  zh: string;
  en: string;
  /** Returns one row: checked (int), violations (int), samples (text[], at most 5). */
  sql: string;
}

export const INVARIANTS: Invariant[] = [
  {
    id: 'entries_balance',
    zh: '每笔分录借贷平衡',
    en: 'every journal entry balances (per currency, at least two postings)',
    sql: `
      WITH per_currency AS (
        SELECT entry_id, sum(amount) AS total, count(*) AS postings FROM ledger_postings GROUP BY entry_id, currency
      ), per_entry AS (
        SELECT e.id, coalesce(sum(c.postings), 0) AS postings, count(*) FILTER (WHERE c.total <> 0) AS unbalanced
          FROM ledger_entries e LEFT JOIN per_currency c ON c.entry_id = e.id GROUP BY e.id
      )
      SELECT count(*)::int AS checked, count(*) FILTER (WHERE postings < 2 OR unbalanced > 0)::int AS violations,
             (array_agg('entry ' || id) FILTER (WHERE postings < 2 OR unbalanced > 0))[1:5] AS samples
        FROM per_entry`,
  },
  {
    id: 'guarded_balances',
    zh: '受控账户余额等于其分录合计',
    en: "every guarded account's kept balance equals the sum of its postings",
    sql: `
      WITH sums AS (
        SELECT a.code, a.guarded_balance, coalesce((SELECT sum(amount) FROM ledger_postings p WHERE p.account_id = a.id), 0) AS total
          FROM ledger_accounts a WHERE a.no_overdraft
      )
      SELECT count(*)::int AS checked, count(*) FILTER (WHERE guarded_balance <> total)::int AS violations,
             (array_agg(code || ': kept ' || guarded_balance || ', postings ' || total) FILTER (WHERE guarded_balance <> total))[1:5] AS samples
        FROM sums`,
  },
  {
    id: 'wallets_not_negative',
    zh: '分销商钱包不为负',
    en: 'no reseller wallet is below zero',
    sql: `
      WITH w AS (
        SELECT a.code, -coalesce((SELECT sum(amount) FROM ledger_postings p WHERE p.account_id = a.id), 0) AS balance
          FROM ledger_accounts a WHERE a.kind = 'reseller_wallet'
      )
      SELECT count(*)::int AS checked, count(*) FILTER (WHERE balance < 0)::int AS violations,
             (array_agg(code || ': ' || balance || ' fen') FILTER (WHERE balance < 0))[1:5] AS samples
        FROM w`,
  },
  {
    id: 'codes_delivered_once',
    zh: '卡密只交付一次（订单数量与交付卡密一致）',
    en: 'no card code is delivered twice: each card order holds exactly its quantity of codes, each code one order',
    sql: `
      WITH delivered AS (
        SELECT o.id, o.quantity, o.status, count(c.id) AS codes
          FROM orders o LEFT JOIN card_codes c ON c.order_id = o.id
         WHERE o.kind = 'card_code' GROUP BY o.id
      ), dup_codes AS (
        SELECT sku_code, fingerprint FROM card_codes WHERE status = 'delivered' GROUP BY sku_code, fingerprint HAVING count(*) > 1
      ), bad AS (
        SELECT 'order ' || id || ': ' || codes || ' codes for quantity ' || quantity AS what FROM delivered
         WHERE (status = 'delivered' AND codes <> quantity) OR (status <> 'delivered' AND codes > 0)
        UNION ALL SELECT 'code ' || sku_code || ' delivered more than once' FROM dup_codes
      )
      SELECT (SELECT count(*) FROM delivered)::int AS checked, (SELECT count(*) FROM bad)::int AS violations, (SELECT array_agg(what) FROM (SELECT what FROM bad LIMIT 5) s) AS samples`,
  },
  {
    id: 'orders_settled_once',
    zh: '每笔已扣款订单恰好一次交付或一次退款',
    en: 'every charged order has exactly one outcome: a delivery (card, completed top-up) or a refund, never both',
    sql: `
      WITH outcome AS (
        SELECT split_part(idempotency_key, ':', 2)::bigint AS order_id,
               bool_or(idempotency_key LIKE 'order:%') AS sale, bool_or(idempotency_key LIKE 'order-hold:%') AS hold,
               bool_or(idempotency_key LIKE 'order-complete:%') AS complete, bool_or(idempotency_key LIKE 'order-refund:%') AS refund
          FROM ledger_entries WHERE idempotency_key ~ '^order(-hold|-complete|-refund){0,1}:[0-9]+$'
         GROUP BY 1
      ), o AS (
        SELECT o.id, o.kind, o.status, coalesce(x.sale, false) AS sale, coalesce(x.hold, false) AS hold,
               coalesce(x.complete, false) AS complete, coalesce(x.refund, false) AS refund
          FROM orders o LEFT JOIN outcome x ON x.order_id = o.id
      ), judged AS (
        SELECT id, kind, status, CASE
          WHEN kind = 'card_code' THEN sale AND status = 'delivered' AND NOT refund
          WHEN status = 'succeeded' THEN hold AND complete AND NOT refund
          WHEN status = 'refunded' THEN hold AND refund AND NOT complete
          ELSE hold AND NOT complete AND NOT refund -- processing or stuck: charged, no outcome yet
        END AS ok FROM o
      )
      SELECT count(*)::int AS checked, count(*) FILTER (WHERE NOT ok)::int AS violations,
             (array_agg('order ' || id || ' (' || kind || ', ' || status || ')') FILTER (WHERE NOT ok))[1:5] AS samples
        FROM judged`,
  },
  {
    id: 'recon_one_class',
    zh: '对账单每行、我方每笔交易只属于一个差异类型',
    en: "every reconciliation line, and every one of our transactions, is in exactly one class (current runs)",
    sql: `
      WITH items AS (
        SELECT i.* FROM recon_items i JOIN recon_runs r ON r.id = i.run_id WHERE r.is_current AND r.status = 'completed'
      ), lines AS (
        SELECT run_id, line_no, count(DISTINCT class) AS classes FROM items WHERE line_no IS NOT NULL GROUP BY run_id, line_no
      ), ours AS (
        SELECT run_id, request_id, count(DISTINCT class) AS classes FROM items
         WHERE request_id IS NOT NULL AND class <> 'duplicate_at_supplier' GROUP BY run_id, request_id
      ), bad AS (
        SELECT 'run ' || run_id || ' line ' || line_no AS what FROM lines WHERE classes <> 1
        UNION ALL SELECT 'run ' || run_id || ' transaction ' || request_id FROM ours WHERE classes <> 1
      )
      SELECT ((SELECT count(*) FROM lines) + (SELECT count(*) FROM ours))::int AS checked, (SELECT count(*) FROM bad)::int AS violations,
             (SELECT array_agg(what) FROM (SELECT what FROM bad LIMIT 5) s) AS samples`,
  },
  {
    id: 'statement_identity',
    zh: '对账单恒等式：期末 = 期初 + 贷方 - 借方，且期初等于上一结算日期末',
    en: 'every reseller statement: closing = opening + credits - debits = opening + its lines, and opening = the previous statement\'s closing',
    sql: `
      WITH s AS (
        SELECT s.*, lag(closing_fen) OVER (PARTITION BY reseller_id, currency ORDER BY business_date) AS prev_closing,
               coalesce((SELECT sum(amount_fen) FROM reseller_statement_lines l WHERE l.statement_id = s.id), 0) AS lines_fen
          FROM reseller_statements s
      )
      SELECT count(*)::int AS checked,
             count(*) FILTER (WHERE closing_fen <> opening_fen + credits_fen - debits_fen OR lines_fen <> credits_fen - debits_fen
                              OR opening_fen <> coalesce(prev_closing, 0))::int AS violations,
             (array_agg('reseller ' || reseller_id || ' on ' || business_date) FILTER (WHERE closing_fen <> opening_fen + credits_fen - debits_fen
                              OR lines_fen <> credits_fen - debits_fen OR opening_fen <> coalesce(prev_closing, 0)))[1:5] AS samples
        FROM s`,
  },
];
