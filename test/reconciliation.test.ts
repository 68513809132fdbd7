import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, businessDateOf, businessDayRange } from '../src/dates.ts';
import { ReconCases } from '../src/reconciliation/cases.ts';
import { exportDiscrepancies } from '../src/reconciliation/export.ts';
import { reconcileDay } from '../src/reconciliation/reconcile.ts';
import { StatementFormatError } from '../src/reconciliation/statement/errors.ts';
import type { ReconSummary } from '../src/reconciliation/types.ts';
import { recordPlacement, recordResult } from '../src/supplier-api/transactions.ts';
import type { Supplier } from '../src/suppliers/registry.ts';
import { loadConfig, type AppConfig } from '../src/config.ts';
import { ReconciliationRunningError, startReconciliation } from '../src/reconciliation/trigger.ts';
import type { dailyReconciliation } from '../workflows/reconciliation.ts';
import { userActor } from './support/actors.ts';
import { openHarness, TEST_RECON_SETTINGS, uniq, type Harness } from './support/harness.ts';
import { openWorld, supplierCode, type World } from './support/world.ts';

let h: Harness;
let dir: string;
let cases: ReconCases;
const D = '2026-10-05';
const NEXT = addDays(D, 1);

beforeAll(async () => {
  h = await openHarness();
  await h.ledger.openPlatformAccounts();
  cases = new ReconCases(h.db, h.ledger);
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-recon-'));
});
afterAll(async () => {
  await h.close();
  await fs.rm(dir, { recursive: true, force: true });
});

async function newSupplier(label: string): Promise<Supplier> {
  const code = supplierCode(label);
  return h.deps.suppliers.upsert({ code, name: `${code} 供应商`, apiBaseUrl: 'http://127.0.0.1:1', apiKey: 'k' });
}

/** "2026-10-05 12:00:00" Asia/Shanghai as an instant. */
const at = (date: string, hhmmss: string) => new Date(businessDayRange(date).start.getTime() + (Date.parse(`1970-01-01T${hhmmss}Z`)));

/** One of our top-ups with this supplier, as fulfillment records it. */
async function ours(s: Supplier, requestId: string, completedAt: Date, options: { costFen?: number; status?: 'success' | 'failed'; txn?: string } = {}) {
  await recordPlacement(h.db, { requestId, supplierId: s.id, kind: 'topup', skuCode: 'CMCC-50', supplierSku: 'CM50', quantity: 1, costFen: options.costFen ?? 4_850 });
  await recordResult(h.db, requestId, { status: options.status ?? 'success', supplierTxnId: options.txn ?? `T-${requestId}`, completedAt });
}

const ENGLISH = 'supplier_txn_id,merchant_order_no,sku,quantity,amount,status,completed_at';
const CHINESE = '订单号,商户订单号,商品编码,数量,金额(元),状态,完成时间';

async function file(name: string, content: string | Buffer): Promise<string> {
  const target = path.join(dir, `${uniq('f')}-${name}`);
  await fs.writeFile(target, content);
  return target;
}

const reconcile = (s: Supplier, date: string, statement: string, name?: string) => reconcileDay(h.db, {
  supplier: s, date, file: statement, fileName: name, source: 'uploaded', workflowId: 'test', triggeredBy: 'test',
  archiveDir: TEST_RECON_SETTINGS.archiveDir, windowMinutes: 10,
});

/** Each line's and each of our transactions' class in a run: "line 3 r2" -> class. */
async function classes(runId: number): Promise<Record<string, string>> {
  const rows = await h.db('recon_results').where({ run_id: runId }).orderBy(['line_no', 'request_id']);
  return Object.fromEntries(rows.map((r) => [`${r.line_no ? `line ${r.line_no} ` : ''}${r.request_id ?? r.supplier_txn_id}`, r.class]));
}

const discrepancies = (s: ReconSummary) => Object.fromEntries(Object.entries(s.counts).filter(([c]) => c !== 'matched').map(([c, n]) => [c, n!.items]));

