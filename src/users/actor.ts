import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { Db } from '../db/knex.ts';
import { KamengError } from '../errors.ts';
import type { Role, Session } from './users.ts';

/**
 * Who acts: an existing, active user, resolved from a session (a dashboard cookie or a CLI token),
 * never a name typed on a command line. Every audited or money-moving domain function takes one.
 */
export interface Actor {
  userId: number;
  username: string;
  role: Role;
}

/** What a workflow payload carries for its actor (serialisable); the activity turns it back into an Actor. */
export type ActorRef = Pick<Actor, 'userId' | 'username'>;

/** Scheduled work (the nightly settlement and its rebates): no person acts, and the books say so. */
export type Schedule = { readonly schedule: true; readonly username: 'schedule' | 'system' };
export const SCHEDULE: Schedule = { schedule: true, username: 'schedule' };
/** Kameng itself acting on what it was told (a supplier's answer, a login throttle): no person, and the books say so. */
export const SYSTEM: Schedule = { schedule: true, username: 'system' };

export const isSchedule = (who: Actor | Schedule): who is Schedule => 'schedule' in who;
export const refOf = (actor: Actor): ActorRef => ({ userId: actor.userId, username: actor.username });

/** What each action needs, on the dashboard and the CLI alike. Admin may do everything; a viewer only reads. */
export const PERMISSIONS = {
  fulfillment: ['ops'],
  reconciliation: ['finance'],
  settlement: ['finance'],
  users: [],
  // administration (issue 18): suppliers, offers and SKUs; prices; 资质 uploads; 资质 review (four eyes)
  catalog: ['ops'],
  pricing: ['finance'],
  documents: ['ops', 'compliance'],
  compliance: ['compliance'],
  resellers: [],
  recharges: ['finance'],
} satisfies Record<string, Role[]>;
export type Permission = keyof typeof PERMISSIONS;

export const may = (role: Role | undefined, permission: Permission): boolean =>
  role === 'admin' || (role !== undefined && (PERMISSIONS[permission] as Role[]).includes(role));

export class ForbiddenError extends KamengError {
  constructor(message: string) {
    super('FORBIDDEN', message);
  }
}

/** The session is missing, expired, logged out, or its user was disabled. */
export class NotLoggedInError extends KamengError {
  constructor(message = 'not logged in: run `kameng login` first') {
    super('NOT_LOGGED_IN', message);
  }
}

export function assertMay(actor: Actor, permission: Permission): Actor {
  if (!may(actor.role, permission)) throw new ForbiddenError(`${actor.username} (${actor.role}) may not act on ${permission}; ask an admin`);
  return actor;
}

/** The dashboard's session user as an Actor (its session is already checked: unexpired, user active). */
export const actorOf = (session: Session): Actor => ({ userId: Number(session.user.id), username: session.user.username, role: session.user.role });

export type SessionClient = 'dashboard' | 'cli';

/**
 * The one resolver from a session token to an Actor: the token is known, unexpired, of this
 * client, and its user is active now (disabling a user stops their tokens at once).
 */
export async function actorFromToken(db: Db | Knex.Transaction, token: string | undefined, client: SessionClient): Promise<Actor | undefined> {
  if (!token) return undefined;
  const row = await db('dashboard_sessions as s').join('dashboard_users as u', 'u.id', 's.user_id')
    .where('s.token_sha256', createHash('sha256').update(token).digest('hex')).where('s.client', client)
    .where('s.expires_at', '>', new Date()).where('u.disabled', false)
    .first('u.id', 'u.username', 'u.role');
  return row && { userId: Number(row.id), username: row.username, role: row.role };
}

/**
 * A workflow's actor back as an Actor, in its activity. The person was authorised when the
 * workflow was asked; the user must still exist. Payloads of before users (a bare name) are looked
 * up by that name.
 */
export async function actorFromRef(db: Db | Knex.Transaction, ref: ActorRef | string): Promise<Actor> {
  const row = typeof ref === 'string'
    ? await db('dashboard_users').where({ username: ref }).first('id', 'username', 'role')
    : await db('dashboard_users').where({ id: ref.userId }).first('id', 'username', 'role');
  if (!row) throw new NotLoggedInError(`the acting user ${typeof ref === 'string' ? ref : `${ref.username} (#${ref.userId})`} does not exist`);
  return { userId: Number(row.id), username: row.username, role: row.role };
}

/** The columns an actor fills: the user id (a foreign key) and the name, kept as text for history. */
export const actorColumns = (who: Actor | Schedule) => (isSchedule(who) ? { id: null, name: who.username } : { id: who.userId, name: who.username });
