import { createHash } from 'node:crypto';
import type { Db } from '../db/knex.ts';
import { actorOf, type Actor } from './actor.ts';
import type { Users } from './users.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * `kameng login`: the same password check as the dashboard's (Users.login, with whatever guards
 * it has), then the session is made a CLI one, with the CLI's lifetime. A CLI token does not open
 * the dashboard, nor a dashboard cookie the CLI.
 */
export async function openCliSession(users: Users, db: Db, input: { username: string; password: string; hours: number }): Promise<{ token: string; actor: Actor; expiresAt: Date }> {
  const { token, session } = await users.login(input.username, input.password);
  const expiresAt = new Date(Date.now() + input.hours * 3600_000);
  await db('dashboard_sessions').where({ token_sha256: sha256(token) }).update({ client: 'cli', expires_at: expiresAt });
  return { token, actor: actorOf(session), expiresAt };
}

export async function closeCliSession(db: Db, token: string): Promise<void> {
  await db('dashboard_sessions').where({ token_sha256: sha256(token), client: 'cli' }).delete();
}