describe('reconciling a statement finds exactly the planted discrepancies', () => {
  let s: Supplier;
  let first: ReconSummary;
  let px: (id: string) => string;
  let classesOfFirst: Promise<Record<string, string>>;

  beforeAll(async () => {
    s = await newSupplier('planted');
    px = (id) => `${s.code}-${id}`;
    for (const id of ['ok', 'amount', 'status', 'omitted', 'dup', 'many1', 'many2']) await ours(s, px(id), at(D, '12:00:00'));
    await ours(s, px('failed'), at(D, '12:30:00'), { status: 'failed' });
    await ours(s, px('late'), at(D, '23:59:58'));
    const csv = [
      ENGLISH,
      `T-${px('ok')},${px('ok')},CM50,1,48.50,SUCCESS,${D} 12:00:01`,
      `T-${px('amount')},${px('amount')},CM50,1,49.50,SUCCESS,${D} 12:00:01`,
      `T-${px('status')},${px('status')},CM50,1,48.50,FAILED,${D} 12:00:01`,
      `X-9,${s.code}-unknown,CM50,1,10.00,SUCCESS,${D} 12:00:01`,
      `T-${px('dup')},${px('dup')},CM50,1,48.50,SUCCESS,${D} 12:00:02`,
      `T-${px('dup')},${px('dup')},CM50,1,48.50,SUCCESS,${D} 12:00:02`,
      `T-M,${px('many1')}|${px('many2')},CM50,2,97.00,SUCCESS,${D} 12:00:03`,
      `T-${px('failed')},${px('failed')},CM50,1,48.50,FAILED,${D} 12:30:00`,
    ].join('\r\n') + '\r\n';
    first = await reconcile(s, D, await file('planted.csv', csv));
  });

  it('puts every line and every one of our transactions in exactly one class', async () => {
    classesOfFirst = classes(first.runId);
    expect(await classesOfFirst).toEqual({
      [`line 2 ${px('ok')}`]: 'matched',
      [`line 3 ${px('amount')}`]: 'amount_mismatch',
      [`line 4 ${px('status')}`]: 'status_mismatch',
      'line 5 X-9': 'missing_in_ours',
      [`line 6 ${px('dup')}`]: 'matched',
      [`line 7 ${px('dup')}`]: 'duplicate_at_supplier',
      [`line 8 ${px('many1')}`]: 'matched',
      [`line 8 ${px('many2')}`]: 'matched',
      [`line 9 ${px('failed')}`]: 'matched',
      [px('omitted')]: 'missing_at_supplier',
      // completed at 23:59:58: the next day's statement may list it
      [px('late')]: 'missing_at_supplier',
    });
    expect(first.lines).toBe(8);
    expect(discrepancies(first)).toEqual({ amount_mismatch: 1, status_mismatch: 1, missing_in_ours: 1, duplicate_at_supplier: 1, missing_at_supplier: 2 });
  });

  it('raises one case per discrepancy, with the difference the supplier asks for', async () => {
    const { cases: day } = await cases.list({ supplierCode: s.code, date: D, state: 'unresolved' });
    const byClass = Object.fromEntries(day.map((c) => [c.requestIds[0] ?? c.supplierTxnId, [c.class, c.deltaFen]]));
    expect(byClass).toEqual({
      [px('amount')]: ['amount_mismatch', 100],
      [px('status')]: ['status_mismatch', -4_850],
      'X-9': ['missing_in_ours', 1_000],
      [px('dup')]: ['duplicate_at_supplier', 4_850],
      [px('omitted')]: ['missing_at_supplier', -4_850],
      [px('late')]: ['missing_at_supplier', -4_850],
    });
    expect(day.find((c) => c.requestIds[0] === px('late'))!.note).toMatch(/next day/);
  });

  it('matches a transaction listed across midnight in the next day\'s statement, and closes its case', async () => {
    const next = await reconcile(s, NEXT, await file('next.csv', `${ENGLISH}\n T-${px('late')} , ${px('late')} ,CM50,1,48.50,SUCCESS,${NEXT} 00:00:01\n`));
    expect(await classes(next.runId)).toEqual({ [`line 2 ${px('late')}`]: 'matched' });
    expect(await h.db('recon_results').where({ run_id: next.runId }).first('rule')).toEqual({ rule: 'cross_midnight' });
    const late = (await cases.list({ supplierCode: s.code, date: D, state: 'resolved' })).cases.find((c) => c.requestIds[0] === px('late'));
    expect(late?.resolution).toBe('matched_other_day');
  });

  it('gives the same result when the same file is reconciled again, without counting it twice', async () => {
    const before = await cases.list({ supplierCode: s.code, date: D, pageSize: 100 });
    const stored = (await h.db('recon_statements').where({ supplier_id: s.id, business_date: D }).first()).stored_path;
    const again = await reconcile(s, D, stored, 'planted.csv');
    // the same classes as the first run, except the late one the next day's statement has listed since
    expect(await classes(again.runId)).toEqual({ ...(await classesOfFirst), [px('late')]: 'matched' });
    expect(again.statementReused).toBe(true);
    expect(again.cases.opened).toBe(0);
    const after = await cases.list({ supplierCode: s.code, date: D, pageSize: 100 });
    expect(after.total).toBe(before.total);
    expect(await h.db('recon_statements').where({ supplier_id: s.id }).count({ n: '*' })).toEqual([{ n: 2 }]);
    // only the current run's items stay for the day
    expect(await h.db('recon_results').where({ supplier_id: s.id, business_date: D }).countDistinct({ n: 'run_id' })).toEqual([{ n: 1 }]);
  });

  it('posts exactly one balanced adjustment when finance accepts the supplier\'s figure, however often it is asked', async () => {
    const amount = (await cases.list({ supplierCode: s.code, date: D, class: 'amount_mismatch' })).cases[0]!;
    const resolved = await cases.resolve(amount.id, { resolution: 'accept_supplier', actor: await userActor(h.db, 'finance', 'finance-li'), reason: '供应商调价 price change confirmed' });
    await cases.resolve(amount.id, { resolution: 'accept_supplier', actor: await userActor(h.db, 'finance', 'finance-li'), reason: 'clicked twice' });
    const entries = await h.db('ledger_entries').where({ idempotency_key: `recon-case:${amount.id}` });
    expect(entries).toHaveLength(1);
    expect(resolved.ledgerEntryId).toBe(Number(entries[0].id));
    const postings = await h.db('ledger_postings').where({ entry_id: entries[0].id }).select('amount');
    expect(postings.map((p) => Number(p.amount)).sort((a, b) => a - b)).toEqual([-100, 100]);
    await expect(cases.resolve(amount.id, { resolution: 'write_off', actor: await userActor(h.db, 'finance', 'finance-li'), reason: 'changed my mind' })).rejects.toThrow(/already resolved/);

    // re-running the day keeps the resolution and posts nothing new
    const again = await reconcile(s, D, (await h.db('recon_statements').where({ supplier_id: s.id, business_date: D }).first()).stored_path, 'planted.csv');
    expect((await cases.get(amount.id)).state).toBe('resolved');
    expect(again.cases.opened).toBe(0);
    expect(await h.db('ledger_entries').where('idempotency_key', 'like', 'recon-case:%').whereRaw("metadata->>'supplierId' = ?", [String(s.id)])).toHaveLength(1);
  });

  it('exports the discrepancy list to XLSX with Chinese and English headers and money in yuan', async () => {
    const out = path.join(dir, 'discrepancies.xlsx');
    const stream = (await import('node:fs')).createWriteStream(out);
    const { rows } = await exportDiscrepancies(cases, { supplierCode: s.code, date: D, state: 'unresolved' }, stream);
    await new Promise<void>((r) => stream.on('close', () => r()));
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(out);
    const sheet = wb.worksheets[0]!;
    expect(sheet.getRow(1).getCell(4).value).toBe('差异类型 Class');
    expect(rows).toBe(4);
    const totalRow = sheet.getRow(rows + 2);
    expect(totalRow.getCell(1).value).toBe('合计 Total');
    expect(totalRow.getCell(11).numFmt).toBe('#,##0.00');
  });
});

