import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decideComplaint } from '../src/aftersales/complaints.ts';
import { Catalog } from '../src/catalog/catalog.ts';
import { DEMO_RECEIVING_BANK } from '../src/config.ts';
import { accountCode } from '../src/ledger/accounts.ts';
import { credit, debit } from '../src/ledger/ledger.ts';
import { signedHeaders } from '../src/resellers/signature.ts';
import { userActor } from './support/actors.ts';
import { openPortalWorld, portalLogin, postPortalLogin, PORTAL_PASSWORD, type PortalSessionClient, type PortalWorld } from './support/portal-world.ts';
import { untranslatedInContext } from './support/zh-render.ts';

/**
 * The portal's price list (and its export), complaints (售后: the reseller API's own, filed and
 * followed here), the wallet's receiving account, adjustments and rebates, and the owner disabling
 * a login. Every route of dashboard/pages/portal-pages.ts gets another reseller's 404 (or its own data).
 */
let w: PortalWorld;
let ownerA: PortalSessionClient;
let ownerB: PortalSessionClient;
let staffA: PortalSessionClient;
let complaintA: number;
const OVERRIDE_FEN = 9_500;

const fileComplaint = async (client: PortalSessionClient, orderId: number, form: Record<string, string>) => {
  const page = await (await client.get(`/portal/orders/${orderId}/complaint`)).text();
  const complaintId = /name="complaintId" value="([^"]+)"/.exec(page)![1]!;
  const res = await client.post(`/portal/orders/${orderId}/complaint`, { complaintId, ...form });
  return { res, complaintId };
};
const staffIdA = async () => Number((await w.h.db('reseller_users').where({ username: w.shops.a.staff }).first('id')).id);
const complaintCount = async () => Number((await w.h.db('complaints').count<{ n: string }[]>('* as n'))[0]!.n);

beforeAll(async () => {
  w = await openPortalWorld({ worker: true });
  const catalog = new Catalog(w.h.db);
  // shop a has its own price for the SKU it sells; 55 more SKUs of another brand make a second page
  await catalog.setPrice({ sku: w.sku, tier: 'reseller', resellerId: w.shops.a.id, priceFen: OVERRIDE_FEN });
  for (let i = 0; i < 55; i++) {
    const code = `PL-GAME-${String(i).padStart(2, '0')}`;
    await catalog.createSku({ code, nameZh: `游戏点卡${i}`, nameEn: `Game card ${i}`, brand: '网易', kind: 'card_code', faceValueFen: 5_000, lowStockThreshold: 0, procurementBatch: 0 });
    await catalog.setPrice({ sku: code, tier: 'default', priceFen: 4_900 });
  }
  // finance's adjustment to shop a's wallet, and a month's rebate as the month-end settlement posts it
  const finance = await userActor(w.h.db, 'finance');
  await w.h.deps.resellers.adjustWallet({ resellerId: w.shops.a.id, amountFen: 1_250, reference: 'TS-8812', reason: '投诉补偿 goodwill for a late code', actor: finance });
  await w.h.ledger.post({
    idempotencyKey: `rebate:${w.shops.a.id}:2021-02`, kind: 'rebate', description: '2021-02 月度返利 monthly volume rebate (default)',
    metadata: { resellerId: w.shops.a.id, month: '2021-02', netGrossFen: 800_000 },
    postings: [debit(accountCode.platform('rebates'), 8_000), credit(accountCode.resellerWallet(w.shops.a.id), 8_000)],
  });
  ownerA = await portalLogin(w.base, w.shops.a.owner);
  ownerB = await portalLogin(w.base, w.shops.b.owner);
  staffA = await portalLogin(w.base, w.shops.a.staff);
  const { res } = await fileComplaint(ownerA, w.shops.a.cardOrderId, { kind: 'used_code', note: '买家说卡密已被使用 the buyer says it was used' });
  expect(res.status).toBe(303);
  complaintA = Number(/\/portal\/complaints\/(\d+)$/.exec(res.headers.get('location')!)![1]);
}, 120_000);
afterAll(async () => {
  await w?.close();
});

