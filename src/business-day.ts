/**
 * Business-day arithmetic with no imports at all, so that workflow code may use it too
 * (workflows/scheduled-day.ts; eslint.config.js keeps this file import-free). src/dates.ts builds on
 * it and adds the checks that throw typed errors; everything else imports src/dates.ts.
 *
 * Business dates are Asia/Shanghai calendar days, "YYYY-MM-DD". China has kept UTC+8 without
 * daylight saving since 1991, so a fixed offset is exact for every date this system handles.
 */
export const BUSINESS_OFFSET_MS = 8 * 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** The Asia/Shanghai calendar day of an instant. */
export function businessDateOf(instant: Date): string {
  return new Date(instant.getTime() + BUSINESS_OFFSET_MS).toISOString().slice(0, 10);
}

/** The date `days` after (before, if negative) a "YYYY-MM-DD" date; the input is not checked here. */
export function shiftDate(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** True for the last calendar day of its month ("YYYY-MM-DD"). */
export function isLastDayOfMonth(date: string): boolean {
  return shiftDate(date, 1).endsWith('-01');
}