describe('a transaction named twice, once by our reference and once by the supplier\'s txn id', () => {
  for (const order of ['txn id first', 'reference first'] as const) {
    it(`classes the later line as the duplicate (${order})`, async () => {
      const s = await newSupplier('twice');
      const r = `${s.code}-1`;
      await ours(s, r, at(D, '10:00:00'), { txn: `SX-${s.code}` });
      const byTxn = `SX-${s.code},unknown-ref,CM50,1,48.50,SUCCESS,${D} 10:00:00`;
      const byRef = `SX-${s.code},${r},CM50,1,48.50,SUCCESS,${D} 10:00:00`;
      const lines = order === 'txn id first' ? [byTxn, byRef] : [byRef, byTxn];
      const summary = await reconcile(s, D, await file('twice.csv', `${ENGLISH}\n${lines.join('\n')}\n`));
      expect(await classes(summary.runId)).toEqual({ [`line 2 ${r}`]: 'matched', [`line 3 ${r}`]: 'duplicate_at_supplier' });
      const rules = await h.db('recon_results').where({ run_id: summary.runId }).orderBy('line_no').pluck('rule');
      expect(rules).toEqual(order === 'txn id first' ? ['supplier_txn_id', 'repeated_line'] : ['reference', 'repeated_line']);
    });
  }
});

