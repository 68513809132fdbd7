/**
 * `npm run bench -- NAME`: prints the figures an issue names, each next to the same-run baseline
 * it is judged against. Benchmarks never fail a build; they report.
 */
const benches: Record<string, { about: string; load: () => Promise<{ run: (args: string[]) => Promise<void> }> }> = {
  ledger: { about: 'ledger postings/s from 16 clients vs bare INSERT throughput', load: () => import('./ledger.ts') },
  orders: { about: 'card orders/s over the signed API (64 clients) vs bare SQL; top-up workflows/s vs an empty workflow', load: () => import('./orders.ts') },
  import: { about: 'card code import of 1,000,000 rows vs bare COPY into an unlogged table', load: () => import('./import.ts') },
  export: { about: 'write a 1,000,000-line reseller statement to XLSX vs exceljs streaming the same rows from memory', load: () => import('./export.ts') },
  dashboard: { about: 'p50/p95 server time of each main dashboard page over 10,000,000 ledger postings', load: () => import('./dashboard.ts') },
  recon: { about: 'reconcile a 1,000,000-line statement vs COPY into an unlogged table + one FULL OUTER JOIN', load: () => import('./recon.ts') },
};

const [name, ...args] = process.argv.slice(2);
const bench = name ? benches[name] : undefined;
if (!bench) {
  console.error(`usage: npm run bench -- NAME [options]\n\n${Object.entries(benches).map(([n, b]) => `  ${n.padEnd(10)} ${b.about}`).join('\n')}`);
  process.exit(name ? 2 : 0);
}
await (await bench.load()).run(args);
process.exit(process.exitCode ?? 0);
