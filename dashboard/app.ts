import { createRequire } from 'node:module';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import cookieParser from 'cookie-parser';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { AppConfig } from '../src/config.ts';
import type { Db } from '../src/db/knex.ts';
import { KamengError } from '../src/errors.ts';
import type { Ledger } from '../src/ledger/ledger.ts';
import { LedgerReports } from '../src/ledger/reports.ts';
import type { PlatformHealth } from '../activities/platform.ts';
import { overviewPage } from './pages/overview.ts';
import { settlementDownloads, settlementPage } from './pages/settlement.ts';
import { stockPage } from './pages/stock.ts';

export interface DashboardDeps {
  db: Db;
  ledger: Ledger;
  reports: LedgerReports;
  client: Client;
  config: AppConfig;
  infrastructure: string[];
  health: PlatformHealth;
}

// chart.js does not export its UMD build, so find it next to the package's CommonJS entry.
const chartJsDir = path.dirname(createRequire(import.meta.url).resolve('chart.js'));

/** The ops and finance dashboard (server-rendered; chart.js in the browser). */
export function createDashboardApp(deps: Omit<DashboardDeps, 'reports'>): express.Express {
  const full: DashboardDeps = { ...deps, reports: new LedgerReports(deps.db) };
  const app = express();
  app.disable('x-powered-by');
  app.use(cookieParser());
  app.use('/assets', express.static(chartJsDir, { maxAge: '1d', index: false }));

  app.get('/', overviewPage(full));
  app.get('/stock', stockPage(full));
  app.get('/settlement', settlementPage(full));
  const downloads = settlementDownloads(full);
  app.get('/settlement/statement', downloads.statement);
  app.get('/settlement/day.xlsx', downloads.day);
  app.get('/settlement/payouts/:id.:format', downloads.payout);
  app.get('/healthz', async (_req, res) => {
    await deps.db.raw('SELECT 1');
    res.json({ ok: true });
  });

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof KamengError) {
      res.status(400).json({ error: { code: err.code, message: err.message } });
      return;
    }
    console.error('dashboard error:', err);
    res.status(500).json({ error: { code: 'INTERNAL', message: 'internal error; see the server log' } });
  });
  return app;
}