describe('statement formats', () => {
  it('reads a GBK statement with Chinese headers and statuses', async () => {
    const s = await newSupplier('gbk');
    await ours(s, `${s.code}-1`, at(D, '09:00:00'));
    await ours(s, `${s.code}-2`, at(D, '09:05:00'));
    const text = `${CHINESE}\r\nT1,${s.code}-1,CM50,1,48.50,成功,${D} 09:00:00\r\nT2,${s.code}-2,CM50,1,48.60,成功,${D} 09:05:00\r\n`;
    const summary = await reconcile(s, D, await file('对账单.csv', iconv.encode(text, 'gbk')));
    expect(discrepancies(summary)).toEqual({ amount_mismatch: 1 });
    expect(summary.counts.matched?.lines).toBe(1);
  });

  it('reads an XLSX statement', async () => {
    const s = await newSupplier('xlsx');
    await ours(s, `${s.code}-1`, at(D, '10:00:00'));
    await ours(s, `${s.code}-2`, at(D, '10:01:00'));
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('对账单');
    ws.addRow(CHINESE.split(','));
    ws.addRow(['T1', `${s.code}-1`, 'CM50', 1, 48.5, '成功', `${D} 10:00:00`]);
    ws.addRow(['T1', `${s.code}-1`, 'CM50', 1, 48.5, '成功', `${D} 10:00:00`]);
    const xlsx = await file('statement.xlsx', Buffer.from(await wb.xlsx.writeBuffer()));
    const summary = await reconcile(s, D, xlsx);
    expect(discrepancies(summary)).toEqual({ duplicate_at_supplier: 1, missing_at_supplier: 1 });
  });

  it('rejects a malformed file with file, line and column, and writes nothing', async () => {
    const s = await newSupplier('malformed');
    await ours(s, `${s.code}-1`, at(D, '10:00:00'));
    const bad = await file('bad.csv', `${ENGLISH}\nT1,${s.code}-1,CM50,1,48.50,SUCCESS,${D} 10:00:00\nT2,${s.code}-2,CM50,1,abc,SUCCESS,${D} 10:00:00\n`);
    const error = await reconcile(s, D, bad, 'bad.csv').catch((e) => e);
    expect(error).toBeInstanceOf(StatementFormatError);
    expect(error.message).toMatch(/bad\.csv:3:5/);
    for (const table of ['recon_statements', 'recon_results', 'recon_cases']) {
      expect(await h.db(table).where({ supplier_id: s.id }).count({ n: '*' })).toEqual([{ n: 0 }]);
    }
    // the attempt itself is on record, for finance to see why
    expect(await h.db('recon_runs').where({ supplier_id: s.id }).first('status')).toEqual({ status: 'rejected' });
  });

  it('refuses a line whose order reference holds only separators, rather than losing it', async () => {
    const s = await newSupplier('noref');
    const bad = await file('noref.csv', `${ENGLISH}\nT1,|,CM50,1,48.50,SUCCESS,${D} 10:00:00\n`);
    const error = await reconcile(s, D, bad, 'noref.csv').catch((e) => e);
    expect(error).toBeInstanceOf(StatementFormatError);
    expect(error.message).toMatch(/noref\.csv:2:2 \(merchant_order_no\): .*no order reference/);
    expect(await h.db('recon_results').where({ supplier_id: s.id }).count({ n: '*' })).toEqual([{ n: 0 }]);
  });

  it('refuses the same file with lines as another day\'s statement', async () => {
    const s = await newSupplier('sameday');
    await ours(s, `${s.code}-1`, at(D, '10:00:00'));
    const f = await file('s.csv', `${ENGLISH}\nT1,${s.code}-1,CM50,1,48.50,SUCCESS,${D} 10:00:00\n`);
    await reconcile(s, D, f);
    await expect(reconcile(s, NEXT, f)).rejects.toThrow(/already received .* for 2026-10-05/);
  });

  it('takes the same header-only statement (no activity) as the statement of each day it is sent for', async () => {
    const s = await newSupplier('quiet');
    const empty = `${ENGLISH}\r\n`;
    const first = await reconcile(s, '2026-11-24', await file('huayu-20261124.csv', empty));
    const second = await reconcile(s, '2026-11-30', await file('huayu-20261130.csv', empty));
    expect([first.lines, second.lines]).toEqual([0, 0]);
    expect(second.statementId).not.toBe(first.statementId);
    expect(second.statementReused).toBe(false);
    expect(await h.db('recon_statements').where({ supplier_id: s.id }).orderBy('business_date').pluck('business_date')).toEqual(['2026-11-24', '2026-11-30']);
    // the same day's file again is still recognised, not counted twice
    expect((await reconcile(s, '2026-11-30', await file('again.csv', empty))).statementReused).toBe(true);
  });
});

