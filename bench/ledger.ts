import { parseArgs } from 'node:util';
import { createDb } from '../src/db/knex.ts';
import { accountCode } from '../src/ledger/accounts.ts';
import { credit, debit, Ledger } from '../src/ledger/ledger.ts';
import { benchDatabase, serverVersion } from './support/database.ts';
import { closedLoop, fmt, percentile } from './support/measure.ts';
import { reportInvariants } from './support/invariants.ts';

/**
 * Issue figure: ledger postings/s for single-entry transactions from 16 concurrent clients, next to
 * a pgbench-style bare INSERT (one row per autocommit transaction) from the same 16 clients on the
 * same database in the same run. Target: the ledger reaches at least 40% of the baseline.
 */
export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      clients: { type: 'string', default: '16' },
      seconds: { type: 'string', default: '10' },
      wallets: { type: 'string', default: '1000' },
    },
  });
  const clients = Number(values.clients);
  const seconds = Number(values.seconds);
  const wallets = Number(values.wallets);

  const database = await benchDatabase();
  const db = createDb(database.url, { poolMax: clients + 2 });
  try {
    const ledger = new Ledger(db);
    console.log(`ledger benchmark: ${clients} clients, ${seconds}s per phase, ${wallets} reseller wallets`);
    console.log(`database: ${database.where}; ${await serverVersion(db)}`);

    await ledger.openPlatformAccounts();
    const cash = accountCode.platform('platform_cash');
    const revenue = accountCode.platform('revenue');
    const walletCodes = Array.from({ length: wallets }, (_, i) => accountCode.resellerWallet(i + 1));
    for (const [i, code] of walletCodes.entries()) {
      await ledger.openAccount({ code, kind: 'reseller_wallet', name: `bench reseller ${i + 1}`, ownerType: 'reseller', ownerId: i + 1 });
      await ledger.post({ idempotencyKey: `fund:${code}`, kind: 'wallet_topup', postings: [debit(cash, 1e12), credit(code, 1e12)] });
    }
    await db.raw('CREATE TABLE bench_insert (id bigserial PRIMARY KEY, account text NOT NULL, amount bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now())');

    const baseline = async () => closedLoop(clients, seconds, async (c, i) => {
      await db.raw('INSERT INTO bench_insert (account, amount) VALUES (?, ?)', [walletCodes[(c * 7919 + i) % wallets]!, 100]);
    });
    const before = await baseline();
    const ledgerRun = await closedLoop(clients, seconds, async (c, i) => {
      const wallet = walletCodes[(c * 7919 + i) % wallets]!;
      await ledger.post({
        idempotencyKey: `bench:${c}:${i}`,
        kind: 'order_sale',
        postings: [debit(wallet, 100), credit(revenue, 100)],
      });
    });
    const after = await baseline();

    const baselineTps = (before.ops / before.seconds + after.ops / after.seconds) / 2;
    const entriesPerSec = ledgerRun.ops / ledgerRun.seconds;
    const postingsPerSec = entriesPerSec * 2;

    const { rows: [check] } = await db.raw(`
      SELECT (SELECT coalesce(sum(amount), 0) FROM ledger_postings)::bigint AS imbalance,
             (SELECT count(*) FROM ledger_accounts a WHERE a.no_overdraft
                AND a.guarded_balance <> (SELECT coalesce(sum(p.amount), 0) FROM ledger_postings p WHERE p.account_id = a.id))::int AS drifted`);

    console.log('');
    console.log(`baseline  bare INSERT, 1 row per transaction : ${fmt(baselineTps)} rows/s  (before ${fmt(before.ops / before.seconds)}, after ${fmt(after.ops / after.seconds)})`);
    console.log(`ledger    1 entry (2 postings) per transaction: ${fmt(entriesPerSec)} entries/s = ${fmt(postingsPerSec)} postings/s`);
    console.log(`          latency p50 ${fmt(percentile(ledgerRun.latenciesMs, 50), 2)} ms, p99 ${fmt(percentile(ledgerRun.latenciesMs, 99), 2)} ms`);
    console.log(`ratio     ledger postings/s ÷ baseline rows/s        = ${fmt((postingsPerSec / baselineTps) * 100, 1)}%  (target ≥ 40%)`);
    console.log(`          ledger transactions/s ÷ baseline transactions/s = ${fmt((entriesPerSec / baselineTps) * 100, 1)}%`);
    console.log(`checks    books imbalance ${check.imbalance} fen; wallets whose running balance drifted from their postings: ${check.drifted}`);
    await reportInvariants(db);
  } finally {
    await db.destroy();
    await database.stop();
  }
}
