import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { NONCE_KEPT_MS, RequestAuthenticator } from '../src/resellers/authenticate.ts';
import { ResellerRegistry } from '../src/resellers/registry.ts';
import { MAX_CLOCK_SKEW_MS, signedHeaders } from '../src/resellers/signature.ts';
import { scheduleDefinitions } from '../src/runtime/schedules.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';

let h: Harness;
let registry: ResellerRegistry;
let resellerId: number;
let credentials: { apiKey: string; apiSecret: string };
beforeAll(async () => {
  h = await openHarness();
  await h.ledger.openPlatformAccounts();
  registry = new ResellerRegistry(h.db, h.ledger, randomBytes(32));
  const created = await registry.create({ code: uniq('nonce-shop'), name: '防重放小店 Replay shop' });
  resellerId = created.reseller.id;
  credentials = { apiKey: created.reseller.apiKey, apiSecret: created.apiSecret };
});
afterAll(async () => {
  await h?.close();
});

const MINUTE = 60_000;
/** The scheduled housekeeping workflow, run through Temporal and a worker as the schedule runs it. */
const housekeeping = () => h.client.workflow.execute('housekeeping', { taskQueue: h.taskQueue, workflowId: `housekeeping-${randomUUID()}` }) as Promise<{ noncesPruned: number }>;
const nonceAged = async (nonce: string, ms: number) => {
  await h.db('api_nonces').insert({ reseller_id: resellerId, nonce, seen_at: h.db.raw('now() - make_interval(secs => ?)', [ms / 1000]) });
};
const nonces = async () => (await h.db('api_nonces').where({ reseller_id: resellerId }).pluck('nonce')).sort();
/** A balance request as the reseller signs it, its timestamp `skewMs` from now. */
const request = (nonce: string, skewMs: number) => ({
  method: 'GET', path: '/api/v1/balance', rawBody: Buffer.alloc(0),
  headers: signedHeaders(credentials, 'GET', '/api/v1/balance', '', Date.now() + skewMs, nonce),
});
/** The API's authenticator with its clock `laterMs` ahead: as if that much time has passed. */
const apiAt = (laterMs: number) => new RequestAuthenticator(h.db, registry, () => Date.now() + laterMs);
const codeOf = (p: Promise<unknown>) => p.then(() => 'accepted', (e: { code?: string }) => e.code);

describe('reseller API nonces are pruned on a schedule, past the replay window only', () => {
  it('is a Temporal schedule, like the other periodic work', () => {
    const config = loadConfig({});
    expect(scheduleDefinitions(config)).toContainEqual(expect.objectContaining({
      id: 'kameng-housekeeping', workflowType: 'housekeeping', taskQueue: config.temporal.taskQueues.platform, cron: config.temporal.schedules.housekeeping,
    }));
  });

  it('removes the nonces a replay could no longer use and keeps the rest', async () => {
    await h.db('api_nonces').where({ reseller_id: resellerId }).delete();
    const old = ['old-nonce-1', 'old-nonce-2', 'old-nonce-3'];
    for (const [i, nonce] of old.entries()) await nonceAged(nonce, NONCE_KEPT_MS + (i + 1) * MINUTE);
    await nonceAged('kept-nonce-edge', NONCE_KEPT_MS - MINUTE);
    await nonceAged('kept-nonce-recent', MINUTE);
    await nonceAged('kept-nonce-now', 0);
    const { noncesPruned } = await housekeeping();
    expect(noncesPruned).toBeGreaterThanOrEqual(old.length);
    expect(await nonces()).toEqual(['kept-nonce-edge', 'kept-nonce-now', 'kept-nonce-recent']);
  });

  it('still refuses a replay whose timestamp is within the window after pruning: its nonce is kept', async () => {
    // signed with a timestamp at the future edge of the window: replayable for the longest, 2 windows
    const nonce = `edge-${randomUUID().slice(0, 8)}`;
    const signed = request(nonce, MAX_CLOCK_SKEW_MS - 5_000);
    expect(await codeOf(apiAt(0).authenticate(signed))).toBe('accepted');
    // 9.5 minutes later: the timestamp still passes, so only the nonce stands in the way
    const later = 2 * MAX_CLOCK_SKEW_MS - 30_000;
    await h.db('api_nonces').where({ reseller_id: resellerId, nonce }).update({ seen_at: h.db.raw('seen_at - make_interval(secs => ?)', [later / 1000]) });
    await housekeeping();
    expect(await nonces()).toContain(nonce);
    expect(await codeOf(apiAt(later).authenticate(signed))).toBe('REPLAYED_NONCE');
    expect(await codeOf(apiAt(0).authenticate(request(nonce, 0)))).toBe('REPLAYED_NONCE');
  });

  it('once a nonce is pruned, a replay of its request is refused for its timestamp', async () => {
    const nonce = `gone-${randomUUID().slice(0, 8)}`;
    const signed = request(nonce, MAX_CLOCK_SKEW_MS - 5_000);
    expect(await codeOf(apiAt(0).authenticate(signed))).toBe('accepted');
    const later = NONCE_KEPT_MS + 30_000;
    await h.db('api_nonces').where({ reseller_id: resellerId, nonce }).update({ seen_at: h.db.raw('seen_at - make_interval(secs => ?)', [later / 1000]) });
    await housekeeping();
    expect(await nonces()).not.toContain(nonce);
    expect(await codeOf(apiAt(later).authenticate(signed))).toBe('STALE_TIMESTAMP');
  });
});
