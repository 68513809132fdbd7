import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { businessDayRange } from '../src/dates.ts';
import { reconcileDay, SuspiciousStatementError } from '../src/reconciliation/reconcile.ts';
import { StatementFormatError } from '../src/reconciliation/statement/errors.ts';
import { parseAmount, parseTime } from '../src/reconciliation/statement/profile.ts';
import { loadProfile, previewStatement, saveProfile } from '../src/reconciliation/statement/profiles.ts';
import type { ReconSummary } from '../src/reconciliation/types.ts';
import { recordPlacement, recordResult } from '../src/supplier-api/transactions.ts';
import type { Supplier } from '../src/suppliers/registry.ts';
import { userActor } from './support/actors.ts';
import { openHarness, TEST_RECON_SETTINGS, uniq, type Harness } from './support/harness.ts';
import { supplierCode } from './support/world.ts';

/**
 * Statements as suppliers really send them (issue 19): a title and an account line before the
 * header, no quantity column, a 合计 footer, status words of their own, amounts with ¥, 元,
 * thousands separators, full-width digits and (negatives), times in every common shape, GBK or
 * UTF-8, CSV with any separator or XLSX with the statement on its second sheet. Each is generated
 * with the same planted discrepancies, and each is classified exactly as planted.
 */
let h: Harness;
let dir: string;
const D = '2026-10-07';

beforeAll(async () => {
  h = await openHarness();
  await h.ledger.openPlatformAccounts();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-profiles-'));
});
afterAll(async () => {
  await h.close();
  await fs.rm(dir, { recursive: true, force: true });
});

const at = (hhmmss: string) => new Date(businessDayRange(D).start.getTime() + Date.parse(`1970-01-01T${hhmmss}Z`));

async function newSupplier(label: string): Promise<Supplier> {
  const code = supplierCode(label);
  return h.deps.suppliers.upsert({ code, name: `${code} 供应商`, apiBaseUrl: 'http://127.0.0.1:1', apiKey: 'k' });
}

async function ours(s: Supplier, requestId: string, status: 'success' | 'failed' = 'success') {
  await recordPlacement(h.db, { requestId, supplierId: s.id, kind: 'topup', skuCode: 'CMCC-50', supplierSku: 'CM50', quantity: 1, costFen: 4_850 });
  await recordResult(h.db, requestId, { status, supplierTxnId: `T-${requestId}`, completedAt: at('12:00:00') });
}

async function file(name: string, content: string | Buffer): Promise<string> {
  const target = path.join(dir, `${uniq('f')}-${name}`);
  await fs.writeFile(target, content);
  return target;
}

const reconcile = (s: Supplier, statement: string, name?: string, checkSuspicious = true) => reconcileDay(h.db, {
  supplier: s, date: D, file: statement, fileName: name, source: 'uploaded', workflowId: 'test', triggeredBy: 'test',
  archiveDir: TEST_RECON_SETTINGS.archiveDir, windowMinutes: 10, checkSuspicious,
});

/** The planted lines: what each is, in the statement's own words. */
interface Planted { label: string; fen: number; status: 'success' | 'failed' | 'processing' | 'refund' }
const PLANTED: Planted[] = [
  { label: 'ok', fen: 4_850, status: 'success' },
  { label: 'amount', fen: 4_950, status: 'success' },
  { label: 'status', fen: 4_850, status: 'failed' },
  { label: 'unknown', fen: 101_000, status: 'success' },
  { label: 'proc', fen: 4_850, status: 'processing' },
  { label: 'ok', fen: -4_850, status: 'refund' },
];
/** Every shape must come out as this: label (refund lines marked) -> class. */
const EXPECTED = {
  ok: 'matched', 'ok/refund': 'refund_at_supplier', amount: 'amount_mismatch', status: 'status_mismatch',
  unknown: 'missing_in_ours', proc: 'processing_at_supplier', omitted: 'missing_at_supplier',
};

async function plant(s: Supplier): Promise<(label: string) => string> {
  const ref = (label: string) => `${s.code}-${label}`;
  for (const label of ['ok', 'amount', 'status', 'proc', 'omitted']) await ours(s, ref(label));
  return ref;
}

async function classified(s: Supplier, summary: ReconSummary): Promise<Record<string, string>> {
  const rows = await h.db('recon_results').where({ run_id: summary.runId });
  // a line unknown to us keeps the supplier's id only
  return Object.fromEntries(rows.map((r) => [r.class === 'missing_in_ours' ? 'unknown' : `${String(r.request_id).replace(`${s.code}-`, '')}${r.class === 'refund_at_supplier' ? '/refund' : ''}`, r.class]));
}

