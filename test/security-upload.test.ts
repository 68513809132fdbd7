import fs from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboardApp } from '../dashboard/app.ts';
import { mountApis } from '../src/api/mount.ts';
import { loadConfig } from '../src/config.ts';
import { loginAs, type DashboardSession } from './support/dashboard-session.ts';
import { openHarness, type Harness } from './support/harness.ts';
import { rawRequest } from './support/raw-http.ts';
import { supplierCode } from './support/world.ts';

/**
 * Upload size caps under attack (issue 17, item 7): the cap holds on the bytes received, with or
 * without a Content-Length, and a refused upload leaves nothing behind, neither a temporary file
 * nor a statement in the archive.
 */
const LIMIT = 64 * 1024;
let h: Harness;
let server: Server;
let base: string;
let finance: DashboardSession;
let supplier: string;
const scratch = path.join(os.tmpdir(), `kameng-security-upload-${process.pid}`);
const archiveDir = path.join(scratch, 'archive');
const tmpDir = path.join(scratch, 'tmp');
const savedTmp = process.env.TMPDIR;

beforeAll(async () => {
  await fs.mkdir(tmpDir, { recursive: true });
  h = await openHarness({ worker: false });
  supplier = supplierCode('upl');
  await h.deps.suppliers.upsert({ code: supplier, name: 'upload test', apiBaseUrl: 'http://127.0.0.1:1', apiKey: 'k', callbackSecret: 'upl-cb', statementFormat: 'csv' });
  const app = express();
  mountApis(app, h.deps, h.client, { fulfillment: h.taskQueue, procurement: h.taskQueue });
  app.use(createDashboardApp({
    db: h.db, ledger: h.ledger, client: h.client, infrastructure: ['test'],
    config: loadConfig({ ...process.env, KAMENG_STATEMENT_DIR: archiveDir, KAMENG_UPLOAD_MAX_BYTES: String(LIMIT) }),
    health: { postgres: '18', migrations: 7, accounts: 1, entries: 0, ledgerImbalanceFen: 0, checkedAt: new Date().toISOString() },
  }));
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  finance = await loginAs(base, h.db, 'finance');
  // uploads are received into the system's temp dir: this test's own, to see what is left there
  process.env.TMPDIR = tmpDir;
});
afterAll(async () => {
  process.env.TMPDIR = savedTmp;
  server?.close();
  await h?.close();
  await fs.rm(scratch, { recursive: true, force: true });
});

const filesUnder = async (dir: string): Promise<string[]> =>
  (await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])).filter((e) => e.isFile()).map((e) => e.name);

const upload = (date: string, body: { chunks: Buffer[] } | { body: Buffer }, headers: Record<string, string> = {}) => rawRequest(base, {
  method: 'POST', path: `/reconciliation/upload?supplier=${supplier}&date=${date}&name=statement.csv`,
  headers: { cookie: finance.cookie, 'x-csrf-token': finance.csrf, accept: 'application/json', 'content-type': 'application/octet-stream', ...headers },
  ...body,
});

const csvLines = (bytes: number) => Buffer.from(`request_id,amount\n${'r-1,100\n'.repeat(Math.ceil(bytes / 8))}`);

describe('statement upload size cap', () => {
  it('refuses a chunked upload (no Content-Length) once the bytes received pass the cap, and keeps nothing of it', async () => {
    const big = csvLines(4 * LIMIT);
    const chunks = Array.from({ length: Math.ceil(big.length / 4096) }, (_, i) => big.subarray(i * 4096, (i + 1) * 4096));
    const answer = await upload('2026-01-05', { chunks });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.text).error.code).toBe('BODY_TOO_LARGE');
    await new Promise((r) => setTimeout(r, 100));
    expect(await filesUnder(tmpDir)).toEqual([]);
    expect(await filesUnder(archiveDir)).toEqual([]);
    expect(await h.db('recon_statements').where({ business_date: '2026-01-05' }).join('suppliers as s', 's.id', 'recon_statements.supplier_id').where('s.code', supplier)).toEqual([]);
  });

  it('refuses an upload whose Content-Length is over the cap before reading it', async () => {
    const answer = await upload('2026-01-05', { body: csvLines(2 * LIMIT) });
    expect(answer.status).toBe(413);
    expect(await filesUnder(tmpDir)).toEqual([]);
    expect(await filesUnder(archiveDir)).toEqual([]);
  });

  it('takes a chunked upload under the cap into the archive', async () => {
    const small = csvLines(LIMIT / 2);
    const answer = await upload('2026-01-06', { chunks: [small.subarray(0, 1000), small.subarray(1000)] });
    expect(answer.status, answer.text).toBe(202);
    expect(await filesUnder(tmpDir)).toEqual([]);
    const kept = await filesUnder(archiveDir);
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatch(/statement\.csv$/);
    await h.client.workflow.getHandle(JSON.parse(answer.text).workflowId).terminate('test done');
  });
});

describe('raw body routes of the API', () => {
  it('refuses chunked bodies over their limits on the reseller API and the supplier callbacks, counted as received', async () => {
    for (const p of ['/api/v1/orders', `/callbacks/suppliers/${supplier}`]) {
      const answer = await rawRequest(base, { method: 'POST', path: p, headers: { 'content-type': 'application/json' }, chunks: Array.from({ length: 100 }, () => Buffer.alloc(1024, 0x20)) });
      expect(answer.status, p).toBe(413);
      expect(JSON.parse(answer.text).error.code, p).toBe('BODY_TOO_LARGE');
    }
  });
});
