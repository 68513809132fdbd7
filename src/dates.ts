import { BUSINESS_OFFSET_MS, shiftDate } from './business-day.ts';
import { ValidationError } from './errors.ts';

/** The arithmetic lives in src/business-day.ts (import-free, so workflows share it); re-exported here. */
export { businessDateOf, isLastDayOfMonth } from './business-day.ts';

/**
 * Business dates are Asia/Shanghai calendar days. China has kept UTC+8 without daylight saving
 * since 1991, so a fixed offset is exact for every date this system handles.
 */
export const BUSINESS_TZ = 'Asia/Shanghai';
const OFFSET_MS = BUSINESS_OFFSET_MS;

/** "YYYY-MM-DD" */
export type BusinessDate = string;

export function assertBusinessDate(value: string, what = 'date'): BusinessDate {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))
    || new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) !== value) {
    throw new ValidationError(`${what}: "${value}" is not a date in YYYY-MM-DD form`);
  }
  return value;
}

/** The half-open instant range [start, end) that a business date covers. */
export function businessDayRange(date: BusinessDate): { start: Date; end: Date } {
  assertBusinessDate(date);
  const start = new Date(Date.parse(`${date}T00:00:00Z`) - OFFSET_MS);
  return { start, end: new Date(start.getTime() + 24 * 60 * 60 * 1000) };
}

export function addDays(date: BusinessDate, days: number): BusinessDate {
  return shiftDate(assertBusinessDate(date), days);
}

/**
 * An instant as people here read it: Asia/Shanghai wall time with its zone, "2026-12-01 04:14:57 +08:00".
 * Every page, CLI table and log line that shows a time to a person goes through this.
 */
export function formatShanghai(instant: Date | string | number): string {
  const t = instant instanceof Date ? instant.getTime() : new Date(instant).getTime();
  if (Number.isNaN(t)) return '';
  const local = new Date(t + OFFSET_MS).toISOString();
  return `${local.slice(0, 10)} ${local.slice(11, 19)} +08:00`;
}

/** ISO 8601 with the +08:00 offset, for CSV and JSON read by machines and people alike. */
export function isoShanghai(instant: Date | string | number): string {
  const t = instant instanceof Date ? instant.getTime() : new Date(instant).getTime();
  if (Number.isNaN(t)) return '';
  return `${new Date(t + OFFSET_MS).toISOString().slice(0, 19)}+08:00`;
}
