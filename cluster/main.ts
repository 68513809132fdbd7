import { parseArgs } from 'node:util';
import Table from 'cli-table3';
import { loadConfig } from '../src/config.ts';
import { KamengError } from '../src/errors.ts';
import { dropDatabases } from './databases.ts';
import { DEFAULT_ADMIN_URL } from './plan.ts';
import { alive } from './processes.ts';
import { clusterDown, clusterUp, readState, stateFile } from './topology.ts';

/**
 * `npm run cluster -- up|down|status [--apis 2] [--workers 2] [--drop]`: the production topology on
 * one machine, on loopback: a Temporal server on PostgreSQL, two `kameng start --no-demo` (dashboard
 * and API), two `kameng worker`. DATABASE_URL: a role that may create databases and roles (default
 * the local PostgreSQL as postgres); KAMENG_CLUSTER_DIR: state file, configs and logs.
 */
const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { apis: { type: 'string', default: '2' }, workers: { type: 'string', default: '2' }, drop: { type: 'boolean', default: false } },
});
const command = positionals[0];
const config = loadConfig();
const dir = config.clusterDir;
const log = (line: string) => console.log(`[cluster] ${line}`);
const count = (name: 'apis' | 'workers') => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 1 || n > 8) {
    console.error(`--${name} must be a whole number from 1 to 8, not "${values[name]}"`);
    process.exit(2);
  }
  return n;
};

try {
  switch (command) {
    case 'up': {
      const started = Date.now();
      const state = await clusterUp({ dir, adminUrl: config.database.url ?? DEFAULT_ADMIN_URL, apis: count('apis'), workers: count('workers'), cacheDir: config.cacheDir, log });
      log(`up in ${((Date.now() - started) / 1000).toFixed(1)} s; state in ${stateFile(dir)}`);
      log(`Temporal ${state.temporalAddress}; dashboard and API at ${state.apiUrls.join(' and ')}`);
      log(`admin login: user admin, password in ${dir}/dashboard-users.json`);
      break;
    }
    case 'down': {
      const state = await clusterDown(dir, log);
      if (!state) log(`no cluster in ${dir}`);
      else if (values.drop) {
        await dropDatabases(state.plan);
        log(`dropped databases ${Object.values(state.plan.databases).join(', ')} and roles ${state.plan.appRole.name}, ${state.plan.temporalRole.name}`);
      }
      break;
    }
    case 'status': {
      const state = await readState(dir);
      if (!state) {
        log(`no cluster in ${dir}`);
        process.exitCode = 3;
        break;
      }
      const t = new Table({ head: ['process', 'pid', 'port', 'state', 'log'], style: { head: [], border: [] } });
      for (const p of state.processes) t.push([p.name, p.pid, p.port ?? '', alive(p.pid) ? 'running' : 'stopped', p.log]);
      console.log(`cluster in ${dir}, started ${state.startedAt}, Temporal server ${state.temporalServerVersion} at ${state.temporalAddress}, namespace ${state.plan.namespace}`);
      console.log(`databases: ${Object.values(state.plan.databases).join(', ')} on ${new URL(state.plan.adminUrl).host}`);
      console.log(t.toString());
      if (!state.processes.every((p) => alive(p.pid))) process.exitCode = 3;
      break;
    }
    default:
      console.error('usage: npm run cluster -- up|down|status [--apis N] [--workers N] [--drop]');
      process.exit(2);
  }
} catch (err) {
  console.error(err instanceof KamengError ? `${err.code}: ${err.message}` : err);
  process.exit(1);
}
