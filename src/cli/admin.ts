import fs from 'node:fs/promises';
import path from 'node:path';
import Table from 'cli-table3';
import type { Command } from 'commander';
import { CatalogAdmin } from '../catalog/admin.ts';
import { ComplianceDocuments } from '../compliance/documents.ts';
import { formatShanghai } from '../dates.ts';
import { ValidationError } from '../errors.ts';
import { formatYuan } from '../money.ts';
import { SupplierAdmin } from '../suppliers/admin.ts';
import { withActor, withCli, type CliContext } from './context.ts';

/**
 * Administration on the command line (issue 18), over the same domain services as the dashboard's
 * /admin pages: `kameng supplier`, `kameng sku`, `kameng price`, `kameng compliance`. Each change
 * is made as the logged-in user, checked for its role, validated and audited.
 */
export function registerAdminCommands(program: Command): void {
  program
    .command('supplier')
    .description('Suppliers: list | show | create | edit | deactivate | activate | rotate-secret | bank-account | offer (--code S; audited, as the logged-in user)')
    .argument('<action>', 'list, show, create, edit, deactivate, activate, rotate-secret, bank-account or offer')
    .option('--code <code>', 'supplier code (lower-case)')
    .option('--name <name>', 'create / edit: name')
    .option('--api-url <url>', 'create / edit: the supplier API endpoint')
    .option('--api-key-stdin', 'create / edit: read the API key from stdin (never on the command line)')
    .option('--bank <name>', 'bank-account: bank name (开户行)')
    .option('--account-name <name>', 'bank-account: account name (户名)')
    .option('--account-number <digits>', 'bank-account: account number (账号)')
    .option('--sku <code>', 'offer: our SKU')
    .option('--supplier-sku <code>', "offer: the supplier's product code")
    .option('--cost <yuan>', 'offer: cost per unit, e.g. 94.00 (a change is a new cost version)')
    .option('--priority <n>', 'offer: lower is tried first', '100')
    .option('--inactive', 'offer: keep the offer but do not route to it')
    .option('--from <ISO time>', 'offer: the cost applies from this instant (default now)')
    .option('--reason <text>', 'why (audited)')
    .action(supplierCommand);

  program
    .command('sku')
    .description('SKUs: list | show | create | edit | deactivate | activate (--code K; audited, as the logged-in user)')
    .argument('<action>', 'list, show, create, edit, deactivate or activate')
    .option('--code <code>', 'SKU code (capitals)')
    .option('--name-zh <name>', 'Chinese name')
    .option('--name-en <name>', 'English name')
    .option('--brand <brand>', 'brand (资质 are checked per brand)')
    .option('--kind <kind>', 'create: card_code or direct_topup')
    .option('--face-value <yuan>', 'create: face value, e.g. 100.00')
    .option('--threshold <n>', 'card SKUs: low-stock threshold')
    .option('--batch <n>', 'card SKUs: procurement batch size')
    .option('--reason <text>', 'why (audited)')
    .action(skuCommand);

  program
    .command('price')
    .description('Prices: list --sku K [--history] | set --sku K --tier default|silver|gold|reseller [--reseller R] --price 98.00 [--from T] [--force] --reason')
    .argument('<action>', 'list or set')
    .requiredOption('--sku <code>', 'SKU code')
    .option('--tier <tier>', 'default, silver, gold or reseller (an override for --reseller)')
    .option('--reseller <code>', 'tier reseller: the reseller')
    .option('--price <yuan>', 'price, e.g. 98.00')
    .option('--from <ISO time>', 'effective from (default now)')
    .option('--force', 'below the best cost: sell at a loss anyway (say why in --reason)')
    .option('--history', 'list: past versions too')
    .option('--reason <text>', 'why (audited)')
    .action(priceCommand);

  program
    .command('compliance')
    .description('资质 documents: list [--status pending] [--supplier S] | upload --supplier S --kind K [--brand B] --number N --valid-from D --expires-on D --file F | approve|reject --id N --reason R | expiring')
    .argument('<action>', 'list, upload, approve, reject or expiring')
    .option('--status <status>', 'list: pending, approved or rejected')
    .option('--supplier <code>', 'supplier code')
    .option('--kind <kind>', 'upload: business_licence, brand_authorisation or other')
    .option('--brand <brand>', 'upload: the brand authorised')
    .option('--number <no>', 'upload: document number (证件号)')
    .option('--valid-from <YYYY-MM-DD>', 'upload: valid from')
    .option('--expires-on <YYYY-MM-DD>', 'upload: expires on')
    .option('--file <path>', 'upload: the PDF, JPEG or PNG')
    .option('--id <n>', 'approve / reject: document number')
    .option('--reason <text>', 'why (reject: required)')
    .action(complianceCommand);
}