const yuan = (fen: number) => (fen / 100).toFixed(2);
const withThousands = (fen: number) => yuan(fen).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
const fullWidth = (text: string) => text.replace(/[0-9.]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
const totalFen = PLANTED.reduce((n, p) => n + p.fen, 0);

const ZH_STATUS = { success: '充值成功', failed: '交易关闭', processing: '处理中', refund: '已退款' };
const EN_STATUS = { success: 'SUCCESS', failed: 'closed', processing: 'PENDING', refund: 'success' };

describe('statements as suppliers send them are classified as planted', () => {
  it('GBK CSV, CRLF, a title and an account line, no quantity column, Chinese status words, ¥ and thousands, a 合计 footer', async () => {
    const s = await newSupplier('gbk');
    const ref = await plant(s);
    // GBK has the full-width ￥ (the half-width ¥ is not in it)
    const lines = PLANTED.map((p, i) => `${i + 1},T-${i},${ref(p.label)},50,"${p.fen < 0 ? '-' : ''}￥${withThousands(Math.abs(p.fen))}",${ZH_STATUS[p.status]},2026/10/7 12:00:0${i}`);
    const text = [`XX公司对账单 ${D}`, '商户号: 10086,账户: 卡盟', '序号,流水号,外部订单号,面值,结算金额,交易状态,交易时间', ...lines, `合计,${PLANTED.length}笔,,,"${withThousands(totalFen)}",,`].join('\r\n') + '\r\n';
    const summary = await reconcile(s, await file('对账单.csv', iconv.encode(text, 'gbk')), '对账单.csv');
    expect(await classified(s, summary)).toEqual(EXPECTED);
    expect(summary.lines).toBe(PLANTED.length);
    expect(summary.findings!.filter((f) => f.kind === 'preamble').map((f) => f.line)).toEqual([1, 2]);
    expect(summary.findings!.some((f) => f.kind === 'control_total_mismatch')).toBe(false);
  });

  it('UTF-8 with BOM, tab-separated, English headers, ISO times with an offset, a refund as (48.50)', async () => {
    const s = await newSupplier('tab');
    const ref = await plant(s);
    const lines = PLANTED.map((p, i) => [`T-${i}`, ref(p.label), p.fen < 0 ? `(${yuan(-p.fen)})` : yuan(p.fen), EN_STATUS[p.status], `2026-10-07T04:00:0${i}Z`].join('\t'));
    const text = `\uFEFF${['trade_no\tout_trade_no\tamount\tstatus\ttrade_time', ...lines, `Total\t${PLANTED.length} records\t${yuan(totalFen)}\t\t`].join('\n')}\n`;
    const summary = await reconcile(s, await file('statement.csv', text));
    expect(await classified(s, summary)).toEqual(EXPECTED);
  });

  it('UTF-8 semicolons, the date and the time in two columns, full-width digits and 元', async () => {
    const s = await newSupplier('semi');
    const ref = await plant(s);
    const words = { success: '交易成功', failed: '失败', processing: '充值中', refund: '冲正' };
    const lines = PLANTED.map((p, i) => [ref(p.label), `${fullWidth(yuan(p.fen))}元`, words[p.status], '2026-10-07', `12:00:0${i}`].join(';'));
    const summary = await reconcile(s, await file('stmt.csv', `${['商户订单号;金额;状态;交易日期;交易时间', ...lines].join('\n')}\n`));
    expect(await classified(s, summary)).toEqual(EXPECTED);
  });

  it('XLSX: a summary sheet first, the statement on the second under a title, date cells, an Excel serial time, number amounts, a 合计 row', async () => {
    const s = await newSupplier('xlsx');
    const ref = await plant(s);
    const book = new ExcelJS.Workbook();
    const cover = book.addWorksheet('汇总');
    cover.addRow(['对账汇总', D]);
    cover.addRow(['笔数', PLANTED.length]);
    const sheet = book.addWorksheet('明细');
    sheet.addRow([`XX公司对账单 ${D}`]);
    sheet.addRow([]);
    sheet.addRow(['订单号', '商户订单号', '数量', '金额(元)', '订单状态', '完成时间']);
    PLANTED.forEach((p, i) => {
      // XLSX stores wall-clock time: exceljs writes a Date as if it were UTC
      const time = i === 0 ? 25569 + (Date.UTC(2026, 9, 7, 12, 0, 0) / 86_400_000) : new Date(Date.UTC(2026, 9, 7, 12, 0, i));
      sheet.addRow([`T-${i}`, ref(p.label), 1, p.fen / 100, ZH_STATUS[p.status], time]);
    });
    sheet.addRow(['合计', PLANTED.length, null, totalFen / 100]);
    const target = path.join(dir, `${uniq('x')}.xlsx`);
    await book.xlsx.writeFile(target);
    const summary = await reconcile(s, target);
    expect(await classified(s, summary)).toEqual(EXPECTED);
    expect(summary.findings!.some((f) => f.kind === 'control_total_mismatch')).toBe(false);
  });

  it("a saved profile: the supplier's own header, status word and amounts in fen", async () => {
    const s = await newSupplier('fen');
    const ref = await plant(s);
    const finance = await userActor(h.db, 'finance');
    await saveProfile(h.db, finance, s.code, { columns: { merchantOrderNo: ['我方单号'] }, statusWords: { success: ['OKAY'] }, amountUnit: 'fen' });
    const words = { success: 'OKAY', failed: '失败', processing: '处理中', refund: '退款' };
    const lines = PLANTED.map((p, i) => [ref(p.label), String(p.fen), words[p.status], `2026-10-07 12:00:0${i}`].join(','));
    const summary = await reconcile(s, await file('fen.csv', iconv.encode(`${['我方单号,金额,状态,时间', ...lines].join('\n')}\n`, 'gbk')));
    expect(await classified(s, summary)).toEqual(EXPECTED);
    const audit = await h.db('audit_log').where({ action: 'recon.statement_profile', subject_id: s.code }).first();
    expect(Number(audit.actor_user_id)).toBe(finance.userId);
    expect((await loadProfile(h.db, s.id)).amountUnit).toBe('fen');
  });

  it('refuses a profile with field errors, saving nothing', async () => {
    const s = await newSupplier('badprofile');
    const finance = await userActor(h.db, 'finance');
    await expect(saveProfile(h.db, finance, s.code, { timeZone: 'Mars/Olympus', quantityDefault: 0 })).rejects.toThrow(/timeZone: is not a time zone.*|quantityDefault/);
    expect(await h.db('supplier_statement_profiles').where({ supplier_id: s.id }).first()).toBeUndefined();
  });
});

describe('control totals, wrong files and bad lines', () => {
  it('reports a footer that does not add up (a cut file) as a finding on the run, not a refusal', async () => {
    const s = await newSupplier('cut');
    const ref = await plant(s);
    const lines = PLANTED.slice(0, 3).map((p, i) => `T-${i},${ref(p.label)},${yuan(p.fen)},${ZH_STATUS[p.status]},2026-10-07 12:00:0${i}`);
    const text = ['流水号,商户订单号,金额,状态,完成时间', ...lines, `合计：共${PLANTED.length}笔，金额：${yuan(totalFen)}元`].join('\r\n');
    const summary = await reconcile(s, await file('cut.csv', iconv.encode(text, 'gbk')));
    const mismatches = summary.findings!.filter((f) => f.kind === 'control_total_mismatch');
    expect(mismatches.map((f) => f.message)).toEqual([
      expect.stringMatching(/says 6 lines; the file has 3/),
      expect.stringMatching(new RegExp(`says ${yuan(totalFen)} yuan`)),
    ]);
    const run = await h.db('recon_runs').where({ id: summary.runId }).first();
    expect(run.status).toBe('completed');
    expect(run.findings.filter((f: { kind: string }) => f.kind === 'control_total_mismatch')).toHaveLength(2);
  });

  it("stops a file whose lines are mostly unknown (another day's or supplier's) as suspicious, writing nothing, until confirmed", async () => {
    const s = await newSupplier('wrongday');
    const other = await newSupplier('otherone');
    await ours(s, `${s.code}-real`);
    for (let i = 0; i < 30; i++) await ours(other, `${other.code}-${i}`);
    const lines = Array.from({ length: 30 }, (_, i) => `T-${i},${other.code}-${i},48.50,成功,2026-10-06 12:00:00`);
    const statement = await file('wrong.csv', `${['流水号,商户订单号,金额,状态,完成时间', ...lines].join('\n')}\n`);
    const error = await reconcile(s, statement).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(SuspiciousStatementError);
    const evidence = (error as SuspiciousStatementError).evidence;
    expect(evidence).toMatchObject({ lines: 30, unknownLines: 30, ourTransactions: 1, fileDates: [{ date: '2026-10-06', lines: 30 }] });
    expect(evidence.knownElsewhere).toEqual([{ supplierCode: other.code, date: D, count: 30 }]);
    const run = await h.db('recon_runs').where({ id: evidence.runId }).first();
    expect(run.status).toBe('suspicious');
    expect(Number((await h.db('recon_items').where({ run_id: evidence.runId }).count({ n: '*' }).first())!.n)).toBe(0);
    expect(Number((await h.db('recon_cases').where({ supplier_id: s.id }).count({ n: '*' }).first())!.n)).toBe(0);
    // finance confirms: the same file is reconciled
    const confirmed = await reconcile(s, statement, undefined, false);
    expect(confirmed.counts.missing_in_ours?.lines).toBe(30);
  });

  it('refuses a truly bad line with file:line:column, and a legacy .xls with what to do', async () => {
    const s = await newSupplier('bad');
    const text = ['XX公司对账单', '流水号,商户订单号,金额,状态,完成时间', 'T-1,r1,48.50,成功,2026-10-07 12:00:00', 'T-2,r2,4x.50,成功,2026-10-07 12:00:00'].join('\n');
    const error = await reconcile(s, await file('bad.csv', text)).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(StatementFormatError);
    expect((error as Error).message).toContain('bad.csv:4:3 (金额): "4x.50" is not an amount');
    const xls = Buffer.concat([Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]), Buffer.alloc(512)]);
    await expect(reconcile(s, await file('old.xls', xls), 'old.xls')).rejects.toThrow(/save it as \.xlsx/);
  });
});

