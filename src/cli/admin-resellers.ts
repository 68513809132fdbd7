import Table from 'cli-table3';
import type { Command } from 'commander';
import { businessDateOf, formatShanghai } from '../dates.ts';
import { ValidationError } from '../errors.ts';
import { displayYuan, parseYuan } from '../money.ts';
import { ResellerAdmin } from '../resellers/admin.ts';
import { formatProblem, importRechargeFile, RechargeImportRejectedError } from '../wallet/bank-import.ts';
import { CHANNEL_LABELS, Recharges, type Recharge, type RechargeStatus } from '../wallet/recharges.ts';
import { withActor, type CliContext } from './context.ts';

const resellerAdmin = (ctx: CliContext) => new ResellerAdmin(ctx.db, ctx.deps.resellers, {
  allowPrivateCallbacks: ctx.config.fulfillment.allowPrivateCallbacks, secretOverlapMs: ctx.config.resellers.secretOverlapMs,
});
const rechargesOf = (ctx: CliContext) => new Recharges(ctx.db, ctx.deps.ledger, ctx.config.resellers);

interface ResellerOptions { code?: string; name?: string; contact?: string; tier?: string; callbackUrl?: string; ipAllowlist?: string; lowBalance?: string; reason?: string; overlapHours?: string; page?: string }

/** `kameng reseller add|list|update|rotate-secret|revoke-old-secret|suspend|reactivate` (an admin, logged in). */
async function resellerCommand(action: string, o: ResellerOptions): Promise<void> {
  const need = (value: string | undefined, flag: string) => {
    if (!value) throw new ValidationError(`${flag} is required for \`kameng reseller ${action}\``);
    return value;
  };
  const lowBalanceFen = o.lowBalance === undefined ? undefined : parseYuan(o.lowBalance, '--low-balance');
  await withActor('resellers', async (ctx, actor) => {
    const admin = resellerAdmin(ctx);
    switch (action) {
      case 'add': {
        const { reseller, apiSecret } = await admin.onboard(actor, {
          code: need(o.code, '--code'), name: need(o.name, '--name'), contact: o.contact, tier: o.tier, callbackUrl: o.callbackUrl, ipAllowlist: o.ipAllowlist, lowBalanceFen,
        });
        console.log(`分销商 reseller ${reseller.code} onboarded (#${reseller.id}, ${reseller.tier})`);
        console.log(`API key:    ${reseller.apiKey}`);
        console.log(`API secret: ${apiSecret}   (shown once: hand it to the reseller now; it is never shown again)`);
        console.log(`充值参考 recharge reference: ${reseller.code} (the reseller quotes it in every payment's memo)`);
        return;
      }
      case 'list': {
        const page = Math.max(1, Number(o.page ?? 1) || 1);
        const { rows, total } = await admin.overview({ limit: 50, offset: (page - 1) * 50 });
        const table = new Table({ head: ['代码 code', '名称 name', '等级 tier', '状态 status', '余额 balance', '预警 low at', '旧密钥至 old secret until', 'IP'] });
        for (const r of rows) {
          table.push([r.code, r.name, r.tier, r.status, `${displayYuan(r.balanceFen)}${r.low ? ' ⚠' : ''}`, r.lowBalanceFen ? displayYuan(r.lowBalanceFen) : '-',
            r.previousSecretUntil ? formatShanghai(r.previousSecretUntil) : '-', r.ipAllowlist.join(' ') || 'any']);
        }
        console.log(table.toString());
        console.log(`page ${page}, ${total} resellers`);
        return;
      }
      case 'update': {
        const r = await admin.update(actor, need(o.code, '--code'), { name: o.name, contact: o.contact, tier: o.tier, callbackUrl: o.callbackUrl, ipAllowlist: o.ipAllowlist, lowBalanceFen }, need(o.reason, '--reason'));
        console.log(`reseller ${r.code} updated`);
        return;
      }
      case 'rotate-secret': {
        const overlapMs = o.overlapHours === undefined ? undefined : Number(o.overlapHours) * 3600_000;
        const rotated = await admin.rotateSecret(actor, need(o.code, '--code'), need(o.reason, '--reason'), overlapMs);
        console.log(`API key:        ${rotated.apiKey} (unchanged)`);
        console.log(`new API secret: ${rotated.apiSecret}   (shown once)`);
        console.log(`the old secret is accepted until ${formatShanghai(rotated.previousValidUntil)}; \`kameng reseller revoke-old-secret\` ends that now`);
        return;
      }
      case 'revoke-old-secret':
        await admin.revokePreviousSecret(actor, need(o.code, '--code'), need(o.reason, '--reason'));
        console.log(`reseller ${o.code}: only the current secret is accepted now (every API host within a minute)`);
        return;
      case 'suspend':
      case 'reactivate': {
        const r = await admin.setSuspended(actor, need(o.code, '--code'), action === 'suspend', need(o.reason, '--reason'));
        console.log(`reseller ${r.code} is ${r.status}${r.status === 'suspended' ? ': its API requests answer 403 RESELLER_SUSPENDED' : ''}`);
        return;
      }
      default:
        throw new ValidationError(`unknown action "${action}": add, list, update, rotate-secret, revoke-old-secret, suspend or reactivate`);
    }
  });
}

interface RechargeOptions { reseller?: string; channel?: string; payer?: string; amount?: string; reference?: string; valueDate?: string; id?: string; reason?: string; file?: string; status?: string; page?: string }

const describeRecharge = (r: Recharge) =>
  `充值 recharge #${r.id} ${r.resellerCode} ${displayYuan(r.amountFen)} ${CHANNEL_LABELS[r.channel].zh} ${r.reference}: ${r.status}${r.status === 'pending' ? ' (waits for a second finance user: `kameng recharge approve --id ' + r.id + '`)' : ''}`;

