import { describe, expect, it } from 'vitest';
import { DEFAULT_PROFILE, footerReader } from '../src/reconciliation/statement/profile.ts';

/** Found by the statements fuzz (seed -1299036094): a line whose SKU was SUM-0 was taken for a totals row. */
describe('a totals (footer) row is told from a line', () => {
  const isFooter = footerReader(DEFAULT_PROFILE);

  it.each([['合计'], ['合计,12笔'], ['总计：'], ['Total'], ['Total: 12 lines'], ['TOTAL 1,000'], ['Sum'], ['grand total'], ['共 10 笔']])('"%s" opens a footer', (first) => {
    expect(isFooter([first, '', '48.50'])).toBe(true);
  });

  it.each([['SUM-0'], ['TOTAL-50'], ['sum_card'], ['Totals2'], ['subtotal.x'], ['T1001']])('a line whose first cell is "%s" is a line', (first) => {
    expect(isFooter([first, 'kameng-1', '48.50'])).toBe(false);
  });
});
