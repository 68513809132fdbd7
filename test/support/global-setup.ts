import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { loadConfig } from '../../src/config.ts';
import { createDb } from '../../src/db/knex.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { roleOf } from '../../src/db/roles.ts';
import { checkInvariants, formatReport, type CheckReport } from '../../src/invariants/check.ts';
import { startTestInfrastructure } from '../../src/runtime/infrastructure.ts';
import { bundleWorkflows } from '../../src/runtime/worker.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** As the application role, which is what the tests and the code under test connect as. */
    databaseUrl: string;
    /** As the owner of the schema: migrations, and tests that plant what the application cannot. */
    ownerDatabaseUrl: string;
    temporalAddress: string;
    namespace: string;
    workflowBundlePath: string;
  }
}

/**
 * One real PostgreSQL database and one real Temporal server for the whole run (not per file),
 * migrated once, with the workflow code bundled once.
 */
export default async function setup(project: TestProject) {
  const log = (line: string) => console.log(`[setup] ${line}`);
  const config = loadConfig();
  const infra = await startTestInfrastructure(config, log);
  const db = createDb(infra.ownerDatabaseUrl);
  try {
    await migrateToLatest(db, { appRole: roleOf(infra.databaseUrl) });
  } finally {
    await db.destroy();
  }
  const bundle = await bundleWorkflows();
  const bundleDir = await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-wf-'));
  const workflowBundlePath = path.join(bundleDir, 'workflows.js');
  await fs.writeFile(workflowBundlePath, bundle.code);

  project.provide('databaseUrl', infra.databaseUrl);
  project.provide('ownerDatabaseUrl', infra.ownerDatabaseUrl);
  project.provide('temporalAddress', infra.temporalAddress);
  project.provide('namespace', infra.namespace);
  project.provide('workflowBundlePath', workflowBundlePath);

  return async () => {
    // Whatever the tests did, the books must still hold: the invariant checker has the last word.
    const checkDb = createDb(infra.databaseUrl);
    let report: CheckReport;
    try {
      report = await checkInvariants(checkDb);
    } finally {
      await checkDb.destroy();
      await infra.stop();
      await fs.rm(bundleDir, { recursive: true, force: true });
    }
    console.log(`[teardown] invariant check of the test database:\n${formatReport(report)}`);
    if (report.violations > 0) throw new Error(`the invariant checker found ${report.violations} violation(s) after the tests (see above)`);
  };
}
