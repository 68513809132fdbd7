import { randomUUID } from 'node:crypto';
import type { Db } from '../../src/db/knex.ts';
import { Users, type Role } from '../../src/users/users.ts';

export interface DashboardSession {
  username: string;
  cookie: string;
  /** The CSRF token of this session, read off a page as a browser form would carry it. */
  csrf: string;
  get(path: string): Promise<Response>;
  /** A form post with the session's cookie and CSRF token (unless `csrf: false`). */
  post(path: string, form: Record<string, string>, options?: { csrf?: boolean }): Promise<Response>;
}

/** Creates a user of a role and logs in over HTTP, as a person would. */
export async function loginAs(base: string, db: Db, role: Role): Promise<DashboardSession> {
  const username = `${role}-${randomUUID().slice(0, 6)}`;
  const password = `pw-${randomUUID()}`;
  await new Users(db).upsert({ username, role, password });
  const res = await fetch(`${base}/login`, { method: 'POST', body: new URLSearchParams({ username, password }), redirect: 'manual' });
  if (res.status !== 303) throw new Error(`login as ${username} failed: ${res.status}`);
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  const page = await (await fetch(`${base}/audit`, { headers: { cookie } })).text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
  return {
    username, cookie, csrf,
    get: (path) => fetch(`${base}${path}`, { headers: { cookie }, redirect: 'manual' }),
    post: (path, form, options = {}) => fetch(`${base}${path}`, {
      method: 'POST', headers: { cookie, accept: 'application/json' }, redirect: 'manual',
      body: new URLSearchParams({ ...form, ...(options.csrf === false ? {} : { _csrf: csrf }) }),
    }),
  };
}
