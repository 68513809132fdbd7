import { ValidationError } from './errors.ts';

/** An amount in integer minor units (fen for CNY). Never a float. */
export type Fen = number;

export function assertFen(value: unknown, what = 'amount'): asserts value is Fen {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new ValidationError(`${what} must be an integer number of fen, got ${JSON.stringify(value)}`);
  }
}

/** Reads "12.34", "-0.5", "1,234.00" or "¥12" as fen, exactly, without floating point. */
export function parseYuan(text: string, what = 'amount'): Fen {
  const cleaned = text.trim().replace(/^[¥￥]/, '').replace(/,/g, '');
  const m = /^([+-])?(\d+)(?:\.(\d{1,2}))?$/.exec(cleaned);
  if (!m) throw new ValidationError(`${what}: "${text}" is not an amount in yuan with at most two decimals`);
  const fen = Number(m[2]) * 100 + Number((m[3] ?? '').padEnd(2, '0'));
  if (!Number.isSafeInteger(fen)) throw new ValidationError(`${what}: "${text}" is too large`);
  return m[1] === '-' ? -fen : fen;
}

/** 123456 -> "1234.56" (no currency sign, no grouping): the form statements and CSVs use. */
export function formatYuan(fen: Fen): string {
  assertFen(fen);
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  return `${sign}${Math.trunc(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** 123456 -> "¥1,234.56" for people. */
export function displayYuan(fen: Fen): string {
  const [int, dec] = formatYuan(fen).split('.');
  return `${int!.startsWith('-') ? '-' : ''}¥${int!.replace('-', '').replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${dec}`;
}
