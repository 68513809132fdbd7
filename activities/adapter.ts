import { ApplicationFailure } from '@temporalio/activity';
import { KamengError } from '../src/errors.ts';

type AnyFn = (...args: any[]) => Promise<unknown>;

/**
 * Business refusals (bad input, insufficient funds, a conflicting replay) are final: retrying
 * cannot fix them. Turn them into non-retryable failures that keep the error's type and code,
 * so a workflow can branch on `failure.type`. Anything else (a dropped connection) is retried.
 * This is the one place that decides it: the retry policies in temporal.config.ts name no error types.
 */
export function withTypedFailures<T extends Record<string, AnyFn>>(activities: T): T {
  const wrapped: Record<string, AnyFn> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: unknown[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        if (err instanceof KamengError && !err.retryable) {
          throw ApplicationFailure.create({
            type: err.name,
            message: err.message,
            nonRetryable: true,
            details: [{ code: err.code, ...(err.details ?? {}) }],
            cause: err,
          });
        }
        throw err;
      }
    };
  }
  return wrapped as T;
}
