import fs from 'node:fs/promises';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { WorkflowNotFoundError } from '@temporalio/client';
import ExcelJS from 'exceljs';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboardApp } from '../dashboard/app.ts';
import { localActivityType, opsErrorInWords } from '../dashboard/pages/fulfillment.ts';
import { classCount } from '../dashboard/pages/reconciliation.ts';
import { recordAudit } from '../src/audit/audit-log.ts';
import { casesCommand } from '../src/cli/recon.ts';
import { loadConfig } from '../src/config.ts';
import { businessDateOf } from '../src/dates.ts';
import { ValidationError } from '../src/errors.ts';
import { CsvSection, streamingWorkbook, XlsxSection, type ExportColumn } from '../src/files/export-sheet.ts';
import { reconcileDay } from '../src/reconciliation/reconcile.ts';
import { StatementFormatError } from '../src/reconciliation/statement/errors.ts';
import { recordPlacement, recordResult } from '../src/supplier-api/transactions.ts';
import type { Supplier } from '../src/suppliers/registry.ts';
import { freePort } from '../src/runtime/temporal-dev-server.ts';
import { userActor } from './support/actors.ts';
import { loginAs, type DashboardSession } from './support/dashboard-session.ts';
import { openHarness, TEST_RECON_SETTINGS, uniq, type Harness } from './support/harness.ts';
import { historyFromJSON } from './support/history-json.ts';
import { ADMIN_ZH_ROUTES, RAW_WORDS, untranslated, untranslatedInContext, ZH_ROUTES } from './support/zh-render.ts';

/**
 * What a new user ran into on the first day (issue 23, the user-facing half): reconciliation
 * counts and the matched row, refused filters, times in Asia/Shanghai, the zh UI in Chinese only.
 */
let h: Harness;
let server: Server;
let base: string;
let dir: string;
let supplier: Supplier;
const TODAY = businessDateOf(new Date());