const supplierAdmin = (ctx: CliContext) => new SupplierAdmin(ctx.db, ctx.deps.suppliers);
const documentsOf = (ctx: CliContext) => new ComplianceDocuments(ctx.db, ctx.config.compliance);

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

const need = (value: string | undefined, option: string): string => {
  if (!value) throw new ValidationError(`${option} is required`);
  return value;
};

const instant = (text: string | undefined, option: string): Date | undefined => {
  if (text === undefined) return undefined;
  const at = new Date(text);
  if (Number.isNaN(at.getTime())) throw new ValidationError(`${option}: "${text}" is not a time (ISO 8601, e.g. 2026-12-01T00:00:00+08:00)`);
  return at;
};

export async function supplierCommand(action: string, o: {
  code?: string; name?: string; apiUrl?: string; apiKeyStdin?: boolean; bank?: string; accountName?: string; accountNumber?: string;
  sku?: string; supplierSku?: string; cost?: string; priority?: string; inactive?: boolean; from?: string; reason?: string;
}): Promise<void> {
  if (action === 'list' || action === 'show') {
    return withCli(async (ctx) => {
      const admin = supplierAdmin(ctx);
      if (action === 'list') {
        const table = new Table({ head: ['代码 code', '名称 name', 'API', '状态 status', '银行账户 bank account'] });
        for (const s of await admin.registry.list()) {
          const bank = admin.registry.bankAccount(s);
          table.push([s.code, s.name, s.apiBaseUrl, s.active ? '启用 active' : '停用 inactive', bank ? `${bank.bankName} ${(await admin.maskedBankAccount(s.code))!.accountNumber}` : '未登记 none']);
        }
        return console.log(table.toString());
      }
      const code = need(o.code, '--code');
      const s = await admin.get(code);
      const bank = await admin.maskedBankAccount(code);
      console.log(`${s.code} ${s.name} (${s.active ? 'active' : 'inactive'})\nAPI ${s.apiBaseUrl}\nbank ${bank ? `${bank.bankName} / ${bank.accountName} / ${bank.accountNumber}` : 'none'}`);
      const table = new Table({ head: ['SKU', '供应商编码 supplier SKU', '成本 cost', '优先级 priority', '启用 active', '成本历史 cost history'] });
      for (const offer of await admin.offers(code)) {
        table.push([offer.skuCode, offer.supplierSku, formatYuan(offer.costFen), offer.priority, offer.active ? 'yes' : 'no',
          offer.costHistory.map((c) => `${formatYuan(c.costFen)} from ${Number.isFinite(new Date(c.validFrom).getTime()) ? formatShanghai(c.validFrom) : 'the start'}`).join('\n')]);
      }
      console.log(table.toString());
    });
  }
  const permission = action === 'bank-account' ? 'settlement' : 'catalog';
  return withActor(permission, async (ctx, actor) => {
    const admin = supplierAdmin(ctx);
    const code = need(o.code, '--code');
    switch (action) {
      case 'create': {
        if (!o.apiKeyStdin) throw new ValidationError('--api-key-stdin is required: pipe the API key the supplier gave you (it is sealed, never shown again)');
        const { supplier, callbackSecret } = await admin.create(actor, { code, name: o.name, apiBaseUrl: o.apiUrl, apiKey: await readStdin(), reason: o.reason });
        console.log(`created supplier ${supplier.code} ${supplier.name}\n回调密钥 callback secret (shown once; give it to the supplier, it is only kept sealed): ${callbackSecret}`);
        return;
      }
      case 'edit':
        await admin.edit(actor, code, { name: o.name, apiBaseUrl: o.apiUrl, apiKey: o.apiKeyStdin ? await readStdin() : undefined, reason: o.reason });
        return console.log(`supplier ${code} changed`);
      case 'deactivate':
      case 'activate':
        await admin.setActive(actor, code, action === 'activate', o.reason);
        return console.log(`supplier ${code} ${action}d`);
      case 'rotate-secret': {
        const secret = await admin.rotateCallbackSecret(actor, code, o.reason);
        return console.log(`新回调密钥 new callback secret (shown once; the old one no longer verifies): ${secret}`);
      }
      case 'bank-account':
        await admin.setBankAccount(actor, code, { bankName: o.bank, accountName: o.accountName, accountNumber: o.accountNumber, reason: o.reason });
        return console.log(`bank account of ${code} saved (sealed): ${(await admin.maskedBankAccount(code))!.accountNumber}`);
      case 'offer':
        await admin.setOffer(actor, { supplier: code, sku: o.sku, supplierSku: o.supplierSku, cost: o.cost, priority: o.priority, active: !o.inactive, from: instant(o.from, '--from'), reason: o.reason });
        return console.log(`offer ${code} → ${o.sku} saved`);
      default:
        throw new ValidationError(`unknown action "${action}": list, show, create, edit, deactivate, activate, rotate-secret, bank-account or offer`);
    }
  });
}

