import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboardApp } from '../dashboard/app.ts';
import { loadConfig } from '../src/config.ts';
import { addressKey } from '../src/users/login-throttle.ts';
import { Users } from '../src/users/users.ts';
import { openHarness, type Harness } from './support/harness.ts';
import { rawRequest, type RawAnswer } from './support/raw-http.ts';

/**
 * Login throttling under attack (issue 17, item 4). The red team sent 300 wrong passwords in 7.5 s
 * and then logged in with the right one; every try cost a scrypt hash. Each attack comes from a
 * loopback address of its own (127.0.0.0/8 is all local), so per-address counts stay apart.
 * A database of this file's own: locks on 127.0.0.1 must not reach other test files' logins.
 */
let h: Harness;
const servers: Server[] = [];
const PASSWORD = 'the-right-password';

beforeAll(async () => {
  h = await openHarness({ worker: false, freshDatabase: true });
});
afterAll(async () => {
  for (const s of servers) s.close();
  await h?.close();
});

/** A dashboard on its own port with these login settings; several share the database like several processes. */
async function dashboard(settings: Record<string, string>): Promise<string> {
  const app = createDashboardApp({
    db: h.db, ledger: h.ledger, client: h.client, infrastructure: ['test'], config: loadConfig({ ...process.env, ...settings }),
    health: { postgres: '18', migrations: 7, accounts: 1, entries: 0, ledgerImbalanceFen: 0, checkedAt: new Date().toISOString() },
  });
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise((r) => server.once('listening', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The login form as a browser posts it (its CSRF cookie and field), from a chosen local address. */
async function login(base: string, from: string, username: string, password: string): Promise<RawAnswer> {
  const page = await rawRequest(base, { path: '/login', localAddress: from });
  const cookie = String(page.headers['set-cookie']?.[0] ?? '').split(';')[0]!;
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
  return rawRequest(base, {
    method: 'POST', path: '/login', localAddress: from,
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password, _csrf: csrf }).toString(),
  });
}

const user = async (username: string) => new Users(h.db).upsert({ username, role: 'finance', password: PASSWORD });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const codeOf = (a: RawAnswer) => /data-code="([A-Z_]+)"/.exec(a.text)?.[1];

describe('login throttling', () => {
  it('refuses a burst of 300 wrong passwords almost without hashing, and the right password after it', async () => {
    const base = await dashboard({});
    await user('burst-victim');
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => login(base, '127.0.0.11', 'burst-victim', `guess-${i}`)));
    const statuses = answers.map((a) => a.status);
    // 401 is a try that was hashed; 429 (wait) and 503 (hashing busy) were refused without a hash
    const hashed = statuses.filter((s) => s === 401).length;
    expect(hashed).toBeLessThanOrEqual(6);
    expect(statuses.filter((s) => s === 429 || s === 503).length).toBe(300 - hashed);
    const slowed = answers.find((a) => a.status === 429)!;
    expect(slowed.headers['retry-after']).toMatch(/^\d+$/);
    expect(codeOf(slowed)).toBe('LOGIN_THROTTLED');
    expect(Date.now() - started).toBeLessThan(20_000);
    const right = await login(base, '127.0.0.11', 'burst-victim', PASSWORD);
    expect(right.status).toBe(429);
    expect(right.headers['set-cookie']?.some((c) => c.startsWith('kameng_session='))).toBeFalsy();
  });

  it('locks a username after repeated failures, agreed by two processes, audits the lock, and lifts it when it runs out', async () => {
    const settings = { KAMENG_LOGIN_FREE_TRIES: '2', KAMENG_LOGIN_LOCK_AFTER: '4', KAMENG_LOGIN_MAX_DELAY_MS: '100', KAMENG_LOGIN_LOCK_SECONDS: '2' };
    const [a, b] = [await dashboard(settings), await dashboard(settings)];
    await user('lock-victim');
    for (let i = 0; i < 4; i++) {
      expect((await login(i % 2 ? b : a, '127.0.0.12', 'lock-victim', `guess-${i}`)).status).toBe(401);
      await sleep(250);
    }
    const locked = await login(b, '127.0.0.13', 'lock-victim', PASSWORD);
    expect(locked.status).toBe(429);
    expect(codeOf(locked)).toBe('LOGIN_LOCKED');
    const audit = await h.db('audit_log').where({ action: 'login.lock', subject_id: 'user:lock-victim' });
    expect(audit).toHaveLength(1);
    expect(audit[0].actor).toBe('system');
    await sleep(2_100);
    expect((await login(a, '127.0.0.13', 'lock-victim', PASSWORD)).status).toBe(303);
  });

  it("does not let an attacker lock a user out of the address they logged in from before", async () => {
    const settings = { KAMENG_LOGIN_FREE_TRIES: '2', KAMENG_LOGIN_LOCK_AFTER: '3', KAMENG_LOGIN_MAX_DELAY_MS: '50', KAMENG_LOGIN_LOCK_SECONDS: '60' };
    const base = await dashboard(settings);
    await user('office-user');
    expect((await login(base, '127.0.0.21', 'office-user', PASSWORD)).status).toBe(303);
    for (let i = 0; i < 3; i++) {
      expect((await login(base, '127.0.0.22', 'office-user', `guess-${i}`)).status).toBe(401);
      await sleep(120);
    }
    expect((await login(base, '127.0.0.23', 'office-user', PASSWORD)).status).toBe(429);
    expect((await login(base, '127.0.0.21', 'office-user', PASSWORD)).status).toBe(303);
  });

  it('throttles one address spraying many usernames, and not the others', async () => {
    const settings = { KAMENG_LOGIN_ADDRESS_FREE_TRIES: '3', KAMENG_LOGIN_ADDRESS_LOCK_AFTER: '5', KAMENG_LOGIN_MAX_DELAY_MS: '50', KAMENG_LOGIN_LOCK_SECONDS: '60' };
    const base = await dashboard(settings);
    await user('spray-bystander');
    for (let i = 0; i < 5; i++) {
      expect((await login(base, '127.0.0.31', `sprayed-${i}`, 'guess')).status).toBe(401);
      await sleep(120);
    }
    expect((await login(base, '127.0.0.31', 'spray-bystander', PASSWORD)).status).toBe(429);
    expect((await login(base, '127.0.0.32', 'spray-bystander', PASSWORD)).status).toBe(303);
    expect(await h.db('audit_log').where({ action: 'login.lock', subject_id: 'addr:127.0.0.31' })).toHaveLength(1);
  });

  it('bounds concurrent password hashing: the excess is refused at once with 503', async () => {
    const base = await dashboard({ KAMENG_LOGIN_HASH_CONCURRENCY: '1', KAMENG_LOGIN_HASH_QUEUE: '0', KAMENG_LOGIN_ADDRESS_FREE_TRIES: '100', KAMENG_LOGIN_ADDRESS_LOCK_AFTER: '200' });
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => login(base, '127.0.0.41', `parallel-${i}`, 'guess')));
    const busy = answers.filter((a) => a.status === 503);
    expect(busy.length).toBeGreaterThan(0);
    expect(codeOf(busy[0]!)).toBe('LOGIN_BUSY');
    expect(busy[0]!.headers['retry-after']).toBe('1');
    expect(answers.every((a) => a.status === 401 || a.status === 503)).toBe(true);
  });

  it('refuses login settings where the lock would come before the delay', () => {
    expect(() => loadConfig({ ...process.env, KAMENG_LOGIN_FREE_TRIES: '10', KAMENG_LOGIN_LOCK_AFTER: '5' })).toThrow(/KAMENG_LOGIN_LOCK_AFTER: must be more than KAMENG_LOGIN_FREE_TRIES/);
    expect(loadConfig({ ...process.env, KAMENG_LOGIN_LOCK_SECONDS: '60' }).dashboard.login).toMatchObject({ lockMs: 60_000, freeTries: 5, lockAfter: 10, hashConcurrency: 2 });
  });

  it('counts IPv6 clients by their /64 and IPv4-mapped ones as IPv4', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
  });
});
