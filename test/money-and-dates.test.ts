import { describe, expect, it } from 'vitest';
import { addDays, businessDateOf, businessDayRange } from '../src/dates.ts';
import { displayYuan, formatYuan, parseYuan } from '../src/money.ts';

describe('money in fen', () => {
  it.each([
    ['12.34', 1234], ['0.5', 50], ['-3', -300], ['¥1,234.56', 123456], ['0.01', 1],
  ])('reads %s yuan as %i fen exactly', (text, fen) => expect(parseYuan(text)).toBe(fen));

  it.each(['12.345', 'abc', '', '1e3', '12.3.4'])('refuses "%s" with a clear message', (text) => {
    expect(() => parseYuan(text, 'face value')).toThrow(/face value: ".*" is not an amount in yuan/);
  });

  it('formats fen for files and for people', () => {
    expect(formatYuan(123456)).toBe('1234.56');
    expect(formatYuan(-5)).toBe('-0.05');
    expect(displayYuan(123456789)).toBe('¥1,234,567.89');
    expect(displayYuan(-100)).toBe('-¥1.00');
  });
});

describe('business dates are Asia/Shanghai days', () => {
  it('puts 23:59:58 Shanghai on that day and 00:00:01 on the next', () => {
    expect(businessDateOf(new Date('2026-11-24T15:59:58Z'))).toBe('2026-11-24');
    expect(businessDateOf(new Date('2026-11-24T16:00:01Z'))).toBe('2026-11-25');
  });

  it('gives the instant range of a day', () => {
    const { start, end } = businessDayRange('2026-11-24');
    expect(start.toISOString()).toBe('2026-11-23T16:00:00.000Z');
    expect(end.toISOString()).toBe('2026-11-24T16:00:00.000Z');
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
  });

  it('refuses an impossible date', () => {
    expect(() => businessDayRange('2026-02-30')).toThrow(/not a date in YYYY-MM-DD form/);
  });
});