export async function skuCommand(action: string, o: { code?: string; nameZh?: string; nameEn?: string; brand?: string; kind?: string; faceValue?: string; threshold?: string; batch?: string; reason?: string }): Promise<void> {
  if (action === 'list' || action === 'show') {
    return withCli(async (ctx) => {
      const admin = new CatalogAdmin(ctx.db);
      const skus = action === 'list' ? await admin.catalog.list() : [await admin.catalog.sku(need(o.code, '--code'))];
      const table = new Table({ head: ['SKU', '名称 name', '品牌 brand', '类型 kind', '面值 face', '阈值 threshold', '批量 batch', '状态 status'] });
      for (const s of skus) table.push([s.code, `${s.nameZh} ${s.nameEn}`, s.brand, s.kind, formatYuan(s.faceValueFen), s.lowStockThreshold, s.procurementBatch, s.active ? '在售 on sale' : '下架 off sale']);
      console.log(table.toString());
    });
  }
  return withActor('catalog', async (ctx, actor) => {
    const admin = new CatalogAdmin(ctx.db);
    const code = need(o.code, '--code');
    switch (action) {
      case 'create': {
        const sku = await admin.createSku(actor, { code, nameZh: o.nameZh, nameEn: o.nameEn, brand: o.brand, kind: o.kind, faceValue: o.faceValue, lowStockThreshold: o.threshold, procurementBatch: o.batch, reason: o.reason });
        return console.log(`created SKU ${sku.code} ${sku.nameZh}; set its prices with \`kameng price set --sku ${sku.code} ...\``);
      }
      case 'edit':
        await admin.editSku(actor, code, { nameZh: o.nameZh, nameEn: o.nameEn, brand: o.brand, lowStockThreshold: o.threshold, procurementBatch: o.batch, reason: o.reason });
        return console.log(`SKU ${code} changed`);
      case 'deactivate':
      case 'activate':
        await admin.setActive(actor, code, action === 'activate', o.reason);
        return console.log(`SKU ${code} ${action === 'activate' ? 'on sale' : 'off sale'}`);
      default:
        throw new ValidationError(`unknown action "${action}": list, show, create, edit, deactivate or activate`);
    }
  });
}