describe('isolation: another reseller\'s user gets 404 on every new route, or its own data', () => {
  const cases: { route: string; call: () => Promise<Response>; expect: (res: Response, text: string) => void | Promise<void> }[] = [
    { route: 'GET /portal/prices', call: () => ownerB.get(`/portal/prices?q=${w.sku}`), expect: (res, text) => { expect(res.status).toBe(200); expect(text).toContain('data-source="default"'); expect(text).not.toContain('data-source="override"'); } },
    {
      route: 'GET /portal/prices.:format', call: () => ownerB.get(`/portal/prices.xlsx?q=${w.sku}`),
      expect: async (res) => {
        expect(res.status).toBe(200);
        const book = new ExcelJS.Workbook();
        await book.xlsx.load(Buffer.from(await res.arrayBuffer()) as never);
        expect(Number(book.getWorksheet('价目表 Price list')!.getRow(2).getCell(7).value)).toBe(98);
      },
    },
    { route: 'GET /portal/complaints', call: () => ownerB.get('/portal/complaints'), expect: (res, text) => { expect(res.status).toBe(200); expect(text).toContain('id="no-complaints"'); } },
    { route: 'GET /portal/complaints/:id', call: () => ownerB.get(`/portal/complaints/${complaintA}`), expect: (res, text) => { expect(res.status).toBe(404); expect(text).not.toContain(w.shops.a.resellerOrderId); } },
    { route: 'GET /portal/orders/:id/complaint', call: () => ownerB.get(`/portal/orders/${w.shops.a.cardOrderId}/complaint`), expect: (res) => expect(res.status).toBe(404) },
    {
      route: 'POST /portal/orders/:id/complaint',
      call: async () => {
        (cases as any).before = await complaintCount();
        return ownerB.post(`/portal/orders/${w.shops.a.cardOrderId}/complaint`, { complaintId: 'portal-b-probe', kind: 'invalid_code', note: 'x' });
      },
      expect: async (res) => { expect(res.status).toBe(404); expect(await complaintCount()).toBe((cases as any).before); },
    },
    {
      route: 'POST /portal/users/:id/disable', call: async () => ownerB.post(`/portal/users/${await staffIdA()}/disable`),
      expect: async (res) => { expect(res.status).toBe(404); expect((await w.h.db('reseller_users').where({ id: await staffIdA() }).first('disabled')).disabled).toBe(false); },
    },
    { route: 'POST /portal/users/:id/enable', call: async () => ownerB.post(`/portal/users/${await staffIdA()}/enable`), expect: (res) => expect(res.status).toBe(404) },
  ];

  it('the table names every route of portal-pages.ts', () => {
    expect(cases.map((c) => c.route).sort()).toEqual([...w.pageRoutes].sort());
  });
  for (const c of cases) {
    it(c.route, async () => {
      const res = await c.call();
      await c.expect(res, await res.clone().text());
    });
  }

  it('another reseller\'s wallet shows none of shop a\'s adjustments or rebates', async () => {
    const text = await (await ownerB.get('/portal/wallet')).text();
    expect(text).toContain('id="no-movements"');
    expect(text).not.toContain('TS-8812');
  });
});

