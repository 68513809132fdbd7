import type { Db } from '../db/knex.ts';
import { isoShanghai } from '../dates.ts';
import { open, seal } from '../crypto/sealed-box.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { ALERT_RULES, type AlertRule, type AlertThresholds } from './rules.ts';
import { CHANNEL_KINDS, checkRobotUrl, robotRequest, sendToRobot, type ChannelKind } from './robots.ts';

export interface AlertChannel {
  id: number;
  name: string;
  kind: ChannelKind;
  /** Scheme, host and path only: the query (a DingTalk access token) is sealed with the secret. */
  displayUrl: string;
  active: boolean;
}

/** What evaluation decided to send: one pending delivery per notice and channel. */
export interface PendingDelivery {
  id: number;
  rule: string;
  subject: string;
  event: 'firing' | 'resolved';
}

/**
 * Alerts: rules (src/alerts/rules.ts) evaluated on a Temporal Schedule; alert_states keeps one row
 * per rule and subject, so a rule fires once while its subject stays wrong, and sends one
 * "resolved" when it clears; each notice to each active channel is a row in alert_deliveries,
 * delivered by an activity with a durable retry policy (temporal.config.ts alertDelivery).
 */
export class Alerts {
  constructor(private readonly db: Db, private readonly key: Buffer, private readonly options: { thresholds: AlertThresholds; allowPrivate: boolean; rules?: AlertRule[] }) {}

  /** Adds a robot or webhook; its URL goes through the SSRF policy, and URL and secret are sealed. */
  async addChannel(input: { name: string; kind: ChannelKind; url: string; secret: string }): Promise<AlertChannel> {
    if (!CHANNEL_KINDS.includes(input.kind)) throw new ValidationError(`kind: must be one of ${CHANNEL_KINDS.join(', ')}, not "${input.kind}"`);
    if (!input.name?.trim()) throw new ValidationError('name: a channel needs a name');
    const url = checkRobotUrl(input.url, this.options.allowPrivate);
    if (input.kind !== 'wecom' && !input.secret) throw new ValidationError(`secret: a ${input.kind} channel is signed and needs its secret`);
    if (input.kind === 'wecom' && !input.secret && !url.searchParams.get('key')) throw new ValidationError('secret: a WeCom robot needs its key (as the secret, or key= in the URL)');
    const [row] = await this.db('alert_channels').insert({
      name: input.name.trim(), kind: input.kind, url: `${url.protocol}//${url.host}${url.pathname}`,
      secret_sealed: seal(this.key, JSON.stringify({ url: input.url, secret: input.secret })),
    }).returning('*');
    return toChannel(row);
  }

  async channels(): Promise<AlertChannel[]> {
    return (await this.db('alert_channels').orderBy('id')).map(toChannel);
  }

  async setChannelActive(id: number, active: boolean): Promise<void> {
    const n = await this.db('alert_channels').where({ id }).update({ active });
    if (!n) throw new NotFoundError('alert channel', String(id));
  }