describe('the daily reconciliation workflow', () => {
  let world: World;
  let code: string;
  beforeAll(async () => {
    code = supplierCode('wf');
    world = await openWorld(h, [{ code, products: [{ sku: 'CM50', costFen: 4_850, kind: 'topup' }], authorisations: {}, statementFormat: 'csv-gbk' }]);
  });
  afterAll(() => world.stop());

  it('waits for the supplier to publish the statement, fetches it and reconciles it', async () => {
    const today = businessDateOf(new Date());
    const supplier = world.suppliers[code]!;
    const client = h.deps.suppliers.client(supplier);
    for (let i = 0; i < 4; i++) {
      const requestId = `${code}-${i}`;
      await recordPlacement(h.db, { requestId, supplierId: supplier.id, kind: 'topup', skuCode: 'CMCC-50', supplierSku: 'CM50', quantity: 1, costFen: 4_850 });
      await client.placeOrder({ requestId, sku: 'CM50', kind: 'topup', quantity: 1, account: '13800000000' });
    }
    await expect.poll(() => [...world.sim.supplier(code).orders.values()].every((o) => o.status === 'SUCCESS'), { timeout: 5_000 }).toBe(true);
    for (const o of world.sim.supplier(code).orders.values()) {
      await recordResult(h.db, o.requestId, { status: 'success', supplierTxnId: o.supplierTxnId, completedAt: o.completedAt });
    }
    world.sim.plant(code, today, { amountMismatch: 1 });
    world.sim.configure(code, { statementsBeforeDayEnd: true, statementNotReadyResponses: 2 });

    const summary: ReconSummary = await h.client.workflow.execute('reconcileSupplierDay', {
      taskQueue: h.taskQueue, workflowId: `recon-${code}-${today}`,
      args: [{ supplierCode: code, date: today, triggeredBy: 'test', pollMs: 100, maxWaitMs: 30_000 }],
    });
    expect(summary.lines).toBe(4);
    expect(discrepancies(summary)).toEqual({ amount_mismatch: 1 });
    expect(summary.counts.matched?.lines).toBe(3);
    expect(await h.db('recon_statements').where({ supplier_id: supplier.id }).first('source')).toEqual({ source: 'fetched' });
  });
});