beforeAll(async () => {
  h = await openHarness();
  await h.ledger.openPlatformAccounts();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-firstday-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const app = express();
  app.use(createDashboardApp({
    db: h.db, ledger: h.ledger, client: h.client, config: loadConfig({ ...process.env, KAMENG_STATEMENT_DIR: path.join(dir, 'statements') }), infrastructure: ['测试 test'],
    resellers: h.deps.resellers, suppliers: h.deps.suppliers,
    health: { postgres: '18', migrations: 7, accounts: 1, entries: 0, ledgerImbalanceFen: 0, checkedAt: new Date().toISOString() },
  }));
  server = app.listen(port, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const code = uniq('zh').toLowerCase();
  supplier = await h.deps.suppliers.upsert({ code, name: `${code} 供应商`, apiBaseUrl: 'http://127.0.0.1:1', apiKey: 'k' });
});
afterAll(async () => {
  server?.close();
  await h.close();
  await fs.rm(dir, { recursive: true, force: true });
});

const reconcile = async (content: string) => {
  const file = path.join(dir, `${uniq('s')}.csv`);
  await fs.writeFile(file, content);
  return reconcileDay(h.db, {
    supplier, date: TODAY, file, source: 'uploaded', workflowId: 'test', triggeredBy: 'test', archiveDir: TEST_RECON_SETTINGS.archiveDir, windowMinutes: 10,
  });
};

describe('reconciliation as finance reads it', () => {
  it("balances the matched row: a transaction still processing, not on the statement, counts nothing on our side", async () => {
    const ok = `${supplier.code}-ok`;
    await recordPlacement(h.db, { requestId: ok, supplierId: supplier.id, kind: 'topup', skuCode: 'CMCC-50', supplierSku: 'CM50', quantity: 1, costFen: 4_750 });
    await recordResult(h.db, ok, { status: 'success', supplierTxnId: `T-${ok}`, completedAt: new Date(Date.now() - 60_000) });
    // still processing at the supplier: no line for it
    await recordPlacement(h.db, { requestId: `${supplier.code}-pending`, supplierId: supplier.id, kind: 'topup', skuCode: 'CMCC-50', supplierSku: 'CM50', quantity: 1, costFen: 4_880 });
    const summary = await reconcile(`supplier_txn_id,merchant_order_no,sku,quantity,amount,status,completed_at\r\nT-${ok},${ok},CM50,1,47.50,SUCCESS,${TODAY} 00:00:01\r\n`);
    expect(summary.counts.matched).toMatchObject({ lines: 1, transactions: 2, theirFen: 4_750, ourFen: 4_750 });
  });

  it("shows each run's counts per class, and a rejected run's reason on the page", async () => {
    await expect(reconcile('no,such,columns\r\n1,2,3\r\n')).rejects.toBeInstanceOf(StatementFormatError);
    const runs = await h.db('recon_runs').where({ supplier_id: supplier.id }).orderBy('id');
    expect(runs.map((r) => r.status)).toEqual(['completed', 'rejected']);
    expect(classCount(runs[0].counts, 'matched')).toBe(2);
    expect(classCount(runs[0].counts, 'amount_mismatch')).toBe(0);

    const finance = await loginAs(base, h.db, 'finance');
    const page = await (await finance.get('/reconciliation')).text();
    const row = new RegExp(`<tr><td>${runs[0].id}</td>[\\s\\S]*?</tr>`).exec(page)![0];
    expect(row).toContain('<td class="num">2</td>');
    const rejected = new RegExp(`<tr><td>${runs[1].id}</td>[\\s\\S]*?</tr>`).exec(page)![0];
    expect(rejected).toContain('已拒绝');
    expect(rejected).toContain(`拒绝原因: ${runs[1].error.slice(0, 20)}`);
    // both runs are in the audit log
    const audited = await h.db('audit_log').where({ subject_type: 'recon_run' }).whereIn('subject_id', runs.map((r) => String(r.id))).orderBy('id');
    expect(audited.map((a) => [a.subject_id, a.action, a.actor])).toEqual([[String(runs[0].id), 'recon.run', 'system'], [String(runs[1].id), 'recon.rejected', 'system']]);
  });

  it('refuses a case filter that names no state, on the command line and on the page', async () => {
    await expect(casesCommand({ state: 'foo', page: '1' })).rejects.toThrow(/--state must be one of unresolved, open, investigating, resolved/);
    await expect(casesCommand({ class: 'bar', page: '1' })).rejects.toBeInstanceOf(ValidationError);
    const finance = await loginAs(base, h.db, 'finance');
    const res = await finance.get('/reconciliation?state=foo');
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('state must be one of');
  });
});

describe('times and dates in exports', () => {
  interface Row { at: Date; date: string; fen: number }
  const columns: ExportColumn<Row>[] = [
    { header: '结算日 Settlement date', width: 12, value: (r) => r.date, kind: 'date' },
    { header: '时间 At', width: 20, value: (r) => r.at, kind: 'time' },
    { header: '金额 Amount', width: 12, fen: (r) => r.fen },
  ];
  // 04:14:57 on 12-01 in Shanghai
  const rows: Row[] = [{ at: new Date('2026-11-30T20:14:57Z'), date: '2026-12-01', fen: 100 }, { at: new Date('2026-12-01T01:00:00Z'), date: '2026-12-01', fen: 250 }];

  it('writes XLSX times as date cells in Shanghai wall time, 结算日 as a date cell, and counts the rows in the totals row', async () => {
    const file = path.join(dir, 'times.xlsx');
    const out = (await import('node:fs')).createWriteStream(file);
    const workbook = streamingWorkbook(out);
    const sheet = new XlsxSection(workbook, 'T', columns);
    for (const r of rows) sheet.add(r);
    sheet.finish();
    await workbook.commit();
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile(file);
    const ws = book.worksheets[0]!;
    expect(ws.getCell('A2').value).toEqual(new Date('2026-12-01T00:00:00Z'));
    expect(ws.getCell('A2').numFmt).toBe('yyyy-mm-dd');
    // a spreadsheet's date has no zone: the cell reads 2026-12-01 04:14:57, Shanghai's wall time
    expect(ws.getCell('B2').value).toEqual(new Date('2026-12-01T04:14:57Z'));
    expect(ws.getCell('B2').numFmt).toBe('yyyy-mm-dd hh:mm:ss');
    expect(ws.getRow(4).values).toEqual([undefined, '合计 Total', '2 行 rows', 3.5]);
  });

  it('writes CSV times in ISO 8601 with +08:00', async () => {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    const csv = new CsvSection(out, columns);
    await csv.header();
    for (const r of rows) await csv.add(r);
    await csv.finish();
    expect(Buffer.concat(chunks).toString('utf8').split('\r\n')).toEqual([
      '结算日 Settlement date,时间 At,金额 Amount',
      '2026-12-01,2026-12-01T04:14:57+08:00,1.00',
      '2026-12-01,2026-12-01T09:00:00+08:00,2.50',
      '合计 Total,2 行 rows,3.50',
      '',
    ]);
  });
});

describe('ops actions in words', () => {
  it("says an order has no top-up workflow in a person's words, not Temporal's", () => {
    const err = new WorkflowNotFoundError('workflow not found for ID: topup-999', 'topup-999', undefined);
    expect(opsErrorInWords(err, 'zh')).toBe('此订单没有直充工作流：卡密订单在售后处理');
    expect(opsErrorInWords(err, 'en')).toBe('this order has no top-up workflow: card orders are handled in after-sales');
  });

  it("finds the local activities (plan, first placement, completion) in a top-up's history", async () => {
    const history = historyFromJSON(await fs.readFile('fixtures/histories/fulfillTopUp-completed.json', 'utf8'));
    const local = (history.events ?? []).flatMap((e) => (e.markerRecordedEventAttributes ? [localActivityType(e.markerRecordedEventAttributes as never)] : []));
    expect(local).toContain('planTopUp');
    expect(local).toContain('completeTopUp');
  });

  it('answers a refused ops action at once, in words, and changes nothing', async () => {
    const ops = await loginAs(base, h.db, 'ops');
    const res = await ops.post('/fulfillment/999999/action', { action: 'retry', reason: 'test retry' });
    expect(res.status).toBe(404);
  });
});

describe('the zh UI shows no untranslated word', () => {
  it('catches a raw status and a missing label (the check itself)', () => {
    expect(untranslated('<td>stuck</td><td>status_bogus</td><td data-status="stuck">卡单</td>')).toEqual(['status_bogus', 'stuck']);
    expect(untranslated('<td class="free-text">approved by the bank</td><code>{"status":"paid"}</code>')).toEqual([]);
    expect(RAW_WORDS).toContain('order.markSucceeded');
  });

  it('renders every page in zh with its statuses, audit actions and notices in Chinese', async () => {
    const actor = await userActor(h.db, 'finance');
    for (const action of RAW_WORDS.filter((w) => /^[a-z]+\.[A-Za-z_]+$/.test(w))) {
      await recordAudit(h.db, { actor, action, subjectType: action.startsWith('order.') ? 'order' : 'user', subjectId: 1, reason: 'approved' });
    }
    const session: DashboardSession = await loginAs(base, h.db, 'finance');
    const found: Record<string, string[]> = {};
    for (const route of ZH_ROUTES.filter((r) => !r.includes(':'))) {
      const res = await session.get(`${route}${route.includes('?') ? '&' : '?'}lang=zh`);
      expect(res.status, route).toBe(200);
      const words = untranslatedInContext(await res.text());
      if (words.length) found[route] = words.map((w) => `${w.word}: …${w.context}…`);
    }
    const admin: DashboardSession = await loginAs(base, h.db, 'admin');
    for (const route of ADMIN_ZH_ROUTES) {
      const res = await admin.get(`${route}${route.includes('?') ? '&' : '?'}lang=zh`);
      expect(res.status, route).toBe(200);
      const words = untranslatedInContext(await res.text());
      if (words.length) found[route] = words.map((w) => `${w.word}: …${w.context}…`);
    }
    expect(found).toEqual({});
    // a notice is said in Chinese too
    const notice = await (await session.get('/reconciliation?done=case:7:write_off&lang=zh')).text();
    expect(notice).toContain('#7 核销');
  });
});