describe('the preview finance sees before saving a profile', () => {
  it('shows the first lines, the column each field came from, the preamble and the totals', async () => {
    const text = ['XX公司对账单 2026-11-23', '序号,流水号,外部订单号,结算金额,交易状态,下单时间',
      ...Array.from({ length: 25 }, (_, i) => `${i + 1},T-${i},R-${i},48.50,充值成功,2026/11/23 9:05:${String(i).padStart(2, '0')}`), '合计,25笔,,"1,212.50",,'].join('\r\n');
    const preview = await previewStatement(await file('p.csv', iconv.encode(text, 'gbk')), 'p.csv', (await import('../src/reconciliation/statement/profile.ts')).DEFAULT_PROFILE);
    expect(preview.headerLine).toBe(2);
    expect(preview.encoding).toBe('gbk');
    expect(preview.lines).toHaveLength(20);
    expect(preview.totalLines).toBe(25);
    expect(preview.columns).toMatchObject({ supplierTxnId: { column: '流水号' }, merchantOrderNo: { column: '外部订单号' }, amount: { column: '结算金额' }, completedAt: { column: '下单时间' } });
    expect(preview.columns.quantity).toBeUndefined();
    expect(preview.lines[0]).toMatchObject({ quantity: 1, amountFen: 4850, status: 'success', completedAt: new Date('2026-11-23T01:05:00Z') });
    expect(preview.findings.map((f) => f.kind)).toEqual(['preamble', 'footer']);
    expect(preview.totalProblems).toBe(0);
  });
});

