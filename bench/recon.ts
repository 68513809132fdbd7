import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import iconv from 'iconv-lite';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { businessDayRange } from '../src/dates.ts';
import { createDb } from '../src/db/knex.ts';
import { Ledger } from '../src/ledger/ledger.ts';
import { formatYuan } from '../src/money.ts';
import { reconcileDay } from '../src/reconciliation/reconcile.ts';
import { CLASSES } from '../src/reconciliation/types.ts';
import { SupplierRegistry } from '../src/suppliers/registry.ts';
import { benchDatabase, serverVersion } from './support/database.ts';
import { fmt, progressBar, timed, withPeakRss } from './support/measure.ts';
import { reportInvariants } from './support/invariants.ts';

/**
 * Issue figure: reconcile a 1,000,000-line statement against 1,000,000 of our transactions with
 * ~0.5% planted discrepancies (end-to-end seconds, lines/s, peak RSS) next to the bare floor in
 * the same run: COPY of the same file into an unlogged table plus one FULL OUTER JOIN.
 * Targets: within 4x of the floor, peak RSS < 300 MB.
 */
export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { lines: { type: 'string', default: '1000000' } } });
  const n = Number(values.lines);
  const database = await benchDatabase();
  const db = createDb(database.url, { poolMax: 4 });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-bench-recon-'));
  const date = '2026-11-24';
  try {
    console.log(`reconciliation benchmark: ${fmt(n)} statement lines against ${fmt(n)} of our transactions`);
    console.log(`database: ${database.where}; ${await serverVersion(db)}`);
    const ledger = new Ledger(db);
    await ledger.openPlatformAccounts();
    const supplier = await new SupplierRegistry(db, ledger, randomBytes(32)).upsert({ code: 'bench-supplier', name: '基准供应商 Bench supplier', apiBaseUrl: 'http://127.0.0.1:1', apiKey: 'bench' });

    const conn = (await db.client.acquireConnection()) as pg.Client;
    await writeOurTransactions(conn, supplier.id, date, n);
    const file = path.join(dir, 'bench-supplier-2026-11-24.csv');
    const planted = await writeStatement(file, date, n);
    console.log(`generated ${file} (${fmt((await fs.stat(file)).size / 1e6, 1)} MB)`);

    const bar = progressBar('reconciling', n);
    const phases: string[] = [];
    const recon = await withPeakRss(() => timed(() => reconcileDay(db, {
      supplier, date, file, source: 'uploaded', workflowId: 'bench', triggeredBy: 'bench', archiveDir: path.join(dir, 'archive'), windowMinutes: 10,
      onProgress: (lines) => bar.update(lines), onPhase: (name, ms) => phases.push(`${name} ${fmt(ms / 1000, 2)} s`),
    })));
    bar.done();
    const summary = recon.result.result;

    // The floor: the same bytes into an unlogged table, and one FULL OUTER JOIN with our records.
    await conn.query('CREATE UNLOGGED TABLE bench_floor (supplier_txn_id text, merchant_order_no text, sku text, quantity text, amount text, status text, completed_at text)');
    const copy = await timed(() => pipeline(createReadStream(file), conn.query(copyFrom('COPY bench_floor FROM STDIN WITH (FORMAT csv, HEADER true)'))));
    const join = await timed(() => conn.query(`
      SELECT count(*) FILTER (WHERE f.merchant_order_no IS NULL) AS ours_only, count(*) FILTER (WHERE o.request_id IS NULL) AS theirs_only, count(*) AS rows
      FROM bench_floor f FULL OUTER JOIN (SELECT request_id FROM supplier_transactions WHERE supplier_id = $1) o ON o.request_id = f.merchant_order_no`, [supplier.id]));
    await db.client.releaseConnection(conn);
    const floor = copy.seconds + join.seconds;

    const seconds = recon.result.seconds;
    console.log('');
    console.log(`found      ${CLASSES.map((c) => `${c} ${fmt(summary.counts[c]?.items ?? 0)}`).join(', ')}`);
    console.log(`planted    ${Object.entries(planted).map(([c, k]) => `${c} ${fmt(k)}`).join(', ')}`);
    console.log(`recon      ${fmt(summary.lines)} lines in ${fmt(seconds, 2)} s end to end = ${fmt(summary.lines / seconds)} lines/s, peak RSS ${fmt(recon.peakRssMb)} MB (target < 300 MB)`);
    console.log(`           phases: ${phases.join(', ')}`);
    console.log(`floor      COPY into an unlogged table ${fmt(copy.seconds, 2)} s + FULL OUTER JOIN ${fmt(join.seconds, 2)} s = ${fmt(floor, 2)} s`);
    console.log(`ratio      reconciliation ÷ floor = ${fmt(seconds / floor, 2)}x (target ≤ 3.5x)`);

    // The same day as suppliers send it: GBK, a title line, Chinese headers and status words, no
    // quantity column, a 合计 footer (issue 19). Same lines, same planted discrepancies.
    const gbkFile = path.join(dir, 'bench-supplier-2026-11-24-gbk.csv');
    await writeSupplierShapedStatement(gbkFile, date, n);
    console.log(`generated ${gbkFile} (${fmt((await fs.stat(gbkFile)).size / 1e6, 1)} MB, GBK)`);
    const gbkBar = progressBar('reconciling GBK', n);
    const gbkPhases: string[] = [];
    const gbk = await withPeakRss(() => timed(() => reconcileDay(db, {
      supplier, date, file: gbkFile, source: 'uploaded', workflowId: 'bench-gbk', triggeredBy: 'bench', archiveDir: path.join(dir, 'archive'), windowMinutes: 10,
      onProgress: (lines) => gbkBar.update(lines), onPhase: (name, ms) => gbkPhases.push(`${name} ${fmt(ms / 1000, 2)} s`),
    })));
    gbkBar.done();
    const gbkSummary = gbk.result.result;
    console.log(`found      ${CLASSES.map((c) => `${c} ${fmt(gbkSummary.counts[c]?.items ?? 0)}`).join(', ')}`);
    console.log(`findings   ${(gbkSummary.findings ?? []).map((f) => `${f.kind} line ${f.line}`).join(', ')}`);
    console.log(`GBK recon  ${fmt(gbkSummary.lines)} lines in ${fmt(gbk.result.seconds, 2)} s end to end = ${fmt(gbkSummary.lines / gbk.result.seconds)} lines/s, peak RSS ${fmt(gbk.peakRssMb)} MB`);
    console.log(`           phases: ${gbkPhases.join(', ')}`);
    console.log(`ratio      GBK supplier-shaped ÷ ASCII = ${fmt(gbk.result.seconds / seconds, 2)}x (target ≤ 1.3x)`);
    await reportInvariants(db);
  } finally {
    await db.destroy();
    await database.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

const at = (date: string, n: number, i: number) => new Date(businessDayRange(date).start.getTime() + Math.floor((i / n) * 86_399_000));

/** Our records: n successful top-ups spread over the day, through COPY. */
export async function writeOurTransactions(conn: pg.Client, supplierId: number, date: string, n: number): Promise<void> {
  const ours = progressBar('writing our transactions', n);
  async function* ourRows() {
    let chunk = '';
    for (let i = 0; i < n; i++) {
      chunk += `bench-${i}\t${supplierId}\ttopup\tCMCC-50\tCM50\t1\t4850\tsuccess\tT${i}\t${at(date, n, i).toISOString()}\t${date}\n`;
      if (chunk.length > 262_144) { yield chunk; chunk = ''; ours.update(i); }
    }
    yield chunk;
    ours.update(n);
  }
  await pipeline(Readable.from(ourRows()), conn.query(copyFrom('COPY supplier_transactions (request_id, supplier_id, kind, sku_code, supplier_sku, quantity, cost_fen, status, supplier_txn_id, completed_at, business_date) FROM STDIN')));
  ours.done();
  await conn.query('ANALYZE supplier_transactions');
}

/** The statement, with a discrepancy of each kind planted every 1,000 lines: ~0.5%. */
export async function writeStatement(file: string, date: string, n: number): Promise<Record<string, number>> {
  const out = createWriteStream(file);
  out.write('supplier_txn_id,merchant_order_no,sku,quantity,amount,status,completed_at\n');
  const planted = { amount_mismatch: 0, status_mismatch: 0, missing_at_supplier: 0, missing_in_ours: 0, duplicate_at_supplier: 0 };
  const shanghai = (d: Date) => new Date(d.getTime() + 8 * 3600_000).toISOString().replace('T', ' ').slice(0, 19);
  const line = (i: number, amount = 4850, status = 'SUCCESS') => `T${i},bench-${i},CM50,1,${formatYuan(amount)},${status},${shanghai(at(date, n, i))}\n`;
  for (let i = 0; i < n; i++) {
    let text: string;
    switch (i % 1000) {
      case 100: text = line(i, 4950); planted.amount_mismatch++; break;
      case 300: text = line(i, 4850, 'FAILED'); planted.status_mismatch++; break;
      case 500: text = ''; planted.missing_at_supplier++; break;
      case 700: text = line(i) + `X${i},unknown-${i},CM50,1,48.50,SUCCESS,${shanghai(at(date, n, i))}\n`; planted.missing_in_ours++; break;
      case 900: text = line(i) + line(i); planted.duplicate_at_supplier++; break;
      default: text = line(i);
    }
    if (!out.write(text)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return planted;
}

/**
 * The same statement as suppliers send it (issue 19): GBK, CRLF, a title line, Chinese headers and
 * status words, no quantity column (one line, one top-up), and a 合计 footer with its count and sum.
 */
export async function writeSupplierShapedStatement(file: string, date: string, n: number): Promise<void> {
  const out = createWriteStream(file);
  const put = async (text: string) => { if (!out.write(iconv.encode(text, 'gbk'))) await once(out, 'drain'); };
  await put(`基准供应商对账单 ${date}\r\n流水号,商户订单号,商品编码,金额(元),状态,完成时间\r\n`);
  const shanghai = (d: Date) => new Date(d.getTime() + 8 * 3600_000).toISOString().replace('T', ' ').slice(0, 19);
  const line = (i: number, amount = 4850, status = '充值成功') => `T${i},bench-${i},CM50,${formatYuan(amount)},${status},${shanghai(at(date, n, i))}\r\n`;
  let count = 0;
  let fen = 0;
  let chunk = '';
  for (let i = 0; i < n; i++) {
    let text: string;
    switch (i % 1000) {
      case 100: text = line(i, 4950); fen += 4950; count++; break;
      case 300: text = line(i, 4850, '充值失败'); fen += 4850; count++; break;
      case 500: text = ''; break;
      case 700: text = line(i) + `X${i},unknown-${i},CM50,48.50,充值成功,${shanghai(at(date, n, i))}\r\n`; fen += 9700; count += 2; break;
      case 900: text = line(i) + line(i); fen += 9700; count += 2; break;
      default: text = line(i); fen += 4850; count++;
    }
    chunk += text;
    if (chunk.length > 262_144) { await put(chunk); chunk = ''; }
  }
  await put(`${chunk}合计,${count}笔,,${formatYuan(fen)},,\r\n`);
  out.end();
  await once(out, 'finish');
}
