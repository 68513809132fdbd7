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

/**
 * Posts the login form as a browser would: first fetch the form (its CSRF cookie and hidden field),
 * then post it with both. `csrf: false` leaves the token out.
 */
export async function postLogin(base: string, form: Record<string, string>, options: { csrf?: boolean } = {}): Promise<Response> {
  const page = await fetch(`${base}/login`);
  const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
  return fetch(`${base}/login`, {
    method: 'POST', redirect: 'manual', headers: { cookie },
    body: new URLSearchParams({ ...form, ...(options.csrf === false ? {} : { _csrf: csrf }) }),
  });
}

/** Creates a user of a role and logs in over HTTP, as a person would. */
export async function loginAs(base: string, db: Db, role: Role): Promise<DashboardSession> {
  const username = `${role}-${randomUUID().slice(0, 6)}`;
  const password = `pw-${randomUUID()}`;
  await new Users(db).upsert({ username, role, password });
  const res = await postLogin(base, { username, password });
  if (res.status !== 303) throw new Error(`login as ${username} failed: ${res.status}`);
  // the answer also clears the login form's CSRF cookie: take the session's
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('kameng_session='))!.split(';')[0]!;
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
