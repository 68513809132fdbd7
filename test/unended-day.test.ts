import { spawn } from 'node:child_process';
import { userActor } from './support/actors.ts';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createDashboardApp } from '../dashboard/app.ts';
import { loadConfig, type AppConfig } from '../src/config.ts';
import { addDays, businessDateOf } from '../src/dates.ts';
import { DayNotOverError } from '../src/settlement/errors.ts';
import { runSettlement } from '../src/settlement/trigger.ts';
import { loginAs, type DashboardSession } from './support/dashboard-session.ts';
import { openHarness, type Harness } from './support/harness.ts';
import { settlementWorkflowId } from '../workflows/settlement.ts';

// Its own database: settled days are global. A worker runs the settlement workflow on this file's queue.
let h: Harness;
let config: AppConfig;
let server: Server;
let base: string;
let finance: DashboardSession;
const today = () => businessDateOf(new Date());

beforeAll(async () => {
  h = await openHarness({ freshDatabase: true });
  await h.ledger.openPlatformAccounts();
  const loaded = loadConfig();
  config = { ...loaded, temporal: { ...loaded.temporal, taskQueues: { ...loaded.temporal.taskQueues, settlement: h.taskQueue } } };
  const app = createDashboardApp({
    db: h.db, ledger: h.ledger, client: h.client, config, infrastructure: ['test'],
    health: { postgres: '18', migrations: 13, accounts: 1, entries: 0, ledgerImbalanceFen: 0, checkedAt: new Date().toISOString() },
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  finance = await loginAs(base, h.db, 'finance');
});
afterAll(async () => {
  server?.close();
  await h.close();
});

/** `kameng <args>` as finance runs it, against this file's database and Temporal. */
function kameng(args: string[], databaseUrl: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('../bin/kameng.js', import.meta.url)), ...args], {
    env: { ...process.env, DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: inject('namespace'), KAMENG_MASTER_KEY: h.masterKeyHex },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

describe('a day that has not ended is refused everywhere, clearly', () => {
  it('refuses to settle today through the settlement workflow with the typed error, starting nothing', async () => {
    const error = await runSettlement(h.client, config, { date: today(), actor: await userActor(h.db, 'finance') }).catch((e) => e);
    expect(error).toBeInstanceOf(DayNotOverError);
    expect(error.message).toContain(`${today()} has not ended`);
    await expect(h.client.workflow.getHandle(settlementWorkflowId(today())).describe()).rejects.toThrow(/not found/i);
  });

  it('answers `kameng settle --date <today>` with one line and no stack trace', async () => {
    const { code, output } = await kameng(['settle', '--date', today()], (h.db.client.config.connection as { connectionString: string }).connectionString);
    expect(output).toContain(`kameng: ${today()} has not ended in Asia/Shanghai`);
    expect(output).not.toMatch(/\n\s+at /);
    expect(code).toBe(2);
  });

  it('answers the dashboard\'s "settle through today" with a 4xx page saying why', async () => {
    const res = await fetch(`${base}/settlement/settle`, {
      method: 'POST', redirect: 'manual', headers: { cookie: finance.cookie, accept: 'text/html' },
      body: new URLSearchParams({ date: today(), _csrf: finance.csrf }),
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain(`${today()} has not ended`);
  });

  it('refuses the day workbook of a day not settled instead of sending an empty one', async () => {
    for (const date of [today(), addDays(today(), -3)]) {
      const res = await finance.get(`/settlement/day.xlsx?date=${date}`);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-disposition')).toBeNull();
      expect(await res.text()).toContain(`${date} is not settled`);
    }
  });
});