/** `kameng recharge record|approve|reject|reverse|import|list` (finance, logged in). */
async function rechargeCommand(action: string, o: RechargeOptions): Promise<void> {
  const need = (value: string | undefined, flag: string) => {
    if (!value) throw new ValidationError(`${flag} is required for \`kameng recharge ${action}\``);
    return value;
  };
  const id = () => {
    const n = Number(need(o.id, '--id'));
    if (!Number.isSafeInteger(n) || n < 1) throw new ValidationError('--id: a recharge number');
    return n;
  };
  await withActor('recharges', async (ctx, actor) => {
    const recharges = rechargesOf(ctx);
    switch (action) {
      case 'record':
        console.log(describeRecharge(await recharges.record(actor, {
          resellerCode: need(o.reseller, '--reseller'), channel: need(o.channel, '--channel'), payer: need(o.payer, '--payer'),
          amountFen: parseYuan(need(o.amount, '--amount'), '--amount'), reference: need(o.reference, '--reference'), valueDate: o.valueDate ?? businessDateOf(new Date()),
        })));
        return;
      case 'approve':
        console.log(describeRecharge(await recharges.approve(actor, id())));
        return;
      case 'reject':
        console.log(describeRecharge(await recharges.reject(actor, id(), need(o.reason, '--reason'))));
        return;
      case 'reverse':
        console.log(describeRecharge(await recharges.reverse(actor, id(), need(o.reason, '--reason'))));
        return;
      case 'import': {
        try {
          const outcome = await importRechargeFile(ctx.db, recharges, actor, { file: need(o.file, '--file'), channel: o.channel });
          for (const r of outcome.recorded) console.log(describeRecharge(r));
          console.log(`${outcome.recorded.length} recorded, ${outcome.alreadyRecorded.length} already recorded before (skipped)`);
        } catch (err) {
          if (err instanceof RechargeImportRejectedError) {
            for (const p of err.problems) console.error(formatProblem(p));
            throw new ValidationError(`the file was refused, nothing recorded (${err.problems.length} problem(s) above)`);
          }
          throw err;
        }
        return;
      }
      case 'list': {
        const page = Math.max(1, Number(o.page ?? 1) || 1);
        const { rows, total } = await recharges.list({ status: o.status as RechargeStatus | undefined, resellerCode: o.reseller, limit: 50, offset: (page - 1) * 50 });
        const table = new Table({ head: ['#', '分销商 reseller', '金额 amount', '渠道 channel', '参考号 reference', '付款人 payer', '到账日 value date', '状态 status', '记录人 by', '审批人 approver'] });
        for (const r of rows) table.push([r.id, r.resellerCode, displayYuan(r.amountFen), CHANNEL_LABELS[r.channel].zh, r.reference, r.payer, r.valueDate, r.status, r.recordedBy, r.approvedBy ?? '-']);
        console.log(table.toString());
        console.log(`page ${page}, ${total} recharges`);
        return;
      }
      default:
        throw new ValidationError(`unknown action "${action}": record, approve, reject, reverse, import or list`);
    }
  });
}

/** Registers `kameng reseller ...` and `kameng recharge ...` (issue 18). */
export function registerResellerAdminCommands(program: Command): void {
  program
    .command('reseller')
    .description('Resellers (an admin, logged in): add --code C --name N [--contact] [--tier] [--callback-url] [--ip-allowlist] [--low-balance ¥] (the API secret is shown once) | list | update --code C ... --reason R | rotate-secret --code C --reason R [--overlap-hours H] | revoke-old-secret | suspend | reactivate --code C --reason R')
    .argument('<action>', 'add, list, update, rotate-secret, revoke-old-secret, suspend or reactivate')
    .option('--code <code>', 'reseller code (also its recharge reference)')
    .option('--name <name>', 'name')
    .option('--contact <text>', 'contact person and phone')
    .option('--tier <tier>', 'default, silver or gold')
    .option('--callback-url <url>', 'where order callbacks go (checked against the SSRF policy)')
    .option('--ip-allowlist <cidrs>', 'addresses/CIDRs the API accepts this reseller from, comma separated (empty: any)')
    .option('--low-balance <yuan>', 'low-balance threshold in yuan')
    .option('--overlap-hours <h>', 'rotate-secret: how long the old secret still works (default KAMENG_SECRET_OVERLAP_HOURS)')
    .option('--reason <text>', 'why (audited)')
    .option('--page <n>', 'list: page', '1')
    .action(resellerCommand);

  program
    .command('recharge')
    .description('Wallet recharges 充值 (finance, logged in): record --reseller C --channel bank|alipay|wechat --payer P --amount ¥ --reference R [--value-date D] | approve --id N (another finance user) | reject --id N --reason R | reverse --id N --reason R | import --file F.csv|.xlsx [--channel] | list [--status] [--reseller]')
    .argument('<action>', 'record, approve, reject, reverse, import or list')
    .option('--reseller <code>', 'reseller code')
    .option('--channel <channel>', 'bank, alipay or wechat')
    .option('--payer <name>', 'who paid (对方户名)')
    .option('--amount <yuan>', 'amount in yuan, e.g. 5000.00')
    .option('--reference <ref>', "the channel's transaction reference (流水号), unique per channel")
    .option('--value-date <YYYY-MM-DD>', 'the day the money arrived (default today)')
    .option('--id <n>', 'recharge number')
    .option('--reason <text>', 'reject / reverse: why (audited)')
    .option('--file <path>', 'import: bank statement file (CSV or XLSX) with 交易日期, 对方户名, 金额, 摘要/附言, 流水号')
    .option('--status <status>', 'list: pending, credited, rejected or reversed')
    .option('--page <n>', 'list: page', '1')
    .action(rechargeCommand);
}
