import fs from 'node:fs/promises';
import { parseArgs } from 'node:util';
import Table from 'cli-table3';
import { runChaos, type ChaosReport } from './run.ts';

/**
 * `npm run chaos [-- --seconds 180 --rate 12 --resellers 40 --workers 2 --fault-every 10 --seed N --routing both|on|off --cluster --json FILE]`
 * `--routing both` (the default) runs the day twice with the same seed (the same supplier storms):
 * supplier health routing on, then the fixed priority order, and prints refunds and stuck top-ups of each.
 * `--cluster` runs the day against the production topology (cluster/: a Temporal server on PostgreSQL,
 * two API processes that resellers spread their orders over) and also kills API processes.
 * Exits 1 on any invariant violation, an order left processing, or an answer no reseller could have caused.
 */
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '180' },
    rate: { type: 'string', default: '12' },
    resellers: { type: 'string', default: '40' },
    workers: { type: 'string', default: '2' },
    'fault-every': { type: 'string', default: '10' },
    settle: { type: 'string', default: '120' },
    seed: { type: 'string', default: '20261127' },
    routing: { type: 'string', default: 'both' },
    json: { type: 'string' },
    cluster: { type: 'boolean', default: false },
  },
});
const num = (name: keyof typeof values) => {
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`--${name} must be a positive number, not "${values[name]}"`);
    process.exit(2);
  }
  return n;
};

const modes = { both: ['health', 'priority'], on: ['health'], off: ['priority'] } as const;
const routingModes = modes[values.routing as keyof typeof modes];
if (!routingModes) {
  console.error(`--routing must be both, on or off, not "${values.routing}"`);
  process.exit(2);
}
const started = Date.now();
const log = (line: string) => console.log(`[chaos ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${line}`);
const reports: ChaosReport[] = [];
for (const routing of routingModes) {
  log(`=== routing ${routing === 'health' ? 'on (supplier health, breaker)' : 'off (fixed priority)'}, seed ${values.seed} ===`);
  const one = await runChaos({
    seconds: num('seconds'), ratePerSecond: num('rate'), resellers: num('resellers'), workers: num('workers'),
    faultEveryMs: num('fault-every') * 1000, settleSeconds: num('settle'), seed: num('seed'), routing, cluster: values.cluster, log,
  });
  print(one);
  reports.push(one);
}
const report = reports[0]!;
if (reports.length > 1) printComparison(reports);
if (values.json) await fs.writeFile(values.json, JSON.stringify(reports.length > 1 ? { ...report, runs: reports } : report, null, 2));
const failed = reports.some((r) => r.invariants.violations > 0 || r.orders.processing > 0 || r.traffic.unexpected > 0 || r.traffic.unanswered > 0);
console.log(failed ? '\nCHAOS FAILED' : `\nchaos passed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
process.exit(failed ? 1 : 0);

/** The same seeded day with routing on and off: what supplier health routing changes. */
function printComparison(rs: ChaosReport[]): void {
  const t = new Table({ head: ['', ...rs.map((r) => (r.routing === 'health' ? '路由开 routing on' : '路由关 routing off'))], style: { head: [], border: [] } });
  t.push(
    ['直充成功 top-ups succeeded', ...rs.map((r) => r.orders.topUpsSucceeded)],
    ['已退款 refunded', ...rs.map((r) => r.orders.refunded)],
    ['卡单 stuck (waiting for ops)', ...rs.map((r) => r.orders.stuck)],
    ['满足率 fill rate (card units served ÷ asked)', ...rs.map((r) => `${(r.fillRate.rate * 100).toFixed(1)}% (${r.fillRate.served}/${r.fillRate.served + r.fillRate.refused})`)],
    ['补货完成 procurement runs completed', ...rs.map((r) => r.orders.procurementRuns)],
  );
  console.log(`\n路由对比 routing on/off, same seed and supplier storms\n${t.toString()}`);
}

function print(r: ChaosReport): void {
  const t = new Table({ head: ['', `数量 count (routing ${r.routing === 'health' ? 'on' : 'off'}${r.topology === 'cluster' ? ', cluster topology' : ''})`], style: { head: [], border: [] } });
  const f = r.faults;
  t.push(
    ['订单尝试 orders attempted', r.traffic.attempted],
    ['  已受理 accepted by the API', r.traffic.accepted],
    ['  缺货拒绝 refused out of stock (not charged)', r.traffic.outOfStock],
    ['  余额不足 refused, insufficient funds', r.traffic.insufficientFunds],
    ['  意外应答 unexpected answers (must be 0)', r.traffic.unexpected],
    ['  无应答放弃 unanswered after retries (must be 0)', r.traffic.unanswered],
    ['  客户端重试 client retries after 5xx/timeout', r.traffic.retries],
    ['已完成 completed (cards delivered + top-ups succeeded)', r.orders.cardDelivered + r.orders.topUpsSucceeded],
    ['  卡密交付 card orders delivered', r.orders.cardDelivered],
    ['  直充成功 top-ups succeeded', r.orders.topUpsSucceeded],
    ['已退款 refunded', r.orders.refunded],
    ['补货完成 procurement runs completed', r.orders.procurementRuns],
    ['满足率 fill rate (card units served ÷ asked)', `${(r.fillRate.rate * 100).toFixed(1)}% (${r.fillRate.served} / ${r.fillRate.served + r.fillRate.refused})`],
    ['卡单 stuck (waiting for ops)', r.orders.stuck],
    ['处理中 still processing (must be 0)', r.orders.processing],
    ['注入故障 faults injected', f.workerKills + f.apiKills + f.databaseDrops + f.temporalRestarts + f.supplierStorms + f.supplierSilences],
    ['  杀死工作进程 worker SIGKILLs', f.workerKills],
    ...(r.topology === 'cluster' ? [['  杀死 API 进程 API process SIGKILLs', f.apiKills]] : []),
    ['  进程自行退出 process crashes (restarted)', f.workerCrashes],
    ['  断开数据库连接 connection drops (connections)', `${f.databaseDrops} (${f.connectionsDropped})`],
    ['  重启 Temporal restarts', f.temporalRestarts],
    ['  供应商风暴 supplier storms / silences', `${f.supplierStorms} / ${f.supplierSilences}`],
    ['  供应商异常 supplier misbehaviour', Object.entries(f.simulator).map(([k, v]) => `${k} ${v}`).join(', ')],
    ['分销商回调 reseller callbacks delivered / refused by them', `${r.callbacks.delivered} / ${r.callbacks.refused}`],
    ['结清用时 settled in', r.settledInSeconds === null ? 'did not settle' : `${r.settledInSeconds.toFixed(0)} s`],
    ['不变量违反 invariant violations (must be 0)', r.invariants.violations],
  );
  console.log(`\n${t.toString()}`);
  for (const inv of r.invariants.results) {
    console.log(`  ${inv.violations === 0 ? 'ok  ' : 'FAIL'} ${inv.invariant.en}: ${inv.checked} checked, ${inv.violations} violations${inv.samples.length ? ` (${inv.samples.join('; ')})` : ''}`);
  }
  for (const s of r.traffic.unexpectedSamples) console.log(`  unexpected: ${s}`);
  for (const n of r.notes) console.log(`  note: ${n}`);
}