describe('the nightly reconciliation of every supplier', () => {
  // its own database: the nightly run takes every active supplier, and the shared one has many
  let hd: Harness;
  let world: World;
  const [published, never, busy] = ['pub', 'never', 'aaa'].map((l) => supplierCode(`night-${l}`)) as [string, string, string];
  const date = '2026-10-02';
  beforeAll(async () => {
    hd = await openHarness({ freshDatabase: true });
    await hd.ledger.openPlatformAccounts();
    world = await openWorld(hd, [published, never, busy].map((code) => ({ code, products: [{ sku: 'CM50', costFen: 4_850, kind: 'topup' as const }], authorisations: {} })));
  });
  afterAll(async () => {
    await world.stop();
    await hd.close();
  });

  it('starts one reconciliation per supplier-day, never two at once, and reports a statement that never came', async () => {
    world.sim.configure(published, { statementsBeforeDayEnd: true, statementNotReadyResponses: 1 });
    world.sim.configure(never, { statementsBeforeDayEnd: true, statementNotReadyResponses: 1_000_000 });
    world.sim.configure(busy, { statementsBeforeDayEnd: true, statementNotReadyResponses: 1_000_000 });
    const c = loadConfig();
    const config: AppConfig = { ...c, reconciliation: TEST_RECON_SETTINGS, temporal: { ...c.temporal, taskQueues: { ...c.temporal.taskQueues, reconciliation: hd.taskQueue } } };
    const start = () => startReconciliation(hd.client, config, { supplierCode: busy, date, triggeredBy: 'finance-amy' });
    const running = await start();
    expect(running.workflowId).toBe(`recon-${busy}-${date}`);
    await expect(start()).rejects.toBeInstanceOf(ReconciliationRunningError);

    const nightly = await hd.client.workflow.execute<typeof dailyReconciliation>('dailyReconciliation', {
      taskQueue: hd.taskQueue, workflowId: uniq('daily'), args: [{ date, pollMs: 100, maxWaitMs: 600 }],
    });
    expect(nightly.date).toBe(date);
    expect(nightly.alreadyRunning).toEqual([busy]);
    expect(nightly.reconciled).toEqual([{ supplierCode: published, lines: 0, discrepancies: 0, openCases: 0 }]);
    expect(nightly.failed.map((f) => f.supplierCode)).toEqual([never]);
    expect(nightly.failed[0]!.reason).toMatch(new RegExp(`${never} had not published its statement for ${date}.*kameng recon --supplier ${never} --date ${date} --file`));
    expect(await hd.db('recon_runs').where({ supplier_id: world.suppliers[never]!.id })).toEqual([]);
    await running.terminate('test over');
  });

  it('reports a supplier that gave up while an earlier one was still waiting', async () => {
    // listed first and publishing late, while the one after it gives up: the later failure must not go unhandled
    const day = '2026-10-03';
    world.sim.configure(busy, { statementsBeforeDayEnd: true, statementNotReadyResponses: 0, latencyMs: 3_000 });
    world.sim.configure(published, { statementsBeforeDayEnd: true, statementNotReadyResponses: 0 });
    world.sim.configure(never, { statementsBeforeDayEnd: true, statementNotReadyResponses: 1_000_000 });
    const handle = await hd.client.workflow.start<typeof dailyReconciliation>('dailyReconciliation', {
      taskQueue: hd.taskQueue, workflowId: uniq('daily'), args: [{ date: day, pollMs: 100, maxWaitMs: 600 }],
    });
    const nightly = await handle.result();
    const failedTasks = (await handle.fetchHistory()).events!.filter((e) => e.workflowTaskFailedEventAttributes);
    expect(failedTasks.map((e) => e.workflowTaskFailedEventAttributes!.failure?.message)).toEqual([]);
    expect(nightly.reconciled.map((r) => r.supplierCode).sort()).toEqual([busy, published].sort());
    expect(nightly.failed.map((f) => f.supplierCode)).toEqual([never]);
    world.sim.configure(busy, { latencyMs: 5 });
  });

  it('hands a file finance uploads to the reconciliation waiting for the supplier, which reconciles it', async () => {
    const day = '2026-10-04';
    world.sim.configure(never, { statementsBeforeDayEnd: true, statementNotReadyResponses: 1_000_000 });
    const c = loadConfig();
    const config: AppConfig = { ...c, reconciliation: TEST_RECON_SETTINGS, temporal: { ...c.temporal, taskQueues: { ...c.temporal.taskQueues, reconciliation: hd.taskQueue } } };
    const waiting = await startReconciliation(hd.client, { ...config, reconciliation: { ...TEST_RECON_SETTINGS, statementWaitMs: 3_600_000 } }, { supplierCode: never, date: day, triggeredBy: 'schedule' });
    await expect.poll(async () => (await waiting.fetchHistory()).events!.filter((e) => e.timerStartedEventAttributes).length, { timeout: 10_000 }).toBeGreaterThan(1);
    const upload = path.join(dir, `${never}-upload.csv`);
    await fs.writeFile(upload, `${ENGLISH}\nX-1,${never}-unknown,CM50,1,47.50,SUCCESS,${day} 09:00:00\n`);
    const handed = await startReconciliation(hd.client, config, { supplierCode: never, date: day, file: upload, triggeredBy: 'finance-amy' });
    expect(handed.workflowId).toBe(waiting.workflowId);
    const summary = await handed.result();
    expect(summary).toMatchObject({ lines: 1, date: day });
    expect(discrepancies(summary)).toEqual({ missing_in_ours: 1 });
    expect(await hd.db('recon_statements').where({ supplier_id: world.suppliers[never]!.id, business_date: day }).first('source', 'received_by')).toEqual({ source: 'uploaded', received_by: 'finance-amy' });
  });
});

