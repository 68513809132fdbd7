import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { historyFromJSON } from './support/history-json.ts';

/**
 * Running workflows survive a deploy: every history in fixtures/histories/ (recorded from an earlier
 * version of the code, see README "Workflow versioning") replays against today's workflow bundle.
 * A change that alters the commands an old history made, without `patched()`, fails here.
 */
const dir = fileURLToPath(new URL('../fixtures/histories/', import.meta.url));

describe('workflow histories recorded from earlier versions', () => {
  it('replay without nondeterminism against the current workflow code (every file in fixtures/histories)', async () => {
    const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.json')).sort();
    // each versioned workflow keeps the histories recorded from its code before the change
    const recorded = (type: RegExp) => files.filter((f) => type.test(f)).length;
    expect(recorded(/^fulfillTopUp-/)).toBeGreaterThanOrEqual(1);
    expect(recorded(/^procurement-/)).toBeGreaterThanOrEqual(3);
    expect(recorded(/^(reconcileSupplierDay|dailyReconciliation|dailySettlement)-/)).toBeGreaterThanOrEqual(5);
    expect(recorded(/^housekeeping-/)).toBeGreaterThanOrEqual(1);
    const histories = await Promise.all(files.map(async (file) => ({
      workflowId: file.replace(/\.json$/, ''),
      history: historyFromJSON(JSON.parse(await fs.readFile(path.join(dir, file), 'utf8'))),
    })));
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath: inject('workflowBundlePath') }, replayName: 'kameng-replay' }, histories)) {
      if (result.error) failures.push(`${result.workflowId}.json: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
  });
});
