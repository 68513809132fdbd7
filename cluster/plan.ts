import { randomBytes, randomInt } from 'node:crypto';
import net from 'node:net';
import { randomPassword } from '../src/db/roles.ts';
import { freePort } from '../src/runtime/temporal-dev-server.ts';

/** The local PostgreSQL as its superuser: where the cluster goes when DATABASE_URL is not set. */
export const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** The Temporal server's listeners: every service's gRPC and membership port, all on loopback. */
export interface TemporalPorts {
  frontend: number;
  frontendHttp: number;
  frontendMembership: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
  metrics: number;
}

/** What a cluster is made of, decided once at `up` and kept in the state file (0600: it holds secrets). */
export interface ClusterPlan {
  dir: string;
  /** A role that may create databases and roles on the PostgreSQL server (DATABASE_URL). */
  adminUrl: string;
  databases: { kameng: string; temporal: string; visibility: string };
  /** Kameng's application role (README, Security); the schema belongs to the admin role. */
  appRole: { name: string; password: string };
  /** Owns the two Temporal databases; the Temporal server and its SQL tool connect as it. */
  temporalRole: { name: string; password: string };
  masterKeyHex: string;
  temporalPorts: TemporalPorts;
  namespace: string;
  /** One `kameng start --no-demo` per port: dashboard and signed API on each. */
  apiPorts: number[];
  workers: number;
  /** More environment for every Kameng process (the chaos suite's short timeouts). */
  env: Record<string, string>;
}

export interface PlanOptions {
  dir: string;
  adminUrl: string;
  /** Prefix of database and role names: `kameng_cluster` gives kameng_cluster, temporal and temporal_visibility. */
  prefix?: string;
  apis?: number;
  workers?: number;
  namespace?: string;
  env?: Record<string, string>;
}

/**
 * A free loopback port below 32768: Temporal keeps membership ports in a smallint column, and the
 * OS's ephemeral ports (what freePort gives) lie above it.
 */
async function freeLowPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = randomInt(20_000, 32_000);
    if (taken.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

export async function makePlan(options: PlanOptions): Promise<ClusterPlan> {
  const prefix = options.prefix ?? 'kameng_cluster';
  // the default cluster's Temporal databases carry Temporal's usual names; a chaos run's get its prefix
  const temporalName = prefix === 'kameng_cluster' ? 'temporal' : `${prefix}_temporal`;
  const taken = new Set<number>();
  for (let i = 0; i < 10; i++) taken.add(await freeLowPort(taken));
  const [frontend, frontendHttp, frontendMembership, history, historyMembership, matching, matchingMembership, worker, workerMembership, metrics] =
    [...taken] as [number, number, number, number, number, number, number, number, number, number];
  const apiPorts: number[] = [];
  while (apiPorts.length < (options.apis ?? 2)) {
    const port = await freePort();
    if (!taken.has(port) && !apiPorts.includes(port)) apiPorts.push(port);
  }
  return {
    dir: options.dir,
    adminUrl: options.adminUrl,
    databases: { kameng: prefix, temporal: temporalName, visibility: `${temporalName}_visibility` },
    appRole: { name: `${prefix}_app`, password: randomPassword() },
    temporalRole: { name: `${prefix}_temporal_owner`, password: randomPassword() },
    masterKeyHex: randomBytes(32).toString('hex'),
    temporalPorts: { frontend, frontendHttp, frontendMembership, history, historyMembership, matching, matchingMembership, worker, workerMembership, metrics },
    namespace: options.namespace ?? 'default',
    apiPorts,
    workers: options.workers ?? 2,
    env: options.env ?? {},
  };
}

/** `postgres://…/<database>` on the admin's server, as `login` when given. */
export function databaseUrl(plan: ClusterPlan, database: string, login?: { name: string; password: string }): string {
  const url = new URL(plan.adminUrl);
  url.pathname = `/${database}`;
  if (login) {
    url.username = encodeURIComponent(login.name);
    url.password = encodeURIComponent(login.password);
  }
  return url.toString();
}

export function temporalAddress(plan: ClusterPlan): string {
  return `127.0.0.1:${plan.temporalPorts.frontend}`;
}

/** What every `kameng start` and `kameng worker` of the cluster reads (src/config.ts). */
export function kamengEnv(plan: ClusterPlan): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl(plan, plan.databases.kameng, plan.appRole),
    DATABASE_OWNER_URL: databaseUrl(plan, plan.databases.kameng),
    TEMPORAL_ADDRESS: temporalAddress(plan),
    TEMPORAL_NAMESPACE: plan.namespace,
    KAMENG_MASTER_KEY: plan.masterKeyHex,
    KAMENG_DATA_DIR: plan.dir,
    KAMENG_DASHBOARD_HOST: '127.0.0.1',
    // suppliers call back the first API process; the other answers resellers just the same
    KAMENG_PUBLIC_URL: `http://127.0.0.1:${plan.apiPorts[0]}`,
    ...plan.env,
  };
}
