import { KamengError, NotFoundError } from '../errors.ts';

/** A day is settled once it is over: settling it earlier would freeze a day still taking orders. */
export class DayNotOverError extends KamengError {
  constructor(date: string, today: string) {
    super('DAY_NOT_OVER', `${date} has not ended in Asia/Shanghai (today is ${today}); a day is settled after it ends`, { details: { date, today } });
  }
}

/** Settled days are frozen and come in order: no day before the last settled one can be settled. */
export class SettlementFrozenError extends KamengError {
  constructor(date: string, lastSettled: string) {
    super('SETTLEMENT_FROZEN', `${date} cannot be settled: ${lastSettled} is already settled and settled days are frozen; events dated ${date} that arrive now are settled on the next day, flagged late`, { details: { date, lastSettled } });
  }
}

/** The statements do not add up to the ledger: nothing is written and someone must look. */
export class SettlementIdentityError extends KamengError {
  constructor(date: string, mismatches: { wallet: string; ledgerFen: number; statementFen: number }[]) {
    const sample = mismatches.slice(0, 5).map((m) => `${m.wallet}: ledger ${m.ledgerFen} fen, statement ${m.statementFen} fen`).join('; ');
    super('SETTLEMENT_IDENTITY', `settlement of ${date} refused: ${mismatches.length} wallet(s) do not match the ledger (${sample})`, { details: { date, mismatches: mismatches.slice(0, 50) } });
  }
}

/** A day's statements exist once it is settled: an export of an unsettled day would be an empty workbook. */
export class DayNotSettledError extends NotFoundError {
  constructor(date: string) {
    super('settled day', date);
    this.message = `${date} is not settled, so it has no statements to export; settle it first (kameng settle --date ${date}, once the day has ended)`;
  }
}
