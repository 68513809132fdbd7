import fs from 'node:fs/promises';
import path from 'node:path';
import { KamengError } from '../src/errors.ts';
import { resolveTemporalServer } from '../src/runtime/temporal-server.ts';
import { prepareDatabases } from './databases.ts';
import { makePlan, temporalAddress, type ClusterPlan, type PlanOptions } from './plan.ts';
import { alive, spawnApi, spawnTemporalServer, spawnWorker, stopProcess, type ClusterProcess } from './processes.ts';
import { temporalServerConfigYaml } from './temporal-server-config.ts';

/** What `npm run cluster -- up` leaves behind: read by `down`, `status`, the chaos suite and test/cluster.test.ts. */
export interface ClusterState {
  startedAt: string;
  temporalServerVersion: string;
  plan: ClusterPlan;
  temporalAddress: string;
  apiUrls: string[];
  processes: ClusterProcess[];
}

export class ClusterStateError extends KamengError {
  constructor(message: string) {
    super('CLUSTER_STATE', message);
  }
}

export const stateFile = (dir: string) => path.join(dir, 'cluster.json');

export async function readState(dir: string): Promise<ClusterState | undefined> {
  const text = await fs.readFile(stateFile(dir), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as ClusterState);
}

async function writeState(state: ClusterState): Promise<void> {
  await fs.mkdir(state.plan.dir, { recursive: true, mode: 0o700 });
  // it holds the master key and the roles' passwords
  await fs.writeFile(stateFile(state.plan.dir), JSON.stringify(state, null, 2), { mode: 0o600 });
}

/** The processes of the state that still run. */
export function running(state: ClusterState): ClusterProcess[] {
  return state.processes.filter((p) => alive(p.pid));
}

/**
 * Builds (once) the Temporal server, prepares the databases, writes the server's config and starts:
 * the Temporal server, the first `kameng start` (it migrates and creates the schedules), then the
 * second, then the workers. A stopped cluster keeps its secrets (master key, passwords) for the next `up`.
 */
export async function clusterUp(options: PlanOptions & { cacheDir: string; log: (line: string) => void }): Promise<ClusterState> {
  const { log } = options;
  const previous = await readState(options.dir);
  if (previous && running(previous).length > 0) {
    throw new ClusterStateError(`a cluster is already up in ${options.dir} (${running(previous).map((p) => `${p.name} pid ${p.pid}`).join(', ')}): \`npm run cluster -- down\` first`);
  }
  const binaries = await resolveTemporalServer({ cacheDir: options.cacheDir, log });
  const fresh = await makePlan(options);
  const plan: ClusterPlan = previous && previous.plan.adminUrl === options.adminUrl
    ? { ...fresh, appRole: previous.plan.appRole, temporalRole: previous.plan.temporalRole, masterKeyHex: previous.plan.masterKeyHex, databases: previous.plan.databases }
    : fresh;
  await fs.mkdir(plan.dir, { recursive: true, mode: 0o700 });
  log(`PostgreSQL ${new URL(plan.adminUrl).host}: databases ${Object.values(plan.databases).join(', ')}`);
  await prepareDatabases(plan, binaries.sqlTool, log);
  const configFile = path.join(plan.dir, 'temporal-server.yaml');
  await fs.writeFile(configFile, temporalServerConfigYaml(plan), { mode: 0o600 });

  const state: ClusterState = {
    startedAt: new Date().toISOString(), temporalServerVersion: binaries.version, plan, temporalAddress: temporalAddress(plan),
    apiUrls: plan.apiPorts.map((p) => `http://127.0.0.1:${p}`), processes: [],
  };
  const started = async (spawned: { info: ClusterProcess; ready: Promise<void> }) => {
    state.processes.push(spawned.info);
    await writeState(state); // recorded before it is ready, so `down` stops a half-started cluster too
    await spawned.ready;
    log(`  ${spawned.info.name} pid ${spawned.info.pid}${spawned.info.port ? ` port ${spawned.info.port}` : ''} ready (log ${path.relative(process.cwd(), spawned.info.log)})`);
  };
  try {
    log(`starting the Temporal server ${binaries.version} on ${state.temporalAddress} (PostgreSQL persistence)...`);
    await started(spawnTemporalServer(plan, binaries.server, configFile, { detached: true }));
    // one at a time: the first migrates the schema and creates the schedules; the second finds both done
    for (let i = 0; i < plan.apiPorts.length; i++) await started(spawnApi(plan, i, { detached: true }));
    await Promise.all(Array.from({ length: plan.workers }, (_, i) => started(spawnWorker(plan, i, { detached: true }))));
  } catch (err) {
    log(`up failed (${(err as Error).message}); stopping what started`);
    await clusterDown(plan.dir, log);
    throw err;
  }
  return state;
}

/** Stops every process of the cluster: Kameng first, the Temporal server last. */
export async function clusterDown(dir: string, log: (line: string) => void): Promise<ClusterState | undefined> {
  const state = await readState(dir);
  if (!state) return undefined;
  const order = (kinds: string[]) => state.processes.filter((p) => kinds.includes(p.kind));
  for (const group of [order(['worker', 'api']), order(['temporal'])]) {
    await Promise.all(group.map(async (p) => log(`  ${p.name} pid ${p.pid}: ${await stopProcess(p.pid)}`)));
  }
  return state;
}
