import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { benchDatabase } from '../bench/support/database.ts';
import { dropDatabases, prepareDatabases } from '../cluster/databases.ts';
import { databaseUrl, DEFAULT_ADMIN_URL, makePlan, temporalAddress } from '../cluster/plan.ts';
import { spawnApi, spawnTemporalServer, spawnWorker } from '../cluster/processes.ts';
import { temporalServerConfigYaml } from '../cluster/temporal-server-config.ts';
import type { AppConfig } from '../src/config.ts';
import { createDb, type Db } from '../src/db/knex.ts';
import { resolveTemporalCli } from '../src/runtime/temporal-cli.ts';
import { freePort } from '../src/runtime/temporal-dev-server.ts';
import { resolveTemporalServer } from '../src/runtime/temporal-server.ts';
import type { Killable } from './faults.ts';
import { RestartableTemporal, SupervisedProcesses, WorkerFleet } from './processes.ts';

/** Where the chaos day runs: what the suite talks to, and what its faults can hit. */
export interface ChaosTopology {
  /** The owner's connection to Kameng's database: seeding, the fault of dropped connections, the invariants. */
  db: Db;
  databaseWhere: string;
  address: string;
  temporalWhere: string;
  /** Where resellers send orders (one port: the suite's own in-process API). */
  apiPorts: number[];
  masterKey: Buffer;
  temporal?: { restart(downMs: number): Promise<void> };
  apis?: Killable & { size: number };
  startWorkers(): Promise<Killable>;
  unexpectedExits(): number;
  problems(): string[];
}

type Stops = (() => Promise<unknown>)[];
interface Options { workers: number; log: (line: string) => void }

/** The default: a scratch database, the CLI's dev server (restartable), the API in the suite's process, `kameng worker` processes. */
export async function singleProcessTopology(options: Options, config: AppConfig, scratch: string, processEnv: Record<string, string>, stops: Stops): Promise<ChaosTopology> {
  const database = await benchDatabase('chaos');
  stops.push(() => database.stop());
  const db = createDb(database.url, { poolMax: 30 });
  stops.push(() => db.destroy());
  let temporal: RestartableTemporal | undefined;
  let address = config.temporal.address;
  let temporalWhere = `${address} (external: the suite does not restart a server it does not own)`;
  if (!address) {
    const cliPath = await resolveTemporalCli({ explicitPath: config.temporal.cliPath, cacheDir: config.cacheDir, log: options.log });
    temporal = new RestartableTemporal({ cliPath, port: await freePort(), namespace: config.temporal.namespace, dbFilename: path.join(scratch, 'temporal.db') });
    await temporal.start();
    stops.push(() => temporal!.stop());
    address = temporal.address;
    temporalWhere = `dev server on ${address}, history in SQLite (restartable)`;
  }
  const masterKey = randomBytes(32);
  const apiPort = await freePort();
  let fleet: WorkerFleet | undefined;
  return {
    db, databaseWhere: database.where, address, temporalWhere, apiPorts: [apiPort], masterKey, temporal,
    async startWorkers() {
      fleet = new WorkerFleet(options.workers, {
        DATABASE_URL: database.url, TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: config.temporal.namespace, KAMENG_MASTER_KEY: masterKey.toString('hex'),
        KAMENG_PUBLIC_URL: `http://127.0.0.1:${apiPort}`, KAMENG_DATA_DIR: scratch, ...processEnv,
      });
      await fleet.start();
      stops.push(() => fleet!.stop()); // stopped first: before the servers they talk to
      return fleet;
    },
    unexpectedExits: () => fleet?.unexpectedExits ?? 0,
    problems: () => fleet?.log ?? [],
  };
}

/**
 * `--cluster`: the production topology (cluster/), under the suite's supervision: a Temporal server
 * on PostgreSQL (databases of this run only, dropped afterwards), two `kameng start --no-demo` API
 * processes, `kameng worker` processes; all restarted by the supervisor when a fault kills them.
 */
export async function clusterTopology(options: Options, config: AppConfig, scratch: string, processEnv: Record<string, string>, stops: Stops): Promise<ChaosTopology> {
  const binaries = await resolveTemporalServer({ cacheDir: config.cacheDir, log: options.log });
  const plan = await makePlan({
    dir: path.join(scratch, 'cluster'), adminUrl: config.database.url ?? DEFAULT_ADMIN_URL, prefix: `kameng_chaos_${Date.now()}`,
    apis: 2, workers: options.workers, namespace: config.temporal.namespace, env: processEnv,
  });
  stops.push(() => dropDatabases(plan));
  await prepareDatabases(plan, binaries.sqlTool, options.log);
  await fs.mkdir(plan.dir, { recursive: true, mode: 0o700 });
  const configFile = path.join(plan.dir, 'temporal-server.yaml');
  await fs.writeFile(configFile, temporalServerConfigYaml(plan), { mode: 0o600 });

  const temporal = new SupervisedProcesses(1, () => spawnTemporalServer(plan, binaries.server, configFile, { detached: false }));
  await temporal.start();
  stops.push(() => temporal.stop());
  options.log(`Temporal server ${binaries.version} up on ${temporalAddress(plan)}; starting ${plan.apiPorts.length} API processes (the first migrates)...`);
  const apis = new SupervisedProcesses(plan.apiPorts.length, (slot) => spawnApi(plan, slot, { detached: false }), 1_000);
  await apis.start();
  stops.push(() => apis.stop());
  const db = createDb(databaseUrl(plan, plan.databases.kameng), { poolMax: 30 });
  stops.push(() => db.destroy());

  let workers: SupervisedProcesses | undefined;
  const all = () => [temporal, apis, ...(workers ? [workers] : [])];
  return {
    db, databaseWhere: `PostgreSQL at ${new URL(plan.adminUrl).host}, databases ${Object.values(plan.databases).join(', ')} (dropped afterwards)`,
    address: temporalAddress(plan), temporalWhere: `Temporal server ${binaries.version} on ${temporalAddress(plan)}, PostgreSQL persistence (restartable)`,
    apiPorts: plan.apiPorts, masterKey: Buffer.from(plan.masterKeyHex, 'hex'),
    temporal: { restart: (downMs) => temporal.restart(downMs) },
    apis: { size: plan.apiPorts.length, kill: (slot) => apis.kill(slot) },
    async startWorkers() {
      workers = new SupervisedProcesses(plan.workers, (slot) => spawnWorker(plan, slot, { detached: false }));
      await workers.start();
      stops.push(() => workers!.stop());
      return workers;
    },
    unexpectedExits: () => all().reduce((n, p) => n + p.unexpectedExits, 0),
    problems: () => all().flatMap((p) => p.log),
  };
}
