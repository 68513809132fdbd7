import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHarness, uniq, type Harness } from './support/harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await openHarness();
  await h.ledger.openPlatformAccounts();
});
afterAll(() => h.close());

describe('workflows on a real Temporal server', () => {
  it('runs the platform health check end to end: Temporal -> worker -> activity -> PostgreSQL', async () => {
    const result = await h.client.workflow.execute('platformHealthCheck', {
      taskQueue: h.taskQueue,
      workflowId: uniq('health'),
    });
    expect(result.healthy).toBe(true);
    expect(result.ledgerImbalanceFen).toBe(0);
    expect(result.migrations).toBeGreaterThanOrEqual(1);
    expect(result.postgres).toMatch(/^\d+/);
  });

  it('reports a business refusal from an activity as a final, typed failure without retrying it', async () => {
    const workflowId = uniq('post');
    const run = h.client.workflow.execute('postJournalEntry', {
      taskQueue: h.taskQueue,
      workflowId,
      args: [{
        idempotencyKey: uniq('k'),
        kind: 'wallet_topup',
        postings: [{ account: 'platform:platform_cash', amount: 100 }, { account: 'platform:revenue', amount: -99 }],
      }],
    });
    const error = await run.catch((e) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(error.cause?.cause?.type).toBe('UnbalancedEntryError');
    const history = await h.client.workflow.getHandle(workflowId).fetchHistory();
    const attempts = history.events!.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt);
    expect(attempts).toEqual([1]);
  });
});
