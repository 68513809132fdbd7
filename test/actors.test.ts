import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { accountCode } from '../src/ledger/accounts.ts';
import { credit, debit } from '../src/ledger/ledger.ts';
import { Payouts } from '../src/payouts/payouts.ts';
import { ForbiddenError } from '../src/users/actor.ts';
import { setUserDisabled } from '../src/users/manage.ts';
import { Users } from '../src/users/users.ts';
import { userActor } from './support/actors.ts';
import { loginAs } from './support/dashboard-session.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';

const kamengBin = fileURLToPath(new URL('../bin/kameng.js', import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kameng-actors-'));
let h: Harness;

/** A person at their own terminal: their own config directory, the real `kameng` as a child process. */
function person(name: string) {
  const home = path.join(tmp, name);
  fs.mkdirSync(home, { recursive: true });
  const sessionFile = path.join(home, 'config', 'kameng', 'session.json');
  const run = (args: string[], stdin = ''): Promise<{ code: number | null; out: string; err: string }> => new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [kamengBin, ...args], {
      env: {
        PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: path.join(home, 'config'), KAMENG_DATA_DIR: path.join(home, 'data'),
        DATABASE_URL: inject('databaseUrl'), TEMPORAL_ADDRESS: inject('temporalAddress'), KAMENG_MASTER_KEY: h.masterKeyHex,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, out, err }));
    child.stdin.end(stdin);
  });
  return { run, sessionFile };
}

const PERIOD = { from: '2022-05-01', to: '2022-05-31' };
const password = 'correct horse battery staple';

async function userWithPassword(role: 'finance' | 'ops', label: string) {
  const user = await new Users(h.db).upsert({ username: uniq(label).toLowerCase(), role, password });
  return { ...user, id: Number(user.id) };
}

/** A supplier we owe ¥100.00 for May 2022, payable in a batch of its own. */
async function supplierOwed(): Promise<string> {
  const code = uniq('payee').toLowerCase();
  const supplier = await h.deps.suppliers.upsert({ code, name: `${code} 供应商`, apiBaseUrl: 'http://127.0.0.1:1', apiKey: 'k' });
  await h.ledger.post({
    idempotencyKey: `actors-procure:${code}`, kind: 'procurement', businessDate: '2022-05-10',
    postings: [debit(accountCode.platform('cost_of_goods'), 10_000), credit(accountCode.supplierPayable(supplier.id), 10_000)],
  });
  return code;
}

const batchesOf = (code: string) => h.db('payout_batches as b').join('payout_lines as l', 'l.batch_id', 'b.id').join('suppliers as s', 's.id', 'l.supplier_id')
  .where('s.code', code).select('b.*');

