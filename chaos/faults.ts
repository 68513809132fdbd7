import type { SupplierSimulator } from '../fixtures/supplier-simulator/server.ts';
import type { Behaviour } from '../fixtures/supplier-simulator/types.ts';
import type { Db } from '../src/db/knex.ts';

/** Every supplier's everyday moods during the chaos day: a little of everything. */
export const EVERYDAY: Partial<Behaviour> = {
  latencyMs: 20, jitterMs: 80, errorRate: 0.03, timeoutRate: 0.02, hangMs: 3_000, failRate: 0.05,
  asyncCompletionMs: 300, lostCallbackRate: 0.1, duplicateCallbackRate: 0.1, lateCallbackMs: 0,
};

/** A bad quarter of a minute at one supplier. */
const STORM: Partial<Behaviour> = {
  errorRate: 0.3, timeoutRate: 0.15, failRate: 0.3, lostCallbackRate: 0.3, duplicateCallbackRate: 0.5, lateCallbackMs: 4_000,
};

/** A supplier that takes orders and then says nothing more about them: what becomes stuck. */
const SILENT: Partial<Behaviour> = { asyncCompletionMs: Number.POSITIVE_INFINITY };

export interface FaultCounts {
  workerKills: number;
  databaseDrops: number;
  connectionsDropped: number;
  temporalRestarts: number;
  /** The cluster topology only: an API process (`kameng start`) SIGKILLed; resellers retry on the other. */
  apiKills: number;
  supplierStorms: number;
  supplierSilences: number;
}

export type FaultKind = 'kill-worker' | 'drop-connections' | 'supplier-storm' | 'restart-temporal' | 'supplier-silence' | 'kill-api';

/** The order faults come in: every kind early, so a short run sees each one. */
const ROTATION: FaultKind[] = ['kill-worker', 'drop-connections', 'restart-temporal', 'supplier-silence', 'supplier-storm', 'kill-worker', 'drop-connections', 'supplier-storm'];
/** The cluster topology's: an API process killed first and again halfway through. */
const CLUSTER_ROTATION: FaultKind[] = ['kill-api', 'kill-worker', 'restart-temporal', 'drop-connections', 'supplier-silence', 'kill-api', 'supplier-storm', 'kill-worker', 'drop-connections', 'supplier-storm'];

/** Something the supervisor brings back after a SIGKILL. */
export interface Killable {
  kill(slot: number): Promise<void>;
}

export interface FaultTargets {
  db: Db;
  workers: Killable;
  /** Absent when Temporal is an external cluster: the suite does not restart what it does not own. */
  temporal?: { restart(downMs: number): Promise<void> };
  /** The API processes of the cluster topology (absent: the API runs in the suite's own process). */
  apis?: Killable & { size: number };
  simulator: SupplierSimulator;
  suppliers: string[];
  random: () => number;
  log: (line: string) => void;
}

/** Injects one fault after another, every `everyMs`, until stopped. */
export function injectFaults(targets: FaultTargets, everyMs: number): { counts: FaultCounts; stop(): Promise<void> } {
  const counts: FaultCounts = { workerKills: 0, databaseDrops: 0, connectionsDropped: 0, temporalRestarts: 0, apiKills: 0, supplierStorms: 0, supplierSilences: 0 };
  let stopped = false;
  let wake: () => void = () => {};
  const pause = (ms: number) => new Promise<void>((r) => { const t = setTimeout(r, ms); wake = () => { clearTimeout(t); r(); }; });
  const pick = <T>(xs: T[]) => xs[Math.floor(targets.random() * xs.length)]!;

  const inject = async (kind: FaultKind) => {
    switch (kind) {
      case 'kill-worker': {
        const slot = Math.floor(targets.random() * 8);
        await targets.workers.kill(slot);
        counts.workerKills++;
        targets.log(`fault: SIGKILL worker ${slot % 2}`);
        return;
      }
      case 'kill-api': {
        if (!targets.apis) return;
        const slot = Math.floor(targets.random() * targets.apis.size);
        await targets.apis.kill(slot);
        counts.apiKills++;
        targets.log(`fault: SIGKILL API process ${slot + 1} (resellers retry on the other; the supervisor restarts it)`);
        return;
      }
      case 'drop-connections': {
        // every session of this database but ours: API, workers, everything mid-transaction
        const { rows } = await targets.db.raw(
          `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS dropped
             FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`);
        counts.databaseDrops++;
        counts.connectionsDropped += rows[0].dropped;
        targets.log(`fault: dropped ${rows[0].dropped} database connections`);
        return;
      }
      case 'supplier-storm': {
        const code = pick(targets.suppliers);
        targets.simulator.configure(code, STORM);
        counts.supplierStorms++;
        targets.log(`fault: supplier ${code} times out, fails and sends duplicate and late callbacks`);
        await pause(Math.min(everyMs, 15_000));
        targets.simulator.configure(code, EVERYDAY);
        return;
      }
      case 'supplier-silence': {
        const code = pick(targets.suppliers);
        targets.simulator.configure(code, SILENT);
        counts.supplierSilences++;
        targets.log(`fault: supplier ${code} accepts orders and goes silent`);
        await pause(Math.min(everyMs, 4_000));
        targets.simulator.configure(code, { asyncCompletionMs: EVERYDAY.asyncCompletionMs });
        return;
      }
      case 'restart-temporal': {
        if (!targets.temporal) return;
        targets.log('fault: Temporal server down');
        await targets.temporal.restart(3_000);
        counts.temporalRestarts++;
        targets.log('fault: Temporal server back');
        return;
      }
    }
  };

  const loop = (async () => {
    for (let i = 0; !stopped; i++) {
      await pause(everyMs);
      if (stopped) break;
      const rotation = targets.apis ? CLUSTER_ROTATION : ROTATION;
      await inject(rotation[i % rotation.length]!).catch((err) => targets.log(`fault injection failed: ${(err as Error).message}`));
    }
  })();

  return {
    counts,
    async stop() {
      stopped = true;
      wake();
      await loop; // a storm or silence cut short still puts its supplier back before it returns
    },
  };
}
