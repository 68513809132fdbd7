import type { Db } from '../db/knex.ts';
import { accountCode } from '../ledger/accounts.ts';
import { credit, debit, type Ledger } from '../ledger/ledger.ts';

const DEMO_RESELLERS = [
  { id: 9001, name: '星辰数码专营店 Xingchen Digital', topupFen: 500_000 },
  { id: 9002, name: '快充小铺 QuickTop Shop', topupFen: 120_000 },
  { id: 9003, name: '游戏点卡批发 GameCard Wholesale', topupFen: 2_000_000 },
];

/** Demo data for a first look. Idempotent: every posting has a fixed key, so restarts add nothing. */
export async function seedDemo(deps: { db: Db; ledger: Ledger }): Promise<string> {
  let created = 0;
  for (const r of DEMO_RESELLERS) {
    const wallet = accountCode.resellerWallet(r.id);
    await deps.ledger.openAccount({ code: wallet, kind: 'reseller_wallet', name: r.name, ownerType: 'reseller', ownerId: r.id });
    const entry = await deps.ledger.post({
      idempotencyKey: `demo:wallet-topup:${r.id}`,
      kind: 'wallet_topup',
      description: '演示充值 demo wallet top-up',
      postings: [debit(accountCode.platform('platform_cash'), r.topupFen), credit(wallet, r.topupFen)],
    });
    if (entry.created) created++;
  }
  return created ? `demo data: ${created} reseller wallet top-ups posted` : 'demo data already present';
}
