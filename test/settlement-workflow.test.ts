import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountCode } from '../src/ledger/accounts.ts';
import { Rebates } from '../src/settlement/rebates.ts';
import { settleDay } from '../src/settlement/settle.ts';
import { Statements } from '../src/settlement/statements.ts';
import type { dailySettlement } from '../workflows/settlement.ts';
import { refOf, type Actor } from '../src/users/actor.ts';
import { userActor } from './support/actors.ts';
import { openHarness, type Harness } from './support/harness.ts';

// Its own database (settled days are global) and a real worker running the settlement workflow.
let h: Harness;
let reseller = 0;

beforeAll(async () => {
  h = await openHarness({ freshDatabase: true });
  await h.ledger.openPlatformAccounts();
  ({ reseller: { id: reseller } } = await h.deps.resellers.create({ code: 'wf-shop', name: '工作流小店 Workflow shop', tier: 'gold' }));
  await new Rebates(h.db, h.ledger).setRules('gold', [{ thresholdFen: 0, rateBp: 200 }]);
  for (const day of ['2021-01-29', '2021-01-30', '2021-01-31']) {
    await h.deps.resellers.topUpWallet(reseller, 10_000, `bank-${day}`, { valueDate: day });
    await h.ledger.post({
      idempotencyKey: `wf-sale-${day}`, kind: 'order_sale', businessDate: day,
      postings: [{ account: accountCode.resellerWallet(reseller), amount: 5_000 }, { account: accountCode.platform('revenue'), amount: -5_000 }],
    });
  }
});
afterAll(() => h.close());
let finance: Actor;

const run = (date: string) => h.client.workflow.execute<typeof dailySettlement>('dailySettlement', {
  taskQueue: h.taskQueue, workflowId: `settle-${date}-${Date.now()}`, args: [{ date, actor: refOf(finance) }],
});

describe('the daily settlement workflow', () => {
  it('catches up every unsettled day in order and awards the month rebates at its end', async () => {
    finance = await userActor(h.db, 'finance');
    await settleDay(h.db, '2021-01-29', { actor: finance });
    const result = await run('2021-01-31');
    expect(result.settled.map((d) => [d.date, d.created])).toEqual([['2021-01-30', true], ['2021-01-31', true]]);
    // January: three sales of 50.00 at 2% = 3.00, credited on 1 February's statement.
    expect(result.rebates).toEqual([{ month: '2021-01', awarded: 1, totalFen: 300 }]);
    const [jan31] = (await new Statements(h.db).forDay('2021-01-31', { limit: 5, offset: 0 })).rows;
    expect(jan31).toMatchObject({ openingFen: 10_000, closingFen: 15_000, ordersCount: 1 });
  });

  it('changes nothing when run again for a settled date', async () => {
    const statements = await h.db('reseller_statements').orderBy('id');
    const again = await run('2021-01-31');
    expect(again.settled).toEqual([]);
    expect(await h.db('reseller_statements').orderBy('id')).toEqual(statements);
    expect(await h.db('ledger_entries').where({ kind: 'rebate' }).count('* as n')).toEqual([{ n: 1 }]);
  });
});