beforeAll(async () => {
  h = await openHarness({ worker: false });
  await h.ledger.openPlatformAccounts();
});
afterAll(async () => {
  await h.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('who acts: users and kameng login', () => {
  it('kameng login writes a 0600 token file, and payouts act as that user, by id', async () => {
    const supplier = await supplierOwed();
    const wang = await userWithPassword('finance', 'fin-wang');
    const me = person('wang');
    const login = await me.run(['login', '--username', wang.username, '--password-stdin'], `${password}\n`);
    expect(login.code, login.err).toBe(0);
    expect(fs.statSync(me.sessionFile).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(me.sessionFile)).mode & 0o077).toBe(0);
    expect(fs.readFileSync(me.sessionFile, 'utf8')).not.toContain(password);
    expect((await me.run(['whoami'])).out).toContain(`${wang.username} (finance, user #${wang.id})`);

    const draft = await me.run(['payouts', 'draft', '--supplier', supplier, '--from', PERIOD.from, '--to', PERIOD.to]);
    expect(draft.code, draft.err).toBe(0);
    const [batch] = await batchesOf(supplier);
    expect(batch).toMatchObject({ status: 'draft', created_by: wang.username, created_by_user_id: wang.id });
    expect(await h.db('audit_log').where({ subject_type: 'payout_batch', subject_id: String(batch.id) }).first())
      .toMatchObject({ action: 'payout.draft', actor: wang.username, actor_user_id: wang.id });

    expect((await me.run(['logout'])).code).toBe(0);
    expect(fs.existsSync(me.sessionFile)).toBe(false);
    const after = await me.run(['payouts', 'cancel', '--batch', String(batch.id)]);
    expect(after.code).toBe(2);
    expect(after.err).toContain('kameng login');
  });

  it('refuses the creator approving their own batch, whatever name they type (issue 16: --actor "finance ")', async () => {
    const supplier = await supplierOwed();
    const drafter = await userWithPassword('finance', 'finance');
    const colleague = await userWithPassword('finance', 'fin-li');
    const me = person(`drafter-${drafter.id}`);
    expect((await me.run(['login', '--username', drafter.username, '--password-stdin'], password)).code).toBe(0);
    expect((await me.run(['payouts', 'draft', '--supplier', supplier, '--from', PERIOD.from, '--to', PERIOD.to])).code).toBe(0);
    const [batch] = await batchesOf(supplier);

    const spaced = await me.run(['payouts', 'approve', '--batch', String(batch.id), '--actor', `${drafter.username} `]);
    expect(spaced.code).not.toBe(0);
    expect(spaced.err).toContain("unknown option '--actor'");
    const own = await me.run(['payouts', 'approve', '--batch', String(batch.id)]);
    expect(own.code).toBe(2);
    expect(own.err).toContain('another finance user must approve it');
    expect((await h.db('payout_batches').where({ id: batch.id }).first()).status).toBe('draft');

    const other = person(`colleague-${colleague.id}`);
    expect((await other.run(['login', '--username', colleague.username, '--password-stdin'], password)).code).toBe(0);
    const approved = await other.run(['payouts', 'approve', '--batch', String(batch.id)]);
    expect(approved.code, approved.err).toBe(0);
    expect(await h.db('payout_batches').where({ id: batch.id }).first())
      .toMatchObject({ status: 'approved', approved_by_user_id: colleague.id, created_by_user_id: drafter.id });
  });

  it('lets no one draft who is not a user (issue 16: finance.c), on the CLI or past it', async () => {
    const supplier = await supplierOwed();
    const stranger = person('finance.c');
    const typed = await stranger.run(['payouts', 'draft', '--supplier', supplier, '--from', PERIOD.from, '--to', PERIOD.to, '--actor', 'finance.c']);
    expect(typed.code).not.toBe(0);
    const bare = await stranger.run(['payouts', 'draft', '--supplier', supplier, '--from', PERIOD.from, '--to', PERIOD.to]);
    expect(bare.code).toBe(2);
    expect(bare.err).toContain('not logged in');
    // an Actor made up in code names no user: the database refuses it
    const madeUp = { userId: 2_000_000_000, username: 'finance.c', role: 'finance' as const };
    await expect(new Payouts(h.db, h.ledger).draft({ ...PERIOD, actor: madeUp, suppliers: [supplier] })).rejects.toThrow(/foreign key/);
    expect(await batchesOf(supplier)).toEqual([]);
  });

  it("refuses a disabled user's CLI token at once, and an ops user's payout approval", async () => {
    const supplier = await supplierOwed();
    const zhao = await userWithPassword('finance', 'fin-zhao');
    const me = person(`zhao-${zhao.id}`);
    expect((await me.run(['login', '--username', zhao.username, '--password-stdin'], password)).code).toBe(0);
    expect((await me.run(['whoami'])).code).toBe(0);
    await h.db('dashboard_users').where({ id: zhao.id }).update({ disabled: true });
    const refused = await me.run(['payouts', 'draft', '--supplier', supplier, '--from', PERIOD.from, '--to', PERIOD.to]);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('has ended');
    expect(await batchesOf(supplier)).toEqual([]);

    const ops = await userWithPassword('ops', 'ops-sun');
    const opsPerson = person(`ops-${ops.id}`);
    expect((await opsPerson.run(['login', '--username', ops.username, '--password-stdin'], password)).code).toBe(0);
    const forbidden = await opsPerson.run(['payouts', 'draft', '--supplier', supplier, '--from', PERIOD.from, '--to', PERIOD.to]);
    expect(forbidden.code).toBe(2);
    expect(forbidden.err).toContain('may not act on settlement');
  });

  it('keeps four eyes in the database even past the service (direct updates and inserts)', async () => {
    const supplier = await supplierOwed();
    const creator = await userActor(h.db, 'finance');
    const batch = await new Payouts(h.db, h.ledger).draft({ ...PERIOD, actor: creator, suppliers: [supplier] });
    const row = () => h.db('payout_batches').where({ id: batch.id });
    await expect(row().update({ status: 'approved', approved_by: `${creator.username} `, approved_by_user_id: creator.userId }))
      .rejects.toThrow(/payout_batches_four_eyes_users/);
    await expect(row().update({ status: 'approved', approved_by: 'finance.c' })).rejects.toThrow(/payout_batches_named_users/);
    await expect(h.db('payout_batches').insert({ status: 'draft', period_from: PERIOD.from, period_to: PERIOD.to, total_fen: 1, created_by: 'finance.c' }))
      .rejects.toThrow(/payout_batches_named_users/);
    await expect(h.db('audit_log').insert({ actor: 'finance.c', action: 'payout.approve', subject_type: 'payout_batch', subject_id: String(batch.id) }))
      .rejects.toThrow(/audit_log_actor_is_a_user/);
    expect((await row().first()).status).toBe('draft');
  });

  it('acts on the dashboard as the session user, by id, with the same four eyes', async () => {
    const { createDashboardApp } = await import('../dashboard/app.ts');
    const { loadConfig } = await import('../src/config.ts');
    const app = createDashboardApp({
      db: h.db, ledger: h.ledger, client: h.client, config: loadConfig(), infrastructure: ['test'],
      health: { postgres: '18', migrations: 14, accounts: 1, entries: 0, ledgerImbalanceFen: 0, checkedAt: new Date().toISOString() },
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
    try {
      const supplier = await supplierOwed();
      const drafter = await loginAs(base, h.db, 'finance');
      const approver = await loginAs(base, h.db, 'finance');
      const creator = await h.db('dashboard_users').where({ username: drafter.username }).first('id', 'username', 'role');
      const batch = await new Payouts(h.db, h.ledger).draft({ ...PERIOD, actor: { userId: Number(creator.id), username: creator.username, role: creator.role }, suppliers: [supplier] });
      const own = await drafter.post(`/settlement/payouts/${batch.id}/approve`, {});
      expect(own.status).toBe(400);
      expect((await own.json()).error.code).toBe('SELF_APPROVAL');
      expect((await approver.post(`/settlement/payouts/${batch.id}/approve`, {})).status).toBe(303);
      const approvedBy = await h.db('dashboard_users').where({ username: approver.username }).first('id');
      expect(await h.db('payout_batches').where({ id: batch.id }).first()).toMatchObject({ status: 'approved', approved_by_user_id: Number(approvedBy.id) });
    } finally {
      server.close();
    }
  });

  it('lets only an admin disable a user, which ends every session of theirs, audited', async () => {
    const qian = await userWithPassword('finance', 'fin-qian');
    const me = person(`qian-${qian.id}`);
    expect((await me.run(['login', '--username', qian.username, '--password-stdin'], password)).code).toBe(0);
    const finance = await userActor(h.db, 'finance');
    await expect(setUserDisabled(h.db, finance, { username: qian.username, disabled: true, reason: 'not mine to do' })).rejects.toBeInstanceOf(ForbiddenError);
    const admin = await userActor(h.db, 'admin');
    await setUserDisabled(h.db, admin, { username: qian.username, disabled: true, reason: 'left the company 离职' });
    expect(await h.db('dashboard_sessions').where({ user_id: qian.id })).toEqual([]);
    expect(await h.db('audit_log').where({ subject_type: 'user', subject_id: qian.username }).first())
      .toMatchObject({ action: 'user.disable', actor_user_id: admin.userId });
    expect((await me.run(['whoami'])).code).toBe(2);
  });
});
