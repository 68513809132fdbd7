import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

/** `npm run record-histories`: the recorder alone, with the tests' infrastructure; never part of `npm test`. */
export default defineConfig({
  ...base,
  test: { ...base.test, include: ['test/support/record-histories.ts'] },
});
