import { describe, expect, inject, it } from 'vitest';
import { isCronExpression, loadConfig } from '../src/config.ts';
import { ConfigError } from '../src/errors.ts';
import { createDb } from '../src/db/knex.ts';

describe('configuration', () => {
  it('has working defaults: embedded PostgreSQL and a local Temporal dev server', () => {
    const config = loadConfig({ HOME: '/home/finance' }, '/srv/kameng');
    expect(config.database.url).toBeUndefined();
    expect(config.temporal.address).toBeUndefined();
    expect(config.dataDir).toBe('/srv/kameng/data');
    expect(config.cacheDir).toBe('/home/finance/.cache/kameng');
    expect(config.temporal.namespace).toBe('default');
    expect(config.dashboard.port).toBe(3000);
  });

  it('switches to an external PostgreSQL and Temporal cluster from the environment', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://u@db.internal:5432/kameng', TEMPORAL_ADDRESS: 'temporal.internal:7233', TEMPORAL_NAMESPACE: 'kameng-prod' });
    expect(config.database.url).toBe('postgres://u@db.internal:5432/kameng');
    expect(config.temporal.address).toBe('temporal.internal:7233');
    expect(config.temporal.namespace).toBe('kameng-prod');
  });

  it('takes the schema owner for migrations from DATABASE_OWNER_URL, only beside DATABASE_URL', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://kameng_app@db.internal/kameng', DATABASE_OWNER_URL: 'postgres://kameng_owner@db.internal/kameng' });
    expect(config.database).toMatchObject({ url: 'postgres://kameng_app@db.internal/kameng', ownerUrl: 'postgres://kameng_owner@db.internal/kameng' });
    expect(() => loadConfig({ DATABASE_OWNER_URL: 'postgres://kameng_owner@db.internal/kameng' })).toThrow(/DATABASE_OWNER_URL: only with DATABASE_URL/);
    expect(() => loadConfig({ DATABASE_URL: 'postgres://a@b/c', DATABASE_OWNER_URL: 'mysql://x' })).toThrow(ConfigError);
  });

  it('lists every problem at once, naming the variable', () => {
    let error: unknown;
    try {
      loadConfig({ DATABASE_URL: 'mysql://x', TEMPORAL_ADDRESS: 'no-port', PORT: '99999' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toMatch(/DATABASE_URL: must be a postgres:\/\//);
    expect(problems).toMatch(/TEMPORAL_ADDRESS: must be host:port/);
    expect(problems).toMatch(/PORT/);
  });

  it('knows a five-field cron expression from a broken one', () => {
    expect(isCronExpression('30 2 * * *')).toBe(true);
    expect(isCronExpression('*/10 * * * 1-5')).toBe(true);
    expect(isCronExpression('30 2 * *')).toBe(false);
    expect(isCronExpression('every day')).toBe(false);
  });
});

// house: settings once read from process.env where they were used
describe('start-up settings read through the configuration', () => {
  it('the log level, the first admin password and whether the demo chooses the stuck time', () => {
    const defaults = loadConfig({ HOME: '/home/finance' }, '/srv/kameng');
    expect(defaults.observability.logLevel).toBeUndefined();
    expect(defaults.bootstrap).toEqual({ adminPassword: undefined, demoStuckAfterMs: undefined });
    expect(defaults.fulfillment.stuckAfterMs).toBe(10 * 60_000);
    const set = loadConfig({ HOME: '/home/finance', KAMENG_LOG_LEVEL: 'debug', KAMENG_ADMIN_PASSWORD: 'pw-from-env', KAMENG_STUCK_AFTER_MS: '60000' }, '/srv/kameng');
    expect(set.observability.logLevel).toBe('debug');
    expect(set.bootstrap).toEqual({ adminPassword: 'pw-from-env', demoStuckAfterMs: 60_000 });
    expect(set.fulfillment.stuckAfterMs).toBe(60_000);
    expect(() => loadConfig({ HOME: '/home/finance', KAMENG_LOG_LEVEL: 'LOUD' }, '/srv/kameng')).toThrow(/KAMENG_LOG_LEVEL/);
  });
});

describe('database sessions', () => {
  it('run with PostgreSQL JIT compilation off unless KAMENG_PG_JIT=on asks for it', async () => {
    expect(loadConfig({ HOME: '/home/finance' }, '/srv/kameng').database.jit).toBe(false);
    expect(loadConfig({ HOME: '/home/finance', KAMENG_PG_JIT: 'on' }, '/srv/kameng').database.jit).toBe(true);
    expect(() => loadConfig({ HOME: '/home/finance', KAMENG_PG_JIT: 'yes' }, '/srv/kameng')).toThrow(/KAMENG_PG_JIT/);
    // where the session's value came from: 'client' is Kameng's connection asking for it
    const setting = async (jit: boolean | undefined) => {
      const db = createDb(inject('databaseUrl'), { poolMax: 1, ...(jit === undefined ? {} : { jit }) });
      try {
        const { rows: [r] } = await db.raw("SELECT setting, source FROM pg_settings WHERE name = 'jit'");
        return `${r.setting} (${r.source})`;
      } finally {
        await db.destroy();
      }
    };
    expect(await setting(undefined)).toBe('off (client)');
    expect(await setting(false)).toBe('off (client)');
    expect(await setting(true)).not.toMatch(/client/);
  });
});
