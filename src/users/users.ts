import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { Db } from '../db/knex.ts';
import { KamengError, ValidationError } from '../errors.ts';

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number }) => Promise<Buffer>;

export type Role = 'admin' | 'finance' | 'ops' | 'viewer' | 'compliance';
export const ROLES: Role[] = ['admin', 'finance', 'ops', 'viewer', 'compliance'];

export interface DashboardUser {
  id: number;
  username: string;
  displayName: string;
  role: Role;
}

export interface Session {
  user: DashboardUser;
  csrfToken: string;
}

export class LoginFailedError extends KamengError {
  constructor() {
    // The same answer for an unknown user and a wrong password: nothing to enumerate.
    super('LOGIN_FAILED', 'wrong username or password');
  }
}

const SCRYPT = { N: 16384, r: 8, p: 1 };
const SESSION_HOURS = 12;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function passwordMatches(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = await scrypt(password, Buffer.from(salt, 'base64'), expected.length, { N: Number(n), r: Number(r), p: Number(p) });
  return timingSafeEqual(actual, expected);
}

/** Dashboard users, passwords and sessions. */
export class Users {
  constructor(private readonly db: Db) {}

  /** Creates a user, or resets the password and role of an existing one. */
  async upsert(input: { username: string; displayName?: string; role: Role; password: string }): Promise<DashboardUser> {
    if (!ROLES.includes(input.role)) throw new ValidationError(`role must be one of ${ROLES.join(', ')}`);
    if (!/^[a-z0-9._-]{2,40}$/.test(input.username)) throw new ValidationError('username: 2-40 lower-case letters, digits, ".", "_" or "-"');
    if (typeof input.password !== 'string' || input.password.length < 10) throw new ValidationError('a password needs at least 10 characters');
    const [row] = await this.db('dashboard_users')
      .insert({ username: input.username, display_name: input.displayName ?? input.username, role: input.role, password_hash: await hashPassword(input.password) })
      .onConflict('username').merge(['role', 'password_hash', 'display_name'])
      .returning(['id', 'username', 'display_name', 'role']);
    return { id: row.id, username: row.username, displayName: row.display_name, role: row.role };
  }

  async count(): Promise<number> {
    const [row] = await this.db('dashboard_users').count<{ n: number }[]>('* as n');
    return Number(row?.n ?? 0);
  }

  /** Checks the password and opens a session; returns the cookie token (kept only hashed). */
  async login(username: string, password: string): Promise<{ token: string; session: Session }> {
    const row = await this.db('dashboard_users').where({ username: String(username ?? '').trim().toLowerCase(), disabled: false }).first();
    // Hash even for an unknown user, so timing does not say which usernames exist.
    const ok = await passwordMatches(String(password ?? ''), row?.password_hash ?? 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=');
    if (!row || !ok) throw new LoginFailedError();
    const token = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(24).toString('base64url');
    await this.db('dashboard_sessions').insert({
      token_sha256: sha256(token), user_id: row.id, csrf_token: csrfToken, expires_at: new Date(Date.now() + SESSION_HOURS * 3600_000),
    });
    await this.db('dashboard_sessions').where('expires_at', '<', new Date()).delete();
    return { token, session: { user: { id: row.id, username: row.username, displayName: row.display_name, role: row.role }, csrfToken } };
  }

  async session(token: string | undefined): Promise<Session | undefined> {
    if (!token) return undefined;
    const row = await this.db('dashboard_sessions as s').join('dashboard_users as u', 'u.id', 's.user_id')
      .where('s.token_sha256', sha256(token)).where('s.client', 'dashboard').where('s.expires_at', '>', new Date()).where('u.disabled', false)
      .first('u.id', 'u.username', 'u.display_name', 'u.role', 's.csrf_token');
    return row && { user: { id: row.id, username: row.username, displayName: row.display_name, role: row.role }, csrfToken: row.csrf_token };
  }

  async logout(token: string | undefined): Promise<void> {
    if (token) await this.db('dashboard_sessions').where({ token_sha256: sha256(token) }).delete();
  }
}
