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
      WITH per_entry AS (
        -- one pass over the postings; only an entry in several currencies is summed per currency
        SELECT entry_id, count(*) < 2 OR CASE WHEN min(currency) = max(currency) THEN sum(amount) <> 0 ELSE EXISTS (
                 SELECT FROM ledger_postings p WHERE p.entry_id = g.entry_id GROUP BY p.currency HAVING sum(p.amount) <> 0) END AS unbalanced
          FROM ledger_postings g GROUP BY entry_id
      ), posted AS (
        SELECT count(*) AS entries, count(*) FILTER (WHERE unbalanced) AS unbalanced,
               (array_agg('entry ' || entry_id) FILTER (WHERE unbalanced))[1:5] AS samples
          FROM per_entry
      ), entries AS (
        SELECT count(*) AS entries FROM ledger_entries
      )
      SELECT e.entries::int AS checked, (p.unbalanced + e.entries - p.entries)::int AS violations,
             (p.samples || CASE WHEN e.entries > p.entries THEN ARRAY(
                SELECT 'entry ' || id || ': no postings' FROM ledger_entries x WHERE NOT EXISTS (SELECT FROM ledger_postings WHERE entry_id = x.id) LIMIT 5) END)[1:5] AS samples
        FROM posted p, entries e`,
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
    id: 'account_rules',
    zh: '账户符合其类别规则（借贷方向、是否受控，非受控账户不留余额）',
    en: "every account keeps its kind's rules: normal side, guarded or not, no kept balance where unguarded, none overdrawn",
    sql: `
      WITH judged AS (
        SELECT a.code, concat_ws('; ',
                 CASE WHEN a.normal_side <> k.normal_side THEN 'normal side ' || a.normal_side || ', its kind ' || k.normal_side END,
                 CASE WHEN a.no_overdraft <> k.no_overdraft THEN CASE WHEN k.no_overdraft THEN 'unguarded, its kind guarded' ELSE 'guarded, its kind not' END END,
                 CASE WHEN NOT a.no_overdraft AND a.guarded_balance <> 0 THEN 'unguarded, yet keeps a balance of ' || a.guarded_balance END,
                 CASE WHEN a.no_overdraft AND (CASE a.normal_side WHEN 'credit' THEN -a.guarded_balance ELSE a.guarded_balance END) < 0 THEN 'kept balance overdrawn' END
               ) AS wrong
          FROM ledger_accounts a JOIN ledger_account_kinds k ON k.kind = a.kind
      )
      SELECT count(*)::int AS checked, count(*) FILTER (WHERE wrong <> '')::int AS violations,
             (array_agg(code || ': ' || wrong) FILTER (WHERE wrong <> ''))[1:5] AS samples
        FROM judged`,
  },
  {
    id: 'wallets_not_negative',
    zh: '分销商钱包不为负（按分录计算）',
    en: 'no reseller wallet (no account of a guarded kind) is below zero, by its postings',
    sql: `
      WITH w AS (
        -- the kind's normal side, not the account's: an account that lost its own is still judged
        SELECT a.code, CASE k.normal_side WHEN 'credit' THEN -1 ELSE 1 END
                       * coalesce((SELECT sum(amount) FROM ledger_postings p WHERE p.account_id = a.id), 0) AS balance
          FROM ledger_accounts a JOIN ledger_account_kinds k ON k.kind = a.kind WHERE k.no_overdraft OR a.no_overdraft
      )
      SELECT count(*)::int AS checked, count(*) FILTER (WHERE balance < 0)::int AS violations,
             (array_agg(code || ': ' || balance || ' fen') FILTER (WHERE balance < 0))[1:5] AS samples
        FROM w`,
  },
  {
    id: 'codes_delivered_once',
    zh: '卡密只交付一次（订单数量与交付卡密一致）',
    en: 'no card code is delivered twice: each card order holds exactly its quantity of codes, of its own SKU, and no other order holds any',
    sql: `
      WITH held AS (
        SELECT order_id, count(*) AS codes, min(sku_code) AS sku_min, max(sku_code) AS sku_max
          FROM card_codes WHERE order_id IS NOT NULL GROUP BY order_id
      ), judged AS (
        SELECT coalesce(o.id, h.order_id) AS id, CASE
          WHEN o.id IS NULL THEN 'no such order, yet ' || h.codes || ' card code(s) delivered to it'
          WHEN o.kind <> 'card_code' THEN 'a ' || o.kind || ' order holding ' || h.codes || ' card code(s)'
          WHEN coalesce(h.codes, 0) <> CASE WHEN o.status = 'delivered' THEN o.quantity ELSE 0 END
            THEN coalesce(h.codes, 0) || ' codes for quantity ' || o.quantity
          WHEN h.sku_min <> o.sku_code OR h.sku_max <> o.sku_code THEN 'an order of ' || o.sku_code || ' holding codes of ' || h.sku_min
        END AS wrong
          FROM orders o FULL JOIN held h ON h.order_id = o.id
         WHERE o.kind = 'card_code' OR h.order_id IS NOT NULL
      ), orders_judged AS (
        SELECT count(*) AS checked, count(wrong) AS violations, (array_agg('order ' || id || ': ' || wrong) FILTER (WHERE wrong IS NOT NULL))[1:5] AS samples
          FROM judged
      ), copies AS (
        -- the unique index makes this empty; the checker does not take the index's word for it
        SELECT count(*) AS violations, (array_agg('a code of ' || sku_code || ' held ' || copies || ' times'))[1:5] AS samples
          FROM (SELECT sku_code, count(*) AS copies FROM card_codes GROUP BY sku_code, fingerprint HAVING count(*) > 1) x
      )
      SELECT o.checked::int AS checked, (o.violations + c.violations)::int AS violations, (o.samples || c.samples)[1:5] AS samples
        FROM orders_judged o, copies c`,
  },
  {
    id: 'stock_valuation',
    zh: '库存账户余额等于在库卡密成本（按币种）',
    en: "the inventory account's balance equals the cost of the card codes in stock (per currency): no stock in or out without its entry",
    // In stock: available (expired ones too, until written off). Quarantined codes were never stocked.
    sql: `
      WITH books AS (
        SELECT a.currency, sum(coalesce((SELECT sum(amount) FROM ledger_postings p WHERE p.account_id = a.id), 0)) AS fen
          FROM ledger_accounts a WHERE a.kind = 'inventory' GROUP BY a.currency
      ), shelf AS (
        SELECT s.currency, sum(b.unit_cost_fen) AS fen, count(*) AS codes
          FROM card_codes c JOIN card_batches b ON b.id = c.batch_id JOIN skus s ON s.code = b.sku_code
         WHERE c.status = 'available' GROUP BY s.currency
      ), judged AS (
        SELECT coalesce(b.currency, s.currency) AS currency, coalesce(b.fen, 0) AS books, coalesce(s.fen, 0) AS shelf, coalesce(s.codes, 0) AS codes
          FROM books b FULL JOIN shelf s ON s.currency = b.currency
      )
      SELECT count(*)::int AS checked, count(*) FILTER (WHERE books <> shelf)::int AS violations,
             (array_agg('inventory ' || currency || ': ' || books || ' fen in the books, ' || codes || ' codes in stock costing ' || shelf || ' fen')
               FILTER (WHERE books <> shelf))[1:5] AS samples
        FROM judged`,
  },
  {
    id: 'orders_settled_once',
    zh: '每笔已扣款订单恰好一次交付或一次退款',
    en: 'every charged order has exactly one outcome: a delivery (card, completed top-up) or a refund, never both, and its status says which',
    sql: `
      WITH keyed AS (
        -- 'order:<id>', 'order-hold:<id>', ...: plain string tests, a regular expression per entry costs seconds
        SELECT idempotency_key AS key, split_part(idempotency_key, ':', 1) AS what, split_part(idempotency_key, ':', 2) AS order_id
          FROM ledger_entries WHERE idempotency_key LIKE 'order%'
      ), outcome AS (
        SELECT order_id::bigint AS order_id, bool_or(what = 'order') AS sale, bool_or(what = 'order-hold') AS hold,
               bool_or(what = 'order-complete') AS complete, bool_or(what = 'order-refund') AS refund
          FROM keyed
         -- at most 18 digits: the id must fit a bigint, or one odd key would stop the whole check
         WHERE what IN ('order', 'order-hold', 'order-complete', 'order-refund') AND length(order_id) BETWEEN 1 AND 18
           AND translate(order_id, '0123456789', '') = '' AND key = what || ':' || order_id
         GROUP BY 1
      ), o AS (
        SELECT coalesce(o.id, x.order_id) AS id, o.kind, o.status, coalesce(x.sale, false) AS sale, coalesce(x.hold, false) AS hold,
               coalesce(x.complete, false) AS complete, coalesce(x.refund, false) AS refund
          FROM orders o FULL JOIN outcome x ON x.order_id = o.id
      ), judged AS (
        SELECT id, kind, status, CASE
          WHEN kind IS NULL THEN false -- ledger entries for an order that does not exist
          WHEN kind = 'card_code' THEN status = 'delivered' AND sale AND NOT (hold OR complete OR refund)
          WHEN sale THEN false
          WHEN status = 'succeeded' THEN hold AND complete AND NOT refund
          WHEN status = 'refunded' THEN hold AND refund AND NOT complete
          ELSE status IN ('processing', 'stuck') AND hold AND NOT complete AND NOT refund -- charged, no outcome yet
        END AS ok FROM o
      )
      SELECT count(*)::int AS checked, count(*) FILTER (WHERE NOT ok)::int AS violations,
             (array_agg('order ' || id || ' (' || coalesce(kind || ', ' || status, 'no such order') || ')') FILTER (WHERE NOT ok))[1:5] AS samples
        FROM judged`,
  },
  {
    id: 'recon_one_class',
    zh: '对账单每行恰好属于一个差异类型，我方每笔交易至多属于一个',
    en: "every line of a current reconciliation is in exactly one class, and each of our transactions in at most one",
    // A line of several references has a row per reference, each classed on its own; the line's
    // class is its first reference's, the one row carrying the line's amount (as match.ts counts).
    // Only current runs keep items; a transaction completed after the run may be in none.
    sql: `
      WITH runs AS (
        SELECT id, lines_read FROM recon_runs WHERE is_current AND status = 'completed'
      ), items AS (
        SELECT i.run_id, i.line_no, i.line_refs, i.their_fen, i.request_id, i.class FROM recon_results i JOIN runs r ON r.id = i.run_id
      ), lines AS (
        SELECT run_id, line_no, count(their_fen) AS classed, count(*) AS refs_classed, max(line_refs) AS refs
          FROM items WHERE line_no IS NOT NULL GROUP BY run_id, line_no
      ), per_run AS (
        SELECT r.id, r.lines_read, count(l.line_no) AS lines FROM runs r LEFT JOIN lines l ON l.run_id = r.id GROUP BY r.id, r.lines_read
      ), ours AS (
        SELECT run_id, request_id, count(DISTINCT class) AS classes, count(DISTINCT coalesce(line_no, 0)) AS places FROM items
         WHERE request_id IS NOT NULL AND class NOT IN ('duplicate_at_supplier', 'refund_at_supplier') GROUP BY run_id, request_id
      ), bad AS (
        SELECT 'run ' || id || ': ' || lines_read || ' lines read, ' || lines || ' classified' AS what FROM per_run WHERE lines <> lines_read
        UNION ALL
        SELECT 'run ' || run_id || ' line ' || line_no || ': in ' || classed || ' classes, ' || refs_classed || ' of ' || refs || ' references classified'
          FROM lines WHERE classed <> 1 OR refs_classed <> refs
        UNION ALL
        SELECT 'run ' || run_id || ' transaction ' || request_id || ': in ' || classes || ' classes, ' || places || ' places'
          FROM ours WHERE classes > 1 OR places > 1
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
  // After-sales (售后): src/aftersales/postings.ts
  {
    id: 'complaint_one_money_outcome',
    zh: '每个售后投诉至多一次资金结果，且与其状态一致',
    en: 'every complaint has at most one money outcome, and its status says which: refunded has its refund entry, replaced its replacement entry, open or rejected neither',
    sql: `
      WITH keyed AS (
        SELECT split_part(idempotency_key, ':', 1) AS what, split_part(idempotency_key, ':', 2) AS complaint_id, e.id
          FROM ledger_entries e WHERE idempotency_key LIKE 'complaint-%'
      ), money AS (
        SELECT complaint_id::bigint AS complaint_id, count(*) FILTER (WHERE what = 'complaint-refund') AS refunds,
               count(*) FILTER (WHERE what = 'complaint-replace') AS replaces,
               sum(CASE WHEN what = 'complaint-refund' THEN (SELECT sum(p.amount) FROM ledger_postings p WHERE p.entry_id = k.id AND p.amount > 0) END) AS refund_fen
          FROM keyed k
         WHERE what IN ('complaint-refund', 'complaint-replace') AND length(complaint_id) BETWEEN 1 AND 18 AND translate(complaint_id, '0123456789', '') = ''
         GROUP BY 1
      ), judged AS (
        SELECT coalesce(c.id, m.complaint_id) AS id, CASE
          WHEN c.id IS NULL THEN 'money for a complaint that does not exist'
          WHEN coalesce(m.refunds, 0) + coalesce(m.replaces, 0) > 1 THEN 'more than one money outcome'
          WHEN c.status = 'refunded' AND (coalesce(m.refunds, 0) <> 1 OR m.refund_fen <> c.refund_fen) THEN 'refunded ' || c.refund_fen || ' fen, the books say ' || coalesce(m.refund_fen, 0)
          WHEN c.status = 'replaced' AND coalesce(m.replaces, 0) <> 1 THEN 'replaced without its entry'
          WHEN c.status IN ('open', 'rejected') AND coalesce(m.refunds, 0) + coalesce(m.replaces, 0) > 0 THEN c.status || ', yet money moved'
        END AS wrong
          FROM complaints c FULL JOIN money m ON m.complaint_id = c.id
      )
      SELECT count(*)::int AS checked, count(wrong)::int AS violations,
             (array_agg('complaint ' || id || ': ' || wrong) FILTER (WHERE wrong IS NOT NULL))[1:5] AS samples
        FROM judged`,
  },
  {
    id: 'complaint_refunds_within_charge',
    zh: '售后退款不超过订单扣款',
    en: "complaint refunds never exceed the charge: per order, their sum is at most the order's amount, each at most its subject's price",
    sql: `
      WITH per_order AS (
        SELECT o.id, o.amount_fen, sum(c.refund_fen) AS refunded,
               bool_or(c.refund_fen > CASE WHEN o.kind = 'card_code' THEN o.unit_price_fen ELSE o.amount_fen END) AS one_too_big
          FROM complaints c JOIN orders o ON o.id = c.order_id
         WHERE c.status = 'refunded' GROUP BY o.id, o.amount_fen
      )
      SELECT count(*)::int AS checked, count(*) FILTER (WHERE refunded > amount_fen OR one_too_big)::int AS violations,
             (array_agg('order ' || id || ': charged ' || amount_fen || ', refunded ' || refunded) FILTER (WHERE refunded > amount_fen OR one_too_big))[1:5] AS samples
        FROM per_order`,
  },
  {
    id: 'replaced_code_counted_once',
    zh: '被换掉的卡密作废且不再计为已交付，换上的卡密交付给同一订单',
    en: 'a replaced code is void and held by no order (never counted delivered twice, never sold again); its replacement is delivered to the same order',
    sql: `
      WITH judged AS (
        SELECT c.id, CASE
          WHEN old.status <> 'void' OR old.order_id IS NOT NULL THEN 'the replaced code is ' || old.status || coalesce(' in order ' || old.order_id, '')
          WHEN new.status <> 'delivered' OR new.order_id IS DISTINCT FROM c.order_id THEN 'the replacement is ' || new.status || ' to order ' || coalesce(new.order_id::text, 'none')
        END AS wrong
          FROM complaints c JOIN card_codes old ON old.id = c.code_id JOIN card_codes new ON new.id = c.replacement_code_id
         WHERE c.status = 'replaced'
      )
      SELECT count(*)::int AS checked, count(wrong)::int AS violations,
             (array_agg('complaint ' || id || ': ' || wrong) FILTER (WHERE wrong IS NOT NULL))[1:5] AS samples
        FROM judged`,
  },
  {
    id: 'claims_netted_once',
    zh: '每笔供应商索赔只冲抵一次付款',
    en: "each supplier claim is netted once: a netted claim belongs to one payout line, and each line's claims figure is the sum of its claims",
    sql: `
      WITH lines AS (
        SELECT l.id, l.claims_fen, coalesce(sum(abs(c.amount_fen)), 0) AS claimed
          FROM payout_lines l JOIN payout_batches b ON b.id = l.batch_id LEFT JOIN supplier_claims c ON c.payout_line_id = l.id
         WHERE b.status <> 'cancelled' GROUP BY l.id, l.claims_fen
      ), bad AS (
        SELECT 'payout line ' || id || ': claims ' || claims_fen || ', its claims sum to ' || claimed AS what FROM lines WHERE claims_fen <> claimed
        UNION ALL
        SELECT 'claim ' || id || ': netted without a payout line' FROM supplier_claims WHERE status = 'netted' AND payout_line_id IS NULL
      )
      SELECT ((SELECT count(*) FROM lines) + (SELECT count(*) FROM supplier_claims))::int AS checked, (SELECT count(*) FROM bad)::int AS violations,
             (SELECT array_agg(what) FROM (SELECT what FROM bad LIMIT 5) s) AS samples`,
  },
  // administration (issue 18): reviewed 资质, versioned offer costs, prices never below cost unless forced
  {
    id: 'qualifications_four_eyes',
    zh: '资质文件仅由上传者以外的用户审核；已审核的有审核人、时间和理由',
    en: 'every reviewed 资质 document was reviewed by a user other than its uploader, with a time and a reason; a pending one by nobody',
    sql: `
      WITH judged AS (
        SELECT id, CASE
                 WHEN status = 'pending' AND (reviewed_by IS NOT NULL OR reviewed_at IS NOT NULL) THEN 'pending, yet reviewed'
                 WHEN status <> 'pending' AND (reviewed_by IS NULL OR reviewed_at IS NULL OR coalesce(trim(review_reason), '') = '') THEN status || ' without reviewer, time or reason'
                 WHEN reviewed_by = uploaded_by THEN 'reviewed by its uploader'
               END AS problem
          FROM supplier_qualifications WHERE uploaded_by IS NOT NULL
      )
      SELECT count(*)::int AS checked, count(problem)::int AS violations,
             (array_agg('document ' || id || ': ' || problem) FILTER (WHERE problem IS NOT NULL))[1:5] AS samples
        FROM judged`,
  },
  {
    id: 'offer_cost_versions',
    zh: '每个供应商报价恰有一个当前成本版本，且等于报价成本；版本不重叠',
    en: "every supplier offer has exactly one current cost version, equal to the offer's cost, and its versions never overlap",
    sql: `
      WITH judged AS (
        SELECT o.supplier_id, o.sku_code, concat_ws('; ',
                 CASE WHEN (SELECT count(*) FROM supplier_offer_costs c WHERE c.supplier_id = o.supplier_id AND c.sku_code = o.sku_code AND c.valid_to IS NULL) <> 1
                      THEN 'not exactly one current cost version' END,
                 CASE WHEN (SELECT c.cost_fen FROM supplier_offer_costs c WHERE c.supplier_id = o.supplier_id AND c.sku_code = o.sku_code AND c.valid_to IS NULL LIMIT 1) IS DISTINCT FROM o.cost_fen
                      THEN 'current version differs from the offer cost ' || o.cost_fen END,
                 CASE WHEN EXISTS (SELECT FROM supplier_offer_costs a JOIN supplier_offer_costs b ON a.supplier_id = b.supplier_id AND a.sku_code = b.sku_code AND a.id < b.id
                                    WHERE a.supplier_id = o.supplier_id AND a.sku_code = o.sku_code
                                      AND a.valid_from < coalesce(b.valid_to, 'infinity') AND b.valid_from < coalesce(a.valid_to, 'infinity'))
                      THEN 'overlapping cost versions' END) AS problem
          FROM supplier_offers o
      )
      SELECT count(*)::int AS checked, count(*) FILTER (WHERE problem <> '')::int AS violations,
             (array_agg('supplier ' || supplier_id || ' ' || sku_code || ': ' || problem) FILTER (WHERE problem <> ''))[1:5] AS samples
        FROM judged`,
  },
  {
    id: 'prices_above_cost',
    zh: '低于最低成本的售价都经强制并说明理由；每条改价记录对应其价格版本',
    en: 'every price set below the best cost of its time was forced with a reason, and every audited price change matches its price version',
    sql: `
      WITH judged AS (
        SELECT a.id, a.subject_id AS sku, concat_ws('; ',
                 CASE WHEN p.id IS NULL THEN 'no price version ' || coalesce(a.details ->> 'priceVersionId', '(none)') END,
                 CASE WHEN p.id IS NOT NULL AND (p.sku_code <> a.subject_id OR p.price_fen <> (a.details ->> 'priceFen')::bigint) THEN 'price version differs' END,
                 CASE WHEN a.action = 'price.set' AND (a.details ->> 'bestCostFen') IS NOT NULL
                       AND (a.details ->> 'priceFen')::bigint < (a.details ->> 'bestCostFen')::bigint THEN 'below cost, not forced' END,
                 CASE WHEN a.action = 'price.set_below_cost' AND coalesce(trim(a.reason), '') = '' THEN 'forced without a reason' END) AS problem
          FROM audit_log a LEFT JOIN sku_prices p ON p.id::text = (a.details ->> 'priceVersionId')
         WHERE a.subject_type = 'sku' AND a.action IN ('price.set', 'price.set_below_cost')
      )
      SELECT count(*)::int AS checked, count(*) FILTER (WHERE problem <> '')::int AS violations,
             (array_agg('audit ' || id || ' (' || sku || '): ' || problem) FILTER (WHERE problem <> ''))[1:5] AS samples
        FROM judged`,
  },
  {
    id: 'recharges_posted',
    zh: '充值与分录一致：已入账的充值恰有其入账分录，已冲正的另有其冲正分录，待审批或已拒绝的没有分录',
    en: 'every credited recharge has exactly its entry (platform cash to the wallet, its amount), every reversal its reversing entry, and no pending or rejected recharge is posted',
    sql: `
      WITH expected AS (
        SELECT w.id, w.status, w.amount_fen, 'reseller:' || w.reseller_id || ':wallet' AS wallet, 'wallet-recharge:' || w.id AS credit_key,
               'wallet-recharge-reversal:' || w.id AS reversal_key, w.entry_key, w.reversal_entry_key
          FROM wallet_recharges w
      ), found AS (
        SELECT x.id,
               (SELECT e.id FROM ledger_entries e WHERE e.idempotency_key = x.credit_key) AS credit_entry,
               (SELECT e.id FROM ledger_entries e WHERE e.idempotency_key = x.reversal_key) AS reversal_entry
          FROM expected x
      ), judged AS (
        SELECT x.id, concat_ws('; ',
                 CASE WHEN x.status IN ('credited', 'reversed') AND f.credit_entry IS NULL THEN 'credited but no entry ' || x.credit_key END,
                 CASE WHEN x.status IN ('pending', 'rejected') AND (f.credit_entry IS NOT NULL OR f.reversal_entry IS NOT NULL) THEN x.status || ' yet posted' END,
                 CASE WHEN x.status = 'credited' AND f.reversal_entry IS NOT NULL THEN 'credited yet has a reversing entry' END,
                 CASE WHEN x.status = 'reversed' AND f.reversal_entry IS NULL THEN 'reversed but no entry ' || x.reversal_key END,
                 CASE WHEN x.status IN ('credited', 'reversed') AND x.entry_key IS DISTINCT FROM x.credit_key THEN 'names entry ' || coalesce(x.entry_key, 'none') END,
                 CASE WHEN f.credit_entry IS NOT NULL AND (
                   (SELECT count(*) FROM ledger_postings p WHERE p.entry_id = f.credit_entry) <> 2
                   OR NOT EXISTS (SELECT FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
                                   WHERE p.entry_id = f.credit_entry AND a.code = x.wallet AND p.amount = -x.amount_fen)
                   OR NOT EXISTS (SELECT FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
                                   WHERE p.entry_id = f.credit_entry AND a.code = 'platform:platform_cash' AND p.amount = x.amount_fen))
                   THEN 'entry is not platform cash to the wallet for ' || x.amount_fen END,
                 CASE WHEN f.reversal_entry IS NOT NULL AND (
                   (SELECT count(*) FROM ledger_postings p WHERE p.entry_id = f.reversal_entry) <> 2
                   OR NOT EXISTS (SELECT FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
                                   WHERE p.entry_id = f.reversal_entry AND a.code = x.wallet AND p.amount = x.amount_fen)
                   OR NOT EXISTS (SELECT FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
                                   WHERE p.entry_id = f.reversal_entry AND a.code = 'platform:platform_cash' AND p.amount = -x.amount_fen))
                   THEN 'reversing entry is not the wallet back to platform cash for ' || x.amount_fen END
               ) AS wrong
          FROM expected x JOIN found f ON f.id = x.id
      ), orphans AS (
        -- a recharge entry whose recharge does not exist, or whose kind says recharge without a recharge's key
        SELECT 'entry ' || e.id || ' (' || e.idempotency_key || '): no such recharge' AS what
          FROM ledger_entries e
         WHERE (e.idempotency_key LIKE 'wallet-recharge:%' OR e.idempotency_key LIKE 'wallet-recharge-reversal:%' OR e.kind = 'wallet_recharge_reversal')
           AND NOT EXISTS (SELECT FROM wallet_recharges w WHERE e.idempotency_key IN ('wallet-recharge:' || w.id, 'wallet-recharge-reversal:' || w.id))
      )
      SELECT (count(*) + (SELECT count(*) FROM orphans))::int AS checked,
             (count(*) FILTER (WHERE wrong <> '') + (SELECT count(*) FROM orphans))::int AS violations,
             ((array_agg('recharge ' || id || ': ' || wrong) FILTER (WHERE wrong <> '')) || ARRAY(SELECT what FROM orphans LIMIT 5))[1:5] AS samples
        FROM judged`,
  },
];
