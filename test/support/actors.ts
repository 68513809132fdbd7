import { randomUUID } from 'node:crypto';
import type { Db } from '../../src/db/knex.ts';
import type { Actor } from '../../src/users/actor.ts';
import { Users, type Role } from '../../src/users/users.ts';

/**
 * A real user of a role (created, or reset if the name exists) as the Actor a session resolves to:
 * what a domain function under test takes instead of a name. `await userActor(h.db, 'finance')`.
 */
export async function userActor(db: Db, role: Role, username = `${role}-${randomUUID().slice(0, 8)}`): Promise<Actor> {
  const user = await new Users(db).upsert({ username, role, password: `pw-${randomUUID()}` });
  return { userId: Number(user.id), username: user.username, role: user.role };
}