describe('amounts and times as suppliers write them', () => {
  it.each([
    ['48.50', 4850], ['¥48.5', 4850], ['￥1,234.00', 123400], ['48元', 4800], ['-1.00', -100], ['(1.00)', -100], ['-¥3.20', -320], ['４８．５０', 4850], ['RMB 12', 1200],
  ])('reads %s as %i fen', (text, fen) => expect(parseAmount(text, 'yuan')).toBe(fen));
  it.each(['1.234', '1,23.00', '4x', '', '--1', '1 000'])('refuses %j', (text) => expect(parseAmount(text, 'yuan')).toBeNaN());
  it.each([
    ['2026/11/23 9:05:01', '2026-11-23T01:05:01.000Z'], ['2026-11-23T09:05:01+08:00', '2026-11-23T01:05:01.000Z'], ['2026-11-23T01:05:01Z', '2026-11-23T01:05:01.000Z'],
    ['2026年11月23日 9:05', '2026-11-23T01:05:00.000Z'], ['20261123090501', '2026-11-23T01:05:01.000Z'], ['46349.378483796296', '2026-11-23T01:05:01.000Z'],
  ])('reads %s (Asia/Shanghai)', (text, iso) => expect(parseTime(text, 'Asia/Shanghai')?.toISOString()).toBe(iso));
  it('reads a time in the supplier\'s own zone', () => expect(parseTime('2026-11-23 09:05:01', 'America/New_York')?.toISOString()).toBe('2026-11-23T14:05:01.000Z'));
});