export async function priceCommand(action: string, o: { sku: string; tier?: string; reseller?: string; price?: string; from?: string; force?: boolean; history?: boolean; reason?: string }): Promise<void> {
  if (action === 'list') {
    return withCli(async (ctx) => {
      const table = new Table({ head: ['档位 tier', '分销商 reseller', '价格 price', '生效 from', '截止 to'] });
      for (const p of await new CatalogAdmin(ctx.db).prices(o.sku, { history: o.history })) {
        table.push([p.tier, p.resellerCode ?? '', formatYuan(p.priceFen), formatShanghai(p.validFrom), p.validTo ? formatShanghai(p.validTo) : '']);
      }
      console.log(table.toString());
    });
  }
  if (action !== 'set') throw new ValidationError(`unknown action "${action}": list or set`);
  return withActor('pricing', async (ctx, actor) => {
    const id = await new CatalogAdmin(ctx.db).setPrice(actor, { sku: o.sku, tier: o.tier, reseller: o.reseller, price: o.price, from: instant(o.from, '--from'), force: o.force, reason: o.reason });
    console.log(`price version ${id}: ${o.sku} ${o.tier}${o.reseller ? ` ${o.reseller}` : ''} ${o.price}`);
  });
}

export async function complianceCommand(action: string, o: { status?: string; supplier?: string; kind?: string; brand?: string; number?: string; validFrom?: string; expiresOn?: string; file?: string; id?: string; reason?: string }): Promise<void> {
  if (action === 'list' || action === 'expiring') {
    return withCli(async (ctx) => {
      const docs = documentsOf(ctx);
      const rows = action === 'list'
        ? await docs.list({ status: o.status as never, supplier: o.supplier })
        : (await docs.expiryWarnings()).map((d) => ({ ...d, status: `${d.daysLeft < 0 ? '已过期 expired' : `${d.daysLeft} 天 days`} (≤${d.level})` as never }));
      const table = new Table({ head: ['#', '供应商 supplier', '类型 kind', '品牌 brand', '证件号 number', '有效期 valid', '状态 status', '上传 by', '审核 reviewed by'] });
      for (const d of rows) table.push([d.id, d.supplierCode, d.kind, d.brand ?? '', d.documentNo, `${d.validFrom} ~ ${d.expiresOn}`, d.status, d.uploadedBy ?? '', d.reviewedBy ? `${d.reviewedBy}: ${d.reviewReason}` : '']);
      console.log(rows.length ? table.toString() : 'none');
    });
  }
  if (action === 'upload') {
    return withActor('documents', async (ctx, actor) => {
      const file = need(o.file, '--file');
      const stat = await fs.stat(file).catch(() => undefined);
      if (!stat?.isFile()) throw new ValidationError(`--file: ${file} is not a file`);
      if (stat.size > ctx.config.compliance.documentMaxBytes) throw new ValidationError(`--file: ${file} is larger than ${ctx.config.compliance.documentMaxBytes} bytes`);
      const doc = await documentsOf(ctx).upload(actor, {
        supplier: o.supplier, kind: o.kind, brand: o.brand, documentNo: o.number, validFrom: o.validFrom, expiresOn: o.expiresOn,
        fileName: path.basename(file), bytes: await fs.readFile(file), reason: o.reason,
      });
      console.log(`document #${doc.id} uploaded (${doc.type}, sha256 ${doc.sha256}): pending until another user approves it (kameng compliance approve --id ${doc.id})`);
    });
  }
  if (action !== 'approve' && action !== 'reject') throw new ValidationError(`unknown action "${action}": list, upload, approve, reject or expiring`);
  return withActor('compliance', async (ctx, actor) => {
    const id = Number(need(o.id, '--id'));
    if (!Number.isSafeInteger(id) || id <= 0) throw new ValidationError('--id: a document number');
    const doc = await documentsOf(ctx).review(actor, id, { decision: action, reason: o.reason });
    console.log(`document #${doc.id} ${doc.status} by ${doc.reviewedBy}`);
  });
}
