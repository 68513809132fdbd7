import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import type { ChaosReport } from '../chaos/run.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * The short version of `npm run chaos`, run as the command itself: 45 seconds of traffic with a
 * fault every 5 seconds (every kind at least once), then the books must settle and hold.
 */
describe('fault suite (npm run chaos, short)', () => {
  it('survives killed workers, dropped connections, a Temporal restart and misbehaving suppliers with every invariant holding', async () => {
    const json = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-chaos-test-')), 'report.json');
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: inject('ownerDatabaseUrl') }; // it creates a scratch database of its own
    delete env.TEMPORAL_ADDRESS; // its own dev server: the suite restarts it
    const child = spawn(process.execPath, ['bin/run-ts.js', 'chaos/main.ts', '--seconds', '45', '--rate', '6', '--resellers', '12', '--fault-every', '5', '--settle', '90', '--routing', 'on', '--json', json], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    const report = JSON.parse(await fs.readFile(json, 'utf8').catch(() => 'null')) as ChaosReport | null;
    expect(report, output).not.toBeNull();
    expect(report!.invariants.violations, output).toBe(0);
    expect(report!.orders.processing, output).toBe(0);
    expect(report!.traffic.unexpected, output).toBe(0);
    expect(report!.traffic.unanswered, output).toBe(0);
    expect(report!.orders.cardDelivered + report!.orders.topUpsSucceeded).toBeGreaterThan(0);
    expect(report!.faults.workerKills).toBeGreaterThanOrEqual(1);
    expect(report!.faults.databaseDrops).toBeGreaterThanOrEqual(1);
    expect(report!.faults.temporalRestarts).toBe(1);
    expect(report!.faults.supplierStorms).toBeGreaterThanOrEqual(1);
    expect(report!.faults.supplierSilences).toBeGreaterThanOrEqual(1);
    expect(code, output).toBe(0);
  }, 420_000);
});