describe('the statement profile page', () => {
  it('uploads a sample, previews it by a draft profile with field errors shown, and saves it (audited)', async () => {
    const { createDashboardApp } = await import('../dashboard/app.ts');
    const { loginAs } = await import('./support/dashboard-session.ts');
    const { loadConfig } = await import('../src/config.ts');
    const s = await newSupplier('page');
    const config = { ...loadConfig(), reconciliation: TEST_RECON_SETTINGS };
    const app = createDashboardApp({ db: h.db, ledger: h.ledger, client: h.client, config, infrastructure: ['test'],
      health: { postgres: '18', migrations: 13, accounts: 1, entries: 0, ledgerImbalanceFen: 0, checkedAt: new Date().toISOString() } });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const base = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
      const finance = await loginAs(base, h.db, 'finance');
      const page = `/admin/suppliers/${s.code}/statement-profile`;
      expect((await finance.get(page)).status).toBe(200);
      const sample = iconv.encode(['XX公司对账单 2026-11-23', '流水号,我方单号,扣款,交易状态,交易时间', 'T-1,R-1,4850,OKAY,2026/11/23 9:05:01', '合计,1笔,,4850,'].join('\r\n'), 'gbk');
      const uploaded = await fetch(`${base}${page}/sample?name=${encodeURIComponent('样例.csv')}`, {
        method: "POST", body: new Uint8Array(sample), headers: { cookie: finance.cookie, 'x-csrf-token': finance.csrf, 'content-type': 'application/octet-stream', accept: 'application/json' },
      });
      expect(uploaded.status).toBe(201);
      const { location } = await uploaded.json() as { location: string };
      // by the defaults, 我方单号 and 扣款 are no columns it knows
      expect(await (await finance.get(location.replace(base, ''))).text()).toContain('header is missing column(s)');
      const sampleId = new URL(location, base).searchParams.get('sample')!;
      const draft = JSON.stringify({ columns: { merchantOrderNo: ['我方单号'], amount: ['扣款'] }, statusWords: { success: ['OKAY'] }, amountUnit: 'fen' });
      const previewed = await (await finance.post(page, { profile: draft, sample: sampleId, step: 'preview' })).text();
      expect(previewed).toContain('我方单号 (#2)');
      expect(previewed).toContain('default 1');
      expect(previewed).toContain('48.50');
      expect(previewed).toContain('XX公司对账单 2026-11-23');
      const refused = await finance.post(page, { profile: JSON.stringify({ amountUnit: 'jiao' }), sample: sampleId, step: 'save' });
      expect(refused.status).toBe(422);
      expect(await refused.text()).toContain('amountUnit');
      expect(await h.db('supplier_statement_profiles').where({ supplier_id: s.id }).first()).toBeUndefined();
      expect((await finance.post(page, { profile: draft, sample: sampleId, step: 'save' })).status).toBe(303);
      expect((await loadProfile(h.db, s.id)).columns.merchantOrderNo).toEqual(['我方单号']);
      expect(await h.db('audit_log').where({ action: 'recon.statement_profile', subject_id: s.code, actor: finance.username }).first()).toBeTruthy();
    } finally {
      server.close();
    }
  });
});

describe('a suspicious statement in its workflow', () => {
  it('waits for finance, who confirms it (audited), and the same workflow reconciles it', async () => {
    const { loadConfig } = await import('../src/config.ts');
    const { confirmSuspiciousStatement, startReconciliation } = await import('../src/reconciliation/trigger.ts');
    const s = await newSupplier('confirm');
    const c = loadConfig();
    const config = { ...c, reconciliation: TEST_RECON_SETTINGS, temporal: { ...c.temporal, taskQueues: { ...c.temporal.taskQueues, reconciliation: h.taskQueue } } };
    const lines = Array.from({ length: 25 }, (_, i) => `T-${i},elsewhere-${i},48.50,成功,2026-10-07 12:00:00`);
    const statement = await file('wrong.csv', `${['流水号,商户订单号,金额,状态,完成时间', ...lines].join('\n')}\n`);
    const handle = await startReconciliation(h.client, config, { supplierCode: s.code, date: D, file: statement, triggeredBy: 'finance-test' });
    await expect.poll(async () => (await h.db('recon_runs').where({ supplier_id: s.id }).orderBy('id', 'desc').first())?.status, { timeout: 20_000 }).toBe('suspicious');
    const finance = await userActor(h.db, 'finance');
    const { runId } = await confirmSuspiciousStatement(h.client, h.db, finance, { supplierCode: s.code, date: D, reason: '供应商确认是当日对账单' });
    const summary = await handle.result();
    expect(summary.counts.missing_in_ours?.lines).toBe(25);
    const audit = await h.db('audit_log').where({ action: 'recon.confirm_suspicious', subject_id: String(runId) }).first();
    expect(Number(audit.actor_user_id)).toBe(finance.userId);
    expect((await h.db('recon_runs').where({ id: summary.runId }).first()).confirmed_by).toBe(finance.username);
  });
});
