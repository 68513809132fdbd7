import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { inject } from 'vitest';
import { deriveKeys, type Keys } from '../../src/crypto/keys.ts';
import { loadConfig } from '../../src/config.ts';
import type { OperationsSettings, ReconSettings } from '../../src/config.ts';
import { createDb, type Db } from '../../src/db/knex.ts';
import type { Ledger } from '../../src/ledger/ledger.ts';
import type { ActivityDeps } from '../../activities/index.ts';
import { buildDeps } from '../../src/runtime/deps.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { roleOf } from '../../src/db/roles.ts';
import { dropDatabase, ensureDatabase } from '../../src/runtime/embedded-postgres.ts';
import { startWorkers, type RunningWorkers } from '../../src/runtime/worker.ts';
import { connectTemporal } from '../../src/runtime/temporal-connection.ts';

export interface Harness {
  /** As the application role, like the code in production. */
  db: Db;
  /**
   * As the owner of the schema, for a test that deliberately does what the application may not
   * (planting a violation behind the ledger's back). Connects only when used.
   */
  ownerDb: Db;
  ledger: Ledger;
  /** Keys derived from a master key made for this test file. */
  keys: Keys;
  /** Hex, for a worker process started by the test. */
  masterKeyHex: string;
  /** The same dependencies the worker's activities get. */
  deps: ActivityDeps;
  client: Client;
  /** A task queue of this test file's own, polled by a real worker. */
  taskQueue: string;
  close(): Promise<void>;
}

/** Real PostgreSQL, a real Temporal server and a real worker, shared by one test file. */
/** Fulfillment timings short enough for tests. */
export const TEST_SETTINGS = {
  stuckAfterMs: 3_000, pollIntervalMs: 250, stuckPollIntervalMs: 500, supplierTimeoutMs: 1_000, publicUrl: 'http://127.0.0.1:1', allowPrivateCallbacks: true,
};

/** Statements wait briefly in tests; each test file archives into a temp dir of its own. */
export const TEST_RECON_SETTINGS: ReconSettings = {
  archiveDir: path.join(os.tmpdir(), `kameng-test-statements-${process.pid}`), windowMinutes: 10, statementPollMs: 200, statementWaitMs: 10_000,
};

export async function openHarness(options: {
  worker?: boolean; settings?: Partial<typeof TEST_SETTINGS>; reconciliation?: Partial<ReconSettings>;
  /** Routing, alert thresholds, stock (DEFAULT_OPERATIONS when absent). */
  operations?: OperationsSettings;
  /** A database of this harness's own (migrated, dropped on close), for tests of global state such as settled days. */
  freshDatabase?: boolean;
} = {}): Promise<Harness> {
  const fresh = options.freshDatabase ? await createFreshDatabase() : undefined;
  const db = createDb(fresh?.url ?? inject('databaseUrl'), { poolMax: 60 });
  const ownerDb = createDb(fresh?.ownerUrl ?? inject('ownerDatabaseUrl'), { poolMax: 4 });
  if (fresh) {
    await migrateToLatest(ownerDb, { appRole: roleOf(inject('databaseUrl')) });
    // workflow ids carry order and complaint ids (topup-<id>, complaint-<id>) and all test files share
    // one Temporal namespace: a fresh database's start at a random id, so they never meet another file's workflows
    for (const sequence of ['orders_id_seq', 'complaints_id_seq']) {
      await ownerDb.raw(`ALTER SEQUENCE ${sequence} RESTART WITH ${1_000_000 + Math.floor(Math.random() * 1_000_000_000)}`);
    }
  }
  const masterKey = randomBytes(32);
  const keys = deriveKeys(masterKey);
  const reconciliation = { ...TEST_RECON_SETTINGS, ...options.reconciliation };
  const deps = buildDeps(db, keys, { ...TEST_SETTINGS, ...options.settings }, reconciliation, options.operations);
  const { ledger } = deps;
  // an external cluster (TEMPORAL_ADDRESS) is reached with its profile: API key, TLS
  const temporalProfile = process.env.TEMPORAL_ADDRESS ? loadConfig().temporal.connection : undefined;
  const connection = await connectTemporal(inject('temporalAddress'), temporalProfile);
  const client = new Client({ connection, namespace: inject('namespace') });
  const taskQueue = `test-${randomUUID()}`;
  let workers: RunningWorkers | undefined;
  if (options.worker !== false) {
    workers = await startWorkers({
      address: inject('temporalAddress'),
      connection: temporalProfile,
      namespace: inject('namespace'),
      taskQueues: [taskQueue],
      deps,
      bundle: { codePath: inject('workflowBundlePath') },
    });
  }
  return {
    db, ownerDb, ledger, keys, masterKeyHex: masterKey.toString('hex'), deps, client, taskQueue,
    async close() {
      await workers?.shutdown();
      await connection.close();
      await db.destroy();
      await ownerDb.destroy();
      await fresh?.drop();
      await fs.rm(reconciliation.archiveDir, { recursive: true, force: true });
    },
  };
}

/** A database beside the shared one, created and dropped by the owner; the application role uses it. */
async function createFreshDatabase(): Promise<{ url: string; ownerUrl: string; drop(): Promise<void> }> {
  const admin = new URL(inject('ownerDatabaseUrl'));
  const name = `${admin.pathname.slice(1)}_${randomUUID().slice(0, 8)}`;
  admin.pathname = '/postgres';
  await ensureDatabase(admin.toString(), name);
  const at = (shared: string) => {
    const url = new URL(shared);
    url.pathname = `/${name}`;
    return url.toString();
  };
  return { url: at(inject('databaseUrl')), ownerUrl: at(inject('ownerDatabaseUrl')), drop: () => dropDatabase(admin.toString(), name) };
}

/** A prefix that keeps one test's accounts and keys apart from every other test's. */
export const uniq = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;