  /**
   * Runs every rule; a new (rule, subject) fires, one still wrong stays quiet, one no longer found
   * resolves. Returns every delivery still pending (those of this run and any an earlier run left).
   */
  async evaluate(): Promise<PendingDelivery[]> {
    for (const rule of this.options.rules ?? ALERT_RULES) {
      const findings = await rule.evaluate(this.db, this.options.thresholds);
      await this.db.transaction(async (trx) => {
        const open = await trx('alert_states').where({ rule: rule.name, status: 'firing' }).forUpdate().select('subject', 'episode');
        const firing = new Map(open.map((r) => [r.subject as string, r.episode as number]));
        const channels = await trx('alert_channels').where({ active: true }).select('id');
        const notify = async (subject: string, episode: number, event: 'firing' | 'resolved', summary: string) => {
          if (channels.length === 0) return;
          await trx('alert_deliveries').insert(channels.map((c) => ({ rule: rule.name, subject, episode, event, channel_id: c.id, summary })))
            .onConflict(['rule', 'subject', 'episode', 'event', 'channel_id']).ignore();
        };
        const seen = new Set<string>();
        for (const f of findings) {
          seen.add(f.subject);
          if (firing.has(f.subject)) {
            await trx('alert_states').where({ rule: rule.name, subject: f.subject }).update({ last_seen_at: trx.fn.now(), summary: f.summary, details: JSON.stringify(f.details ?? {}) });
            continue;
          }
          const [state] = await trx('alert_states')
            .insert({ rule: rule.name, subject: f.subject, status: 'firing', episode: 1, summary: f.summary, details: JSON.stringify(f.details ?? {}) })
            .onConflict(['rule', 'subject']).merge({
              status: 'firing', episode: trx.raw('alert_states.episode + 1'), summary: f.summary, details: JSON.stringify(f.details ?? {}),
              fired_at: trx.fn.now(), last_seen_at: trx.fn.now(), resolved_at: null,
            }).returning('episode');
          await notify(f.subject, state.episode, 'firing', f.summary);
        }
        for (const [subject, episode] of firing) {
          if (seen.has(subject)) continue;
          const [state] = await trx('alert_states').where({ rule: rule.name, subject }).update({ status: 'resolved', resolved_at: trx.fn.now() }).returning('summary');
          await notify(subject, episode, 'resolved', state.summary);
        }
      });
    }
    return (await this.db('alert_deliveries').where({ status: 'pending' }).orderBy('id').limit(500).select('id', 'rule', 'subject', 'event'))
      .map((r) => ({ id: Number(r.id), rule: r.rule, subject: r.subject, event: r.event }));
  }

  /** Sends one pending notice (idempotent: a delivered one is not sent again); throws to be retried. */
  async deliver(deliveryId: number): Promise<'delivered' | 'already'> {
    const d = await this.db('alert_deliveries as d').join('alert_channels as c', 'c.id', 'd.channel_id').where('d.id', deliveryId)
      .first('d.*', 'c.kind', 'c.name as channel_name', 'c.secret_sealed', 'c.active');
    if (!d) throw new NotFoundError('alert delivery', String(deliveryId));
    if (d.status !== 'pending') return 'already';
    const { url, secret } = JSON.parse(open(this.key, d.secret_sealed)) as { url: string; secret: string };
    const rule = (this.options.rules ?? ALERT_RULES).find((r) => r.name === d.rule);
    const resolved = d.event === 'resolved';
    const title = `${resolved ? '✅ 已恢复 RESOLVED' : '🔔 告警 FIRING'} ${rule?.zh ?? d.rule} ${rule?.en ?? ''}`.trim();
    const at = isoShanghai(new Date());
    const message = {
      title,
      text: `${d.summary}\n\n规则 rule: ${d.rule} · 对象 subject: ${d.subject} · ${at}`,
      payload: { rule: d.rule, subject: d.subject, event: d.event, episode: d.episode, summary: d.summary, at },
    };
    await this.db('alert_deliveries').where({ id: deliveryId }).increment('attempts', 1);
    try {
      await sendToRobot(d.kind, robotRequest(d.kind, url, secret, message), { allowPrivate: this.options.allowPrivate });
    } catch (err) {
      await this.db('alert_deliveries').where({ id: deliveryId }).update({ last_error: (err as Error).message.slice(0, 500) });
      throw err;
    }
    await this.db('alert_deliveries').where({ id: deliveryId, status: 'pending' }).update({ status: 'delivered', delivered_at: new Date(), last_error: null });
    return 'delivered';
  }

  /** Given up on after the retry policy ran out (the workflow says so): kept, visible, not retried by the next run. */
  async abandon(deliveryId: number, reason: string): Promise<void> {
    await this.db('alert_deliveries').where({ id: deliveryId, status: 'pending' }).update({ status: 'abandoned', last_error: reason.slice(0, 500) });
  }

  async states(): Promise<{ rule: string; subject: string; status: string; summary: string; firedAt: Date; resolvedAt: Date | null }[]> {
    return (await this.db('alert_states').orderBy([{ column: 'status', order: 'asc' }, { column: 'fired_at', order: 'desc' }]).limit(200))
      .map((r) => ({ rule: r.rule, subject: r.subject, status: r.status, summary: r.summary, firedAt: r.fired_at, resolvedAt: r.resolved_at }));
  }
}

const toChannel = (r: Record<string, any>): AlertChannel => ({ id: Number(r.id), name: r.name, kind: r.kind, displayUrl: r.url, active: r.active });
