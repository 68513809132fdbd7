import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { withTypedFailures } from '../activities/adapter.ts';
import { CallbackFailedError, CallbackRefusedError } from '../src/callbacks/deliver.ts';
import { type KamengError, NotFoundError, ValidationError } from '../src/errors.ts';
import { InsufficientFundsError, UnbalancedEntryError } from '../src/ledger/errors.ts';
import { StatementFormatError } from '../src/reconciliation/statement/errors.ts';
import { SupplierRejectedError, SupplierUnavailableError } from '../src/supplier-api/client.ts';
import { temporalConfig } from '../temporal.config.ts';

/** What an activity wrapped by the adapter throws when it fails with `err`. */
async function failureOf(err: unknown): Promise<unknown> {
  const activities = withTypedFailures({ act: async () => { throw err; } });
  return activities.act().then(() => { throw new Error('the activity did not fail'); }, (e: unknown) => e);
}

describe('which activity errors are retried is decided in one place (activities/adapter.ts)', () => {
  it('no retry policy in temporal.config.ts names error types of its own', () => {
    for (const [name, options] of Object.entries(temporalConfig.activities)) {
      expect(options.retry, `temporal.config.ts activities.${name}.retry`).not.toHaveProperty('nonRetryableErrorTypes');
    }
  });

  it.each([
    ['ValidationError', new ValidationError('amount: must be a whole number of fen')],
    ['NotFoundError', new NotFoundError('order', 42)],
    ['UnbalancedEntryError', new UnbalancedEntryError('postings sum to 1, not 0')],
    ['InsufficientFundsError', new InsufficientFundsError('wallet would go below zero', 'reseller:7:wallet')],
    ['SupplierRejectedError', new SupplierRejectedError('unknown product')],
    ['CallbackRefusedError', new CallbackRefusedError('private address')],
    ['StatementFormatError', new StatementFormatError('s.csv', [])],
  ])('a business refusal (%s) is final: a non-retryable failure keeping its type and code', async (type, err) => {
    const failure = await failureOf(err);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    const f = failure as ApplicationFailure;
    expect(f.nonRetryable).toBe(true);
    expect(f.type).toBe(type);
    expect(f.details?.[0]).toMatchObject({ code: (err as KamengError).code });
    expect(f.cause).toBe(err);
  });

  it.each([
    ['SupplierUnavailableError', new SupplierUnavailableError('timed out')],
    ['CallbackFailedError', new CallbackFailedError('503', 503)],
    ['a plain Error (a dropped connection)', new Error('ECONNRESET')],
  ])('%s may pass: thrown as it is, and retried by the policy', async (_what, err) => {
    expect(await failureOf(err)).toBe(err);
  });
});
