import fs from 'node:fs/promises';
import type { Command } from 'commander';
import Table from 'cli-table3';
import { recordAudit } from '../audit/audit-log.ts';
import { ValidationError } from '../errors.ts';
import { CHANNEL_KINDS, type ChannelKind } from '../alerts/robots.ts';
import { demandPlans } from '../inventory/demand.ts';
import { SupplierRouting, type BreakerOverride } from '../routing/health.ts';
import { withActor, withCli } from './context.ts';

/** `kameng alerts …` and `kameng routing …` (issue 21). */
export function registerOperationsCommands(program: Command): void {
  const alerts = program.command('alerts').description('Alert channels (DingTalk, WeCom, Feishu robots, signed webhook) and what is firing');
  alerts.command('add-channel')
    .description('Add a group robot or webhook; its URL and secret are sealed (the secret is read from a file, never from the command line)')
    .requiredOption('--name <name>', 'e.g. 运维群')
    .requiredOption('--kind <kind>', CHANNEL_KINDS.join(' | '))
    .requiredOption('--url <url>', 'the robot webhook URL (DingTalk: with access_token)')
    .option('--secret-file <path>', 'file holding the signing secret (WeCom: the key)')
    .action(async (o: { name: string; kind: string; url: string; secretFile?: string }) => {
      await withActor('fulfillment', async (ctx, actor) => {
        if (!CHANNEL_KINDS.includes(o.kind as ChannelKind)) throw new ValidationError(`--kind: one of ${CHANNEL_KINDS.join(', ')}, not "${o.kind}"`);
        const secret = o.secretFile ? (await fs.readFile(o.secretFile, 'utf8')).trim() : '';
        const channel = await ctx.deps.alerts!.addChannel({ name: o.name, kind: o.kind as ChannelKind, url: o.url, secret });
        await recordAudit(ctx.db, { actor, action: 'alerts.add_channel', subjectType: 'alert_channel', subjectId: channel.id, reason: `added ${channel.kind} ${channel.name}`, details: { kind: channel.kind, host: channel.displayUrl } });
        console.log(`channel ${channel.id} ${channel.kind} ${channel.name} → ${channel.displayUrl}`);
      });
    });
  alerts.command('list').description('Channels and alert states').action(async () => {
    await withCli(async (ctx) => {
      const channels = new Table({ head: ['#', '名称 name', '类型 kind', 'URL', '启用 active'] });
      for (const c of await ctx.deps.alerts!.channels()) channels.push([c.id, c.name, c.kind, c.displayUrl, c.active ? 'yes' : 'no']);
      console.log(channels.toString());
      const states = new Table({ head: ['状态 status', '规则 rule', '对象 subject', '摘要 summary'] });
      for (const s of await ctx.deps.alerts!.states()) states.push([s.status, s.rule, s.subject, s.summary]);
      console.log(states.toString());
    });
  });

  const routing = program.command('routing').description('Supplier health routing: health, breakers, overrides');
  routing.command('show').description('Health and breaker per supplier and SKU, and demand-driven reorder points').action(async () => {
    await withCli(async (ctx) => {
      const t = new Table({ head: ['SKU', '供应商 supplier', '优先级 priority', '成功率 success', '调用 calls', '耗时 latency', '熔断 breaker', '干预 override'] });
      for (const h of await new SupplierRouting(ctx.db, ctx.config.operations.routing).overview()) {
        t.push([h.skuCode, h.supplierCode, h.priority, `${(h.successRate * 100).toFixed(1)}%`, h.calls, h.avgLatencyMs ?? '', h.state, h.override]);
      }
      console.log(t.toString());
      const s = new Table({ head: ['SKU', '可用 available', '需求 demand/min', '再订货点 reorder point', '批量 batch', '满足率 fill rate'] });
      for (const p of await demandPlans(ctx.db, ctx.config.operations.stock)) s.push([p.sku, p.available, (p.velocityPerSecond * 60).toFixed(1), p.reorderPoint, p.batchSize, `${(p.fillRate * 100).toFixed(1)}%`]);
      console.log(s.toString());
    });
  });
  routing.command('override')
    .description('Force a breaker open or closed, or back to automatic (audited, as the logged-in ops user)')
    .requiredOption('--supplier <code>', 'supplier code')
    .requiredOption('--sku <code>', 'SKU code')
    .requiredOption('--mode <mode>', 'auto | force_open | force_closed')
    .requiredOption('--reason <text>', 'why (audit)')
    .action(async (o: { supplier: string; sku: string; mode: string; reason: string }) => {
      await withActor('fulfillment', async (ctx, actor) => {
        const supplier = await ctx.deps.suppliers.byCode(o.supplier);
        await new SupplierRouting(ctx.db, ctx.config.operations.routing).setOverride(actor, { supplierId: supplier.id, skuCode: o.sku, override: o.mode as BreakerOverride, reason: o.reason });
        console.log(`${o.supplier} / ${o.sku}: ${o.mode}`);
      });
    });
}
