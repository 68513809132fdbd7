import { databaseMessage } from '../db/knex.ts';
import { KamengError } from '../errors.ts';

export class UnbalancedEntryError extends KamengError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('UNBALANCED_ENTRY', message, { details });
  }
}

export class IdempotencyConflictError extends KamengError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('IDEMPOTENCY_CONFLICT', message, { details });
  }
}

export class InsufficientFundsError extends KamengError {
  constructor(message: string, account: string) {
    super('INSUFFICIENT_FUNDS', message, { details: { account } });
  }
}

export class UnknownAccountError extends KamengError {
  constructor(message: string, account: string) {
    super('UNKNOWN_ACCOUNT', message, { details: { account } });
  }
}

export class CurrencyMismatchError extends KamengError {
  constructor(message: string, account: string) {
    super('CURRENCY_MISMATCH', message, { details: { account } });
  }
}

export class AppendOnlyError extends KamengError {
  constructor(message: string) {
    super('LEDGER_APPEND_ONLY', message);
  }
}

/** Turns the ledger's SQLSTATEs (class KM, raised by ledger_post and its triggers) into typed errors. */
export function ledgerErrorFrom(err: unknown): KamengError | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  const e = err as { code?: string; message?: string; detail?: string; constraint?: string };
  const message = databaseMessage(err);
  switch (e.code) {
    case 'KM001': return new UnbalancedEntryError(message);
    case 'KM002': return new IdempotencyConflictError(message, { existingEntryId: Number(e.detail) });
    case 'KM003': return new InsufficientFundsError(message, e.detail ?? '');
    case 'KM004': return new UnknownAccountError(message, e.detail ?? '');
    case 'KM005': return new CurrencyMismatchError(message, e.detail ?? '');
    case 'KM006': return new AppendOnlyError(message);
    case '23514':
      return e.constraint === 'ledger_accounts_no_overdraft'
        ? new InsufficientFundsError('insufficient funds: the account would be overdrawn', '')
        : undefined;
    default: return undefined;
  }
}
