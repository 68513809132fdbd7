import { isIPv6 } from 'node:net';
import { recordAudit } from '../audit/audit-log.ts';
import { SYSTEM } from './actor.ts';
import type { LoginSettings } from '../config.ts';
import type { Db } from '../db/knex.ts';
import { KamengError } from '../errors.ts';

/** Too many failed logins for this username, address or pair: wait, or the lock runs out. */
export class LoginThrottledError extends KamengError {
  constructor(readonly retryAfterMs: number, locked: boolean) {
    super(locked ? 'LOGIN_LOCKED' : 'LOGIN_THROTTLED', `too many failed logins; try again in ${Math.ceil(retryAfterMs / 1000)} s`, { retryable: true, details: { retryAfterMs } });
  }
}

/** An address that logged in as a user within this long is that user's known place. */
const KNOWN_FOR_MS = 30 * 24 * 3600_000;

interface Row {
  key: string;
  failures: number;
  last_failure_at: Date | null;
  locked_until: Date | null;
  last_success_at: Date | null;
}

/** The keys one login attempt counts on. */
export interface LoginAttempt {
  user: string;
  addr: string;
  pair: string;
}

/**
 * IPv4 as is (also when IPv4-mapped), IPv6 by its /64: one host is handed a whole /64, so
 * counting single IPv6 addresses would count nothing.
 */
export function addressKey(address: string | undefined): string {
  const a = (address ?? 'unknown').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
  if (!isIPv6(a)) return a;
  const [head = '', tail = ''] = a.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = a.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => Number.parseInt(g, 16).toString(16)).join(':')}::/64`;
}

/**
 * Login throttling, in PostgreSQL so every process agrees. Each attempt counts on three keys: the
 * username, the client address and the pair. After the free tries a key makes every next try wait
 * a doubling delay (refused at once, without hashing, until it has passed); at lockAfter failures
 * the key is locked for lockMs, audited, and its count starts again when the lock runs out. Failures
 * older than lockMs are forgotten. An attempt is counted as a failure when it is admitted, before
 * the password is hashed, so a burst of parallel tries sees itself; a success takes it back.
 *
 * So that an attacker cannot keep a user locked out, the username's own count is not enforced from
 * an address the user logged in from within 30 days: there the pair's count (and the address's)
 * throttles alone. An attacker elsewhere can slow a user down, not lock them out of their usual place.
 */
export class LoginThrottle {
  constructor(private readonly db: Db, private readonly settings: LoginSettings) {}

  attemptOf(username: string, address: string | undefined): LoginAttempt {
    const user = String(username ?? '').trim().toLowerCase().slice(0, 100);
    const addr = addressKey(address);
    return { user: `user:${user}`, addr: `addr:${addr}`, pair: `pair:${user}|${addr}` };
  }

  /** Admits the attempt (counting it as a failure for now) or throws LoginThrottledError. */
  async admit(attempt: LoginAttempt): Promise<void> {
    const keys = [attempt.addr, attempt.pair, attempt.user].sort();
    await this.db.transaction(async (trx) => {
      await trx('login_throttle').insert(keys.map((key) => ({ key }))).onConflict('key').ignore();
      const rows: Row[] = await trx('login_throttle').whereIn('key', keys).orderBy('key').forUpdate();
      const now: Date = (await trx.raw('SELECT now() AS now')).rows[0].now;
      const byKey = new Map(rows.map((r) => [r.key, r]));
      const pair = byKey.get(attempt.pair)!;
      const known = pair.last_success_at !== null && now.getTime() - pair.last_success_at.getTime() < KNOWN_FOR_MS;
      const enforced = [attempt.addr, attempt.pair, ...(known ? [] : [attempt.user])];
      let wait = 0;
      let locked = false;
      for (const key of enforced) {
        const r = byKey.get(key)!;
        if (r.locked_until && r.locked_until > now) {
          wait = Math.max(wait, r.locked_until.getTime() - now.getTime());
          locked = true;
          continue;
        }
        const failures = this.current(r, now);
        const { freeTries } = this.rule(key);
        if (failures >= freeTries && r.last_failure_at) {
          const delay = Math.min(1000 * 2 ** (failures - freeTries), this.settings.maxDelayMs);
          wait = Math.max(wait, r.last_failure_at.getTime() + delay - now.getTime());
        }
      }
      if (wait > 0) throw new LoginThrottledError(wait, locked);
      for (const r of rows) {
        await trx('login_throttle').where({ key: r.key }).update({ failures: this.current(r, now) + 1, last_failure_at: now });
      }
    });
  }

  /** The password was wrong: the admitted count stands; a key at its threshold is locked. */
  async failed(attempt: LoginAttempt): Promise<void> {
    await this.db.transaction(async (trx) => {
      const rows: Row[] = await trx('login_throttle').whereIn('key', [attempt.addr, attempt.pair, attempt.user]).orderBy('key').forUpdate();
      const now: Date = (await trx.raw('SELECT now() AS now')).rows[0].now;
      for (const r of rows) {
        if (r.failures < this.rule(r.key).lockAfter || (r.locked_until && r.locked_until > now)) continue;
        const lockedUntil = new Date(now.getTime() + this.settings.lockMs);
        await trx('login_throttle').where({ key: r.key }).update({ locked_until: lockedUntil, failures: 0 });
        await recordAudit(trx, {
          actor: SYSTEM, action: 'login.lock', subjectType: 'login', subjectId: r.key,
          reason: `${r.failures} failed logins; locked until ${lockedUntil.toISOString()}`,
          details: { failures: r.failures, lockedUntil: lockedUntil.toISOString(), address: attempt.addr.slice(5) },
        });
      }
    });
  }

  /** The password was right: the pair becomes a known place, the username's count (unless locked) and this try's count on the address are taken back. */
  async succeeded(attempt: LoginAttempt): Promise<void> {
    await this.db.raw(`
      UPDATE login_throttle SET
        failures = CASE
          WHEN key = :addr THEN greatest(failures - 1, 0)
          WHEN locked_until > now() THEN failures
          ELSE 0 END,
        last_success_at = CASE WHEN key = :pair THEN now() ELSE last_success_at END
      WHERE key IN (:addr, :pair, :user)`, { ...attempt });
    // a success is rare next to an attack's failures: a good moment to forget what is over
    await this.prune();
  }

  /** Forgets rows with nothing left to remember (no recent failure, no lock, no known place). */
  async prune(): Promise<number> {
    return this.db('login_throttle')
      .where((q) => q.where('last_failure_at', '<', new Date(Date.now() - this.settings.lockMs)).orWhereNull('last_failure_at'))
      .andWhere((q) => q.whereNull('locked_until').orWhere('locked_until', '<', new Date()))
      .andWhere((q) => q.whereNull('last_success_at').orWhere('last_success_at', '<', new Date(Date.now() - KNOWN_FOR_MS)))
      .delete();
  }

  private current(r: Row, now: Date): number {
    return r.last_failure_at && now.getTime() - r.last_failure_at.getTime() < this.settings.lockMs ? r.failures : 0;
  }

  private rule(key: string): { freeTries: number; lockAfter: number } {
    return key.startsWith('addr:')
      ? { freeTries: this.settings.addressFreeTries, lockAfter: this.settings.addressLockAfter }
      : { freeTries: this.settings.freeTries, lockAfter: this.settings.lockAfter };
  }
}
