import { DEMO_RECEIVING_BANK } from '../src/config.ts';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoActors, seedDemo } from '../src/demo/seed.ts';
import { userActor } from './support/actors.ts';
import { openHarness, type Harness } from './support/harness.ts';

let h: Harness;
let dataDir: string;

beforeAll(async () => {
  h = await openHarness({ worker: false, freshDatabase: true });
  await h.ledger.openPlatformAccounts();
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-demo-seed-'));
});
afterAll(async () => {
  await fs.rm(dataDir, { recursive: true, force: true });
  await h.close();
});

describe('the demo seeds its resellers through the same services as a person', () => {
  it('onboards each reseller as the admin and records its opening 充值 as finance; a second start adds nothing', async () => {
    const admin = await userActor(h.db, 'admin');
    const finance = await userActor(h.db, 'finance', 'finance');
    for (const role of ['ops', 'compliance'] as const) await userActor(h.db, role, role);
    const actors = await demoActors(h.db, { resellers: { rechargeApprovalFen: 5_000_000, secretOverlapMs: 3600_000, receivingBank: DEMO_RECEIVING_BANK } });
    expect(actors).toMatchObject({ admin: { userId: admin.userId }, finance: { userId: finance.userId } });
    for (let start = 0; start < 2; start++) {
      const demo = await seedDemo(h.deps, { simulatorPort: 0, dataDir, actors });
      await demo.simulator.stop();
    }
    const recharges = await h.db('wallet_recharges as w').join('resellers as r', 'r.id', 'w.reseller_id').orderBy('r.code').select('r.code', 'w.status', 'w.amount_fen', 'w.recorded_by_user_id');
    expect(recharges).toEqual([
      { code: 'gamecard', status: 'credited', amount_fen: 2_000_000, recorded_by_user_id: finance.userId },
      { code: 'quicktop', status: 'credited', amount_fen: 120_000, recorded_by_user_id: finance.userId },
      { code: 'xingchen', status: 'credited', amount_fen: 500_000, recorded_by_user_id: finance.userId },
    ]);
    const onboarded = await h.db('audit_log').where({ action: 'reseller.onboard' }).pluck('actor_user_id');
    expect(onboarded).toEqual([admin.userId, admin.userId, admin.userId]);
    const gamecard = await h.deps.resellers.byCode('gamecard');
    expect(await h.deps.resellers.walletBalance(gamecard.id)).toBe(2_000_000);
  });
});
