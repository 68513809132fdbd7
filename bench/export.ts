import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import ExcelJS from 'exceljs';
import { addDays, businessDateOf } from '../src/dates.ts';
import { createDb } from '../src/db/knex.ts';
import { accountCode } from '../src/ledger/accounts.ts';
import { Ledger } from '../src/ledger/ledger.ts';
import { ResellerRegistry } from '../src/resellers/registry.ts';
import { exportResellerStatement } from '../src/settlement/export.ts';
import { settleDay } from '../src/settlement/settle.ts';
import { Statements, type StatementLine } from '../src/settlement/statements.ts';
import { benchDatabase, serverVersion } from './support/database.ts';
import { fmt, progressBar, timed, withPeakRss } from './support/measure.ts';
import { reportInvariants } from './support/invariants.ts';
import { SCHEDULE } from '../src/users/actor.ts';

/**
 * Issue figure: a reseller statement of 1,000,000 lines written to XLSX (rows/s, peak RSS) next to
 * the floor in the same run: exceljs's streaming writer writing the same rows from memory.
 * Targets: within 1.5x of the floor, peak RSS < 300 MB.
 */
export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { lines: { type: 'string', default: '1000000' } } });
  const n = Number(values.lines);
  const database = await benchDatabase();
  const db = createDb(database.url, { poolMax: 4 });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-bench-export-'));
  const date = addDays(businessDateOf(new Date()), -2);
  try {
    console.log(`statement export benchmark: one reseller statement of ${fmt(n)} lines`);
    console.log(`database: ${database.where}; ${await serverVersion(db)}`);
    const ledger = new Ledger(db);
    await ledger.openPlatformAccounts();
    const { reseller } = await new ResellerRegistry(db, ledger, Buffer.alloc(32, 7)).create({ code: 'bench-shop', name: '基准小店 Bench shop' });

    const seeded = await timed(() => seedOrders(db, reseller.id, date, n));
    console.log(`seeded ${fmt(n)} card orders and their wallet postings in ${fmt(seeded.seconds, 1)} s`);
    const settled = await timed(() => settleDay(db, date, { actor: SCHEDULE }));
    console.log(`settled ${date}: ${fmt(settled.result.lines)} statement lines in ${fmt(settled.seconds, 1)} s`);

    const statements = new Statements(db);
    const before = process.memoryUsage();
    console.log(`before the export: RSS ${fmt(before.rss / 1048576)} MB, heap ${fmt(before.heapUsed / 1048576)} MB`);
    const file = path.join(dir, 'statement.xlsx');
    const bar = progressBar('exporting', n + 1);
    let done = 0;
    const ours = await withPeakRss(() => timed(() => exportResellerStatement(
      statements, { resellerCode: 'bench-shop', from: date, to: date, format: 'xlsx' }, createWriteStream(file), (k) => bar.update((done += k)),
    )));
    bar.done();
    const size = (await fs.stat(file)).size;

    // The floor: the same rows, already in memory, through exceljs's streaming writer alone.
    const rows = await loadRows(statements, ours.result.result.statements ? await statementIds(db, date) : []);
    const floorFile = path.join(dir, 'floor.xlsx');
    const floor = await timed(() => writeFloor(rows, floorFile));

    const s = ours.result.seconds;
    console.log('');
    console.log(`export (DB -> XLSX, streamed): ${fmt(s, 2)} s, ${fmt(ours.result.result.lines / s)} rows/s, ${fmt(size / 1e6, 1)} MB, peak RSS ${fmt(ours.peakRssMb)} MB (target < 300 MB)`);
    console.log(`floor (exceljs streaming writer, same ${fmt(rows.length)} rows from memory): ${fmt(floor.seconds, 2)} s, ${fmt(rows.length / floor.seconds)} rows/s`);
    console.log(`ratio: ${fmt(s / floor.seconds, 2)}x the floor (target <= 1.5x)`);
    const wallet = await ledger.balance(accountCode.resellerWallet(reseller.id));
    console.log(`check: exported closing ${fmt(ours.result.result.closingFen)} fen = ledger wallet ${fmt(wallet)} fen: ${ours.result.result.closingFen === wallet ? 'ok' : 'MISMATCH'}`);
    await reportInvariants(db);
  } finally {
    await db.destroy();
    await database.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/**
 * n delivered card orders with the entries the order service posts, in bulk SQL: the benchmark is
 * about the export, and posting a million entries one by one would take longer than it.
 */
async function seedOrders(db: ReturnType<typeof createDb>, resellerId: number, date: string, n: number): Promise<void> {
  const wallet = accountCode.resellerWallet(resellerId);
  await db.transaction(async (trx) => {
    // Bulk seeding only: skip the per-row balance trigger (every entry here balances by construction).
    await trx.raw('SET LOCAL session_replication_role = replica');
    const [batch] = await trx('card_batches').insert({ batch_key: 'bench', sku_code: 'QQ-100', source: 'file', unit_cost_fen: 9400, code_count: n }).returning('id');
    await trx.raw(
      `WITH o AS (
         INSERT INTO orders (reseller_id, reseller_order_id, request_hash, sku_code, kind, quantity, unit_price_fen, amount_fen, cost_fen, status, business_date, completed_at)
         SELECT ?, 'TB' || lpad(g::text, 9, '0'), 'bench', 'QQ-100', 'card_code', 1, 9800, 9800, 9400, 'delivered', ?::date, now()
           FROM generate_series(1, ?) g
         RETURNING id
       ), codes AS (
         INSERT INTO card_codes (sku_code, batch_id, serial, code_sealed, fingerprint, status, order_id, delivered_at)
         SELECT 'QQ-100', ?, 'S' || o.id, '\\x00'::bytea, sha256(o.id::text::bytea), 'delivered', o.id, now() FROM o
       ), e AS (
         INSERT INTO ledger_entries (idempotency_key, content_hash, kind, description, business_date, metadata)
         SELECT 'order:' || o.id, 'bench', 'order_sale', '卡密销售 card sale 1 × QQ-100', ?::date, jsonb_build_object('orderId', o.id) FROM o
         RETURNING id
       )
       INSERT INTO ledger_postings (entry_id, account_id, amount, currency, posted_at)
       SELECT e.id, a.id, CASE WHEN a.code = ? THEN 9800 ELSE -9800 END, 'CNY', now()
         FROM e CROSS JOIN ledger_accounts a WHERE a.code IN (?, ?)`,
      [resellerId, date, n, batch.id, date, wallet, wallet, accountCode.platform('revenue')],
    );
    await trx.raw(
      `WITH e AS (INSERT INTO ledger_entries (idempotency_key, content_hash, kind, description, business_date)
                  VALUES ('bench-topup', 'bench', 'wallet_topup', '钱包充值 wallet top-up', ?::date) RETURNING id)
       INSERT INTO ledger_postings (entry_id, account_id, amount, currency, posted_at)
       SELECT e.id, a.id, CASE WHEN a.code = ? THEN -(?::bigint) ELSE ?::bigint END, 'CNY', now() FROM e CROSS JOIN ledger_accounts a WHERE a.code IN (?, ?)`,
      [date, wallet, n * 9800, n * 9800, wallet, accountCode.platform('platform_cash')],
    );
    await trx.raw('UPDATE ledger_accounts a SET guarded_balance = (SELECT sum(amount) FROM ledger_postings p WHERE p.account_id = a.id) WHERE code = ?', [wallet]);
  });
  await db.raw('ANALYZE');
}

async function statementIds(db: ReturnType<typeof createDb>, date: string): Promise<number[]> {
  return (await db('reseller_statements').where({ business_date: date }).select('id')).map((r) => r.id);
}

async function loadRows(statements: Statements, ids: number[]): Promise<StatementLine[]> {
  const rows: StatementLine[] = [];
  for (const section of ['topup', 'order'] as const) {
    for await (const page of statements.lines(ids, section)) for (const line of page) rows.push(line);
  }
  return rows;
}

/** exceljs's streaming writer and nothing else: the same columns, formats and values, rows committed. */
async function writeFloor(rows: StatementLine[], file: string): Promise<void> {
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: createWriteStream(file), useStyles: true, useSharedStrings: false });
  const sheet = workbook.addWorksheet('floor', { views: [{ state: 'frozen', ySplit: 1 }] });
  sheet.columns = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'].map((key, i) => ({ header: key, key, width: 14, style: i === 6 ? { numFmt: '#,##0.00' } : {} }));
  sheet.getRow(1).commit();
  for (const l of rows) {
    sheet.addRow([l.statementDate, l.postedAt, l.orderId, l.resellerOrderId, l.sku, l.quantity, l.amountFen / 100, l.description, null, l.entryKey]).commit();
  }
  sheet.commit();
  await workbook.commit();
}
