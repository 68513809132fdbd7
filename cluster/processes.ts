import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common';
import { KamengError } from '../src/errors.ts';
import { kamengEnv, temporalAddress, type ClusterPlan } from './plan.ts';

const kameng = fileURLToPath(new URL('../bin/kameng.js', import.meta.url));

export class ClusterProcessError extends KamengError {
  constructor(message: string) {
    super('CLUSTER_PROCESS', message);
  }
}

export type ProcessKind = 'temporal' | 'api' | 'worker';

/** One process of the cluster as the state file records it. */
export interface ClusterProcess {
  name: string;
  kind: ProcessKind;
  pid: number;
  /** The API and dashboard port of a `kameng start`, the frontend port of the Temporal server. */
  port?: number;
  log: string;
}

export interface Spawned {
  info: ClusterProcess;
  child: ChildProcess;
  /** Resolves once the process says it is ready; rejects if it exits first or takes too long. */
  ready: Promise<void>;
}

/**
 * `detached`: the process outlives `npm run cluster -- up` (its own process group, output to its log
 * file only); otherwise it stays a child of the caller (the chaos suite supervises its processes).
 */
export interface SpawnOptions {
  detached: boolean;
  timeoutMs?: number;
}

function spawnLogged(name: string, command: string, args: string[], env: Record<string, string>, logFile: string, options: SpawnOptions): { child: ChildProcess; offset: number } {
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const offset = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
  const fd = fs.openSync(logFile, 'a');
  fs.writeSync(fd, `\n--- ${name} started ${new Date().toISOString()}\n`);
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', fd, fd], detached: options.detached });
  fs.closeSync(fd);
  if (options.detached) child.unref();
  return { child, offset };
}

/** Waits until `logFile` shows `pattern` after `offset`. */
function logSays(child: ChildProcess, name: string, logFile: string, offset: number, pattern: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const onExit = (code: number | null, signal: string | null) => {
      clearInterval(timer);
      reject(new ClusterProcessError(`${name} exited (${code ?? signal}) before it was ready: see ${logFile}`));
    };
    const timer = setInterval(() => {
      const text = readFrom(logFile, offset);
      if (text.includes(pattern)) {
        clearInterval(timer);
        child.off('exit', onExit);
        resolve();
      } else if (Date.now() > deadline) {
        clearInterval(timer);
        child.off('exit', onExit);
        reject(new ClusterProcessError(`${name} not ready after ${timeoutMs / 1000}s: see ${logFile}`));
      }
    }, 250);
    child.once('exit', onExit);
  });
}

function readFrom(file: string, offset: number): string {
  try {
    return fs.readFileSync(file).subarray(offset).toString();
  } catch {
    return '';
  }
}

/** `temporal-server start`, ready once its frontend answers and the namespace exists. */
export function spawnTemporalServer(plan: ClusterPlan, server: string, configFile: string, options: SpawnOptions): Spawned {
  const logFile = path.join(plan.dir, 'logs', 'temporal-server.log');
  const { child } = spawnLogged('temporal-server', server, ['--config-file', configFile, '--allow-no-auth', 'start'], {}, logFile, options);
  const info: ClusterProcess = { name: 'temporal-server', kind: 'temporal', pid: child.pid!, port: plan.temporalPorts.frontend, log: logFile };
  const ready = Promise.race([
    ensureNamespace(plan, options.timeoutMs ?? 120_000),
    new Promise<never>((_, reject) => child.once('exit', (code, signal) => reject(new ClusterProcessError(`temporal-server exited (${code ?? signal}) before it was ready: see ${logFile}`)))),
  ]);
  return { info, child, ready };
}

/**
 * Registers the namespace once (a real server has none of its own), then waits until the frontend
 * serves it: a fresh namespace reaches the frontend's cache some seconds later.
 */
async function ensureNamespace(plan: ClusterPlan, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address: temporalAddress(plan), connectTimeout: 2_000 });
      const service = connection.workflowService;
      try {
        await service.describeNamespace({ namespace: plan.namespace });
      } catch {
        await service.registerNamespace({ namespace: plan.namespace, workflowExecutionRetentionPeriod: msToTs('3 days') })
          .catch((err: { code?: number }) => { if (err.code !== 6 /* ALREADY_EXISTS */) throw err; });
      }
      // through the frontend's namespace cache, as a start would go
      await service.listWorkflowExecutions({ namespace: plan.namespace, pageSize: 1 });
      return;
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 1_000));
    } finally {
      await connection?.close().catch(() => undefined);
    }
  }
  throw new ClusterProcessError(`the Temporal server at ${temporalAddress(plan)} did not serve namespace ${plan.namespace} within ${timeoutMs / 1000}s: ${(last as Error)?.message}`);
}

/** `kameng start --no-demo` on `plan.apiPorts[index]`: dashboard, signed API, in-process workers. */
export function spawnApi(plan: ClusterPlan, index: number, options: SpawnOptions): Spawned {
  const name = `api-${index + 1}`;
  const port = plan.apiPorts[index]!;
  const logFile = path.join(plan.dir, 'logs', `${name}.log`);
  const env = { ...kamengEnv(plan), PORT: String(port), OTEL_SERVICE_NAME: `kameng-${name}` };
  const { child, offset } = spawnLogged(name, process.execPath, [kameng, 'start', '--no-demo'], env, logFile, options);
  return { info: { name, kind: 'api', pid: child.pid!, port, log: logFile }, child, ready: logSays(child, name, logFile, offset, 'ready in ', options.timeoutMs ?? 180_000) };
}

/** `kameng worker`: workers of every task queue. */
export function spawnWorker(plan: ClusterPlan, index: number, options: SpawnOptions): Spawned {
  const name = `worker-${index + 1}`;
  const logFile = path.join(plan.dir, 'logs', `${name}.log`);
  const env = { ...kamengEnv(plan), OTEL_SERVICE_NAME: `kameng-${name}` };
  const { child, offset } = spawnLogged(name, process.execPath, [kameng, 'worker'], env, logFile, options);
  return { info: { name, kind: 'worker', pid: child.pid!, log: logFile }, child, ready: logSays(child, name, logFile, offset, 'polling', options.timeoutMs ?? 180_000) };
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM (a graceful stop), then SIGKILL after `graceMs`. */
export async function stopProcess(pid: number, graceMs = 20_000): Promise<'stopped' | 'killed' | 'gone'> {
  if (!alive(pid)) return 'gone';
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!alive(pid)) return 'stopped';
    await new Promise((r) => setTimeout(r, 200));
  }
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  return 'killed';
}