describe('waiting fetches on the reconciliation page', () => {
  it('lists a reconciliation waiting for its statement with upload now and cancel, and cancels it', async () => {
    const hd = await openHarness();
    const code = supplierCode('page');
    const world = await openWorld(hd, [{ code, products: [{ sku: 'CM50', costFen: 4_850, kind: 'topup' }], authorisations: {} }]);
    const { createDashboardApp } = await import('../dashboard/app.ts');
    const { loginAs } = await import('./support/dashboard-session.ts');
    const c = loadConfig();
    const config: AppConfig = { ...c, reconciliation: { ...TEST_RECON_SETTINGS, statementWaitMs: 3_600_000 }, temporal: { ...c.temporal, taskQueues: { ...c.temporal.taskQueues, reconciliation: hd.taskQueue } } };
    const app = createDashboardApp({ db: hd.db, ledger: hd.ledger, client: hd.client, config, infrastructure: ['test'],
      health: { postgres: '18', migrations: 13, accounts: 1, entries: 0, ledgerImbalanceFen: 0, checkedAt: new Date().toISOString() } });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const base = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
      const finance = await loginAs(base, hd.db, 'finance');
      world.sim.configure(code, { statementsBeforeDayEnd: true, statementNotReadyResponses: 1_000_000 });
      const waiting = await startReconciliation(hd.client, config, { supplierCode: code, date: '2026-10-06', triggeredBy: 'schedule' });
      await expect.poll(async () => (await (await finance.get('/reconciliation')).text()).includes(waiting.workflowId), { timeout: 15_000 }).toBe(true);
      const page = await (await finance.get('/reconciliation')).text();
      expect(page).toContain(`/reconciliation?upload=${code}&uploadDate=2026-10-06#upload`);
      const res = await finance.post('/reconciliation/waiting/cancel', { workflowId: waiting.workflowId });
      expect(res.status).toBe(303);
      await expect.poll(async () => (await waiting.describe()).status.name, { timeout: 10_000 }).toBe('CANCELLED');
    } finally {
      server.close();
      await world.stop();
      await hd.close();
    }
  });
});
