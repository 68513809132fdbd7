import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboardApp } from '../dashboard/app.ts';
import { loadConfig } from '../src/config.ts';
import { openHarness, type Harness } from './support/harness.ts';
import { cardSku } from './support/world.ts';

let h: Harness;
let server: Server;
let base: string;

beforeAll(async () => {
  h = await openHarness({ worker: false });
  await h.ledger.openPlatformAccounts();
  await cardSku(h, '腾讯', { threshold: 5 });
  const app = createDashboardApp({
    db: h.db, ledger: h.ledger, client: h.client, config: loadConfig(), infrastructure: ['test'],
    health: { postgres: '18', migrations: 4, accounts: 1, entries: 0, ledgerImbalanceFen: 0, checkedAt: new Date().toISOString() },
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.close();
  await h.close();
});

describe('dashboard pages', () => {
  it('renders the overview in Chinese by default and in English on request', async () => {
    const zh = await (await fetch(`${base}/`)).text();
    expect(zh).toContain('试算平衡');
    expect(zh).toContain('借贷平衡');
    const en = await (await fetch(`${base}/?lang=en`)).text();
    expect(en).toContain('Trial balance');
  });

  it('shows stock with low-stock warnings on the suppliers and stock page', async () => {
    const res = await fetch(`${base}/stock?lang=en`);
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).toContain('Suppliers and stock');
    expect(page).toContain('Low stock');
  });
});