describe('price list', () => {
  it('shows its override with the tier price beside it, searches, and pages', async () => {
    const text = await (await ownerA.get(`/portal/prices?q=${w.sku}`)).text();
    expect(text).toMatch(new RegExp(`<tr data-sku="${w.sku}" data-source="override">[^]*?<td class="num price">¥95\\.00</td>[^]*?¥98\\.00`));
    expect(text.match(/<tr data-sku=/g)).toHaveLength(1);
    const first = await (await ownerA.get('/portal/prices?q=%E7%BD%91%E6%98%93')).text(); // 网易: the brand
    expect(first.match(/<tr data-sku="PL-GAME-/g)).toHaveLength(50);
    expect(first).toContain('href="/portal/prices?q=%E7%BD%91%E6%98%93&amp;page=2"');
    const second = await (await ownerA.get('/portal/prices?q=%E7%BD%91%E6%98%93&page=2')).text();
    expect(second.match(/<tr data-sku="PL-GAME-/g)).toHaveLength(5);
    // a LIKE wildcard typed in the search is matched as itself
    expect(await (await ownerA.get('/portal/prices?q=%25')).text()).toContain('id="no-prices"');
  });

  it('exports as XLSX (read back with exceljs) and CSV, in finance\'s conventions, audited', async () => {
    const res = await ownerA.get('/portal/prices.xlsx');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toContain(`price-list-${w.shops.a.code}.xlsx`);
    const book = new ExcelJS.Workbook();
    await book.xlsx.load(Buffer.from(await res.arrayBuffer()) as never);
    const sheet = book.getWorksheet('价目表 Price list')!;
    expect(sheet.getRow(1).getCell(1).value).toBe('商品编码 SKU');
    expect(sheet.getRow(1).getCell(7).value).toBe('您的价格(元) Your price (¥)');
    expect(sheet.getRow(1).font?.bold).toBe(true);
    expect(sheet.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
    const rows = sheet.getSheetValues().slice(2) as unknown[][];
    const own = rows.find((r) => r?.[1] === w.sku)!;
    expect(own[6]).toBe(100);
    expect(own[7]).toBe(95);
    expect(own[8]).toBe('专属价 Your override');
    expect(own[9]).toBe(98);
    expect(sheet.getCell(`G${rows.indexOf(own) + 2}`).numFmt).toBe('#,##0.00');
    expect(rows.at(-1)![1]).toBe('合计 Total');
    expect(rows.at(-1)![2]).toBe('56 行 rows');

    const csv = await ownerA.get(`/portal/prices.csv?q=${w.sku}`);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const bytes = Buffer.from(await csv.arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = bytes.subarray(3).toString('utf8').trim().split('\r\n');
    expect(lines[0]).toContain('面值(元) Face value (¥)');
    expect(lines[1]).toContain(`${w.sku},`);
    expect(lines[1]).toContain(',100.00,95.00,专属价 Your override,98.00');
    expect(lines).toHaveLength(3);
    expect((await ownerA.get('/portal/prices.pdf')).status).toBe(404);
    const audits = await w.h.db('audit_log').where({ action: 'portal.export_price_list', actor: `portal:${w.shops.a.owner}` });
    expect(audits).toHaveLength(2);
  });
});

describe('complaints (售后)', () => {
  it('a portal complaint is the API\'s complaint: the same record, its workflow, on the timeline and audited as the reseller user', async () => {
    const row = await w.h.db('complaints').where({ id: complaintA }).first();
    expect(row).toMatchObject({ kind: 'used_code', status: 'open' });
    expect(Number(row.reseller_id)).toBe(w.shops.a.id);
    // the reseller's own system reads it through the signed API by the same id
    const path = `/api/v1/complaints/${row.complaint_key}`;
    const api = await fetch(`${w.base}${path}`, { headers: signedHeaders(w.shops.a.credentials, 'GET', path, '') });
    expect(api.status).toBe(200);
    expect((await api.json()).complaint).toMatchObject({ complaintId: row.complaint_key, resellerOrderId: w.shops.a.resellerOrderId, status: 'OPEN' });
    const filed = await w.h.db('complaint_events').where({ complaint_id: complaintA, kind: 'filed' }).first();
    expect(filed.actor).toBe(`portal:${w.shops.a.owner}`);
    const audit = await w.h.db('audit_log').where({ action: 'portal.file_complaint', subject_id: String(complaintA) }).first();
    expect(audit).toMatchObject({ actor: `portal:${w.shops.a.owner}`, actor_user_id: null, subject_type: 'complaint' });
    // the workflow runs: the supplier check (a file-imported code: nobody to ask) is on the timeline
    await expect.poll(async () => (await w.h.db('complaint_events').where({ complaint_id: complaintA }).pluck('kind')).length, { timeout: 30_000 }).toBeGreaterThan(1);
  });

  it('a double submit answers the same complaint; a second one about the same code is refused and changes nothing', async () => {
    const key = (await w.h.db('complaints').where({ id: complaintA }).first('complaint_key')).complaint_key;
    const again = await ownerA.post(`/portal/orders/${w.shops.a.cardOrderId}/complaint`, { complaintId: key, kind: 'used_code', note: '买家说卡密已被使用 the buyer says it was used' });
    expect(again.status).toBe(303);
    expect(again.headers.get('location')).toBe(`/portal/complaints/${complaintA}`);
    const before = await complaintCount();
    const { res } = await fileComplaint(staffA, w.shops.a.cardOrderId, { kind: 'invalid_code', note: 'again' });
    expect(res.status).toBe(409);
    const text = await res.text();
    expect(text).toContain('data-code="COMPLAINT_EXISTS"');
    expect(text).toContain('id="complaint-form"');
    expect(await complaintCount()).toBe(before);
    const bad = await fileComplaint(staffA, w.shops.a.cardOrderId, { kind: 'not_received' });
    expect(bad.res.status).toBe(400);
    expect(await complaintCount()).toBe(before);
  });

  it('the reseller follows it: status, timeline, and the outcome with the reason ops gave', async () => {
    const open = await (await ownerA.get(`/portal/complaints/${complaintA}`)).text();
    expect(open).toContain('data-status="open"');
    expect(open).toContain('data-event="filed"');
    expect(open).not.toContain('id="outcome"');
    const listed = await (await staffA.get('/portal/complaints?status=open')).text();
    expect(listed).toContain(`href="/portal/complaints/${complaintA}"`);

    const ops = await userActor(w.h.db, 'ops');
    await decideComplaint({ db: w.h.db, temporal: w.h.client }, complaintA, { actor: ops, decision: 'reject', reason: '供应商确认卡密未使用 the supplier shows it unused' });
    const decided = await (await ownerA.get(`/portal/complaints/${complaintA}`)).text();
    expect(decided).toContain('data-status="rejected"');
    expect(decided).toContain('<span class="free-text" id="decision-reason">供应商确认卡密未使用 the supplier shows it unused</span>');
    expect(decided).toContain('data-event="reject"');
    // the ops user's name is not the reseller's business
    expect(decided).not.toContain(ops.username);
    expect((await ownerA.get('/portal/complaints?status=open')).status).toBe(200);
    expect(await (await ownerA.get('/portal/complaints?status=open')).text()).toContain('id="no-complaints"');

    // after a rejection staff may file again, and a refund shows its amount
    const { res } = await fileComplaint(staffA, w.shops.a.cardOrderId, { kind: 'invalid_code', note: '' });
    expect(res.status).toBe(303);
    const second = Number(/(\d+)$/.exec(res.headers.get('location')!)![1]);
    await expect.poll(async () => (await w.h.db('complaint_events').where({ complaint_id: second }).pluck('kind')).length, { timeout: 30_000 }).toBeGreaterThan(1);
    await decideComplaint({ db: w.h.db, temporal: w.h.client }, second, { actor: ops, decision: 'refund', reason: 'goodwill', amountFen: 2_000 });
    const refunded = await (await staffA.get(`/portal/complaints/${second}`)).text();
    expect(refunded).toContain('data-status="refunded"');
    expect(refunded).toContain('<dd id="refund-amount">¥20.00</dd>');
  }, 90_000);

  it('the order page links to filing; the pages show no untranslated word in zh', async () => {
    expect(await (await ownerA.get(`/portal/orders/${w.shops.a.cardOrderId}`)).text()).toContain('id="file-complaint"');
    for (const path of ['/portal/prices', '/portal/complaints', `/portal/complaints/${complaintA}`, `/portal/orders/${w.shops.a.cardOrderId}/complaint`, '/portal/wallet', '/portal/users']) {
      const text = await (await ownerA.get(`${path}?lang=zh`)).text();
      expect(untranslatedInContext(text), path).toEqual([]);
    }
  });
});

describe('wallet', () => {
  it('shows the platform\'s receiving account and the reference to quote, in both languages', async () => {
    const zh = await (await ownerA.get('/portal/wallet?lang=zh')).text();
    expect(zh).toContain(`<dd id="bank-name">${DEMO_RECEIVING_BANK.bankNameZh}</dd>`);
    expect(zh).toContain(`<code id="account-number">${DEMO_RECEIVING_BANK.accountNumber}</code>`);
    expect(zh).toContain(`<code id="quote-reference">${w.shops.a.code}</code>`);
    const en = await (await ownerA.get('/portal/wallet?lang=en')).text();
    expect(en).toContain(`<dd id="account-name">${DEMO_RECEIVING_BANK.accountNameEn}</dd>`);
    expect(en).toContain('Platform receiving account');
  });

  it('lists the adjustments and rebates posted to its wallet, from the ledger', async () => {
    const text = await (await ownerA.get('/portal/wallet?lang=en')).text();
    expect(text).toMatch(/<tr data-kind="adjustment">[^]*?¥12\.50[^]*?TS-8812[^]*?<td class="free-text">投诉补偿 goodwill for a late code<\/td>/);
    expect(text).toMatch(/<tr data-kind="rebate">[^]*?¥80\.00[^]*?2021-02[^]*?¥8,000\.00/);
    // the complaint refund above is a refund, not an adjustment
    expect(text.match(/<tr data-kind=/g)).toHaveLength(2);
  });
});

describe('reseller users', () => {
  it('staff cannot disable anyone; the owner cannot disable itself', async () => {
    const page = await (await staffA.get('/portal/users')).text();
    expect(page).not.toMatch(/action="\/portal\/users\/\d+\/disable"/);
    const refused = await staffA.post(`/portal/users/${await staffIdA()}/disable`);
    expect(refused.status).toBe(403);
    const ownerId = Number((await w.h.db('reseller_users').where({ username: w.shops.a.owner }).first('id')).id);
    expect((await ownerA.post(`/portal/users/${ownerId}/disable`)).status).toBe(400);
    expect((await w.h.db('reseller_users').where({ id: ownerId }).first('disabled')).disabled).toBe(false);
  });

  it('the owner disables a staff login: its session ends at once, it cannot log in, audited; re-enabled it logs in again', async () => {
    const id = await staffIdA();
    expect((await staffA.get('/portal')).status).toBe(200);
    const res = await ownerA.post(`/portal/users/${id}/disable`);
    expect(res.status).toBe(303);
    expect((await staffA.get('/portal')).status).toBe(302);
    expect(await w.h.db('portal_sessions').where({ reseller_user_id: id }).first()).toBeUndefined();
    expect((await postPortalLogin(w.base, { username: w.shops.a.staff, password: PORTAL_PASSWORD })).status).toBe(401);
    expect(await (await ownerA.get('/portal/users')).text()).toMatch(new RegExp(`<tr data-user="${w.shops.a.staff}">[^]*?data-disabled="yes"[^]*?id="enable-${id}"`));
    const audit = await w.h.db('audit_log').where({ action: 'portal_user.disable', subject_id: String(id) }).first();
    expect(audit).toMatchObject({ actor: `portal:${w.shops.a.owner}`, subject_type: 'reseller_user' });

    expect((await ownerA.post(`/portal/users/${id}/enable`)).status).toBe(303);
    expect(await w.h.db('audit_log').where({ action: 'portal_user.enable', subject_id: String(id) }).first()).toBeDefined();
    staffA = await portalLogin(w.base, w.shops.a.staff);
    expect((await staffA.get('/portal')).status).toBe(200);
  });
});
