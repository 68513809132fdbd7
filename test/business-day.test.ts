import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addDays, businessDateOf } from '../src/dates.ts';
import { dayBefore, isLastDayOfMonth } from '../workflows/scheduled-day.ts';

/** The calendar day in Asia/Shanghai by the platform's own time-zone data, not by our fixed offset. */
const shanghaiDay = (at: Date) => new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);

const instants = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true });

describe('one business-day arithmetic for workflows and the rest (src/business-day.ts)', () => {
  it('the business date of an instant is its Asia/Shanghai calendar day', () => {
    fc.assert(fc.property(instants, (at) => businessDateOf(at) === shanghaiDay(at)));
    expect(businessDateOf(new Date('2026-11-30T16:00:00Z'))).toBe('2026-12-01');
    expect(businessDateOf(new Date('2026-11-30T15:59:59.999Z'))).toBe('2026-11-30');
  });

  it("a scheduled workflow's day before is the Asia/Shanghai day before, as src/dates.ts counts it", () => {
    fc.assert(fc.property(instants, (at) => dayBefore(at) === addDays(shanghaiDay(at), -1)));
    // the settlement schedule fires at 04:00 Asia/Shanghai, 20:00 UTC the evening before
    expect(dayBefore(new Date('2026-11-30T20:00:00Z'))).toBe('2026-11-30');
  });

  it('knows the last day of each month, leap years included', () => {
    fc.assert(fc.property(instants, (at) => {
      const date = shanghaiDay(at);
      const [y, m] = date.split('-').map(Number) as [number, number];
      const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
      return isLastDayOfMonth(date) === (Number(date.slice(8)) === last);
    }));
    expect(['2028-02-28', '2028-02-29', '2027-02-28', '2026-12-31'].map(isLastDayOfMonth)).toEqual([false, true, true, true]);
  });
});
