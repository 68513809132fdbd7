import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import { Connection } from '@temporalio/client';
import { KamengError } from '../errors.ts';
import { stopOrphanedServer } from './orphans.ts';

export interface DevServer {
  address: string;
  namespace: string;
  /** The Web UI (loopback), when it was asked for and answers. */
  uiUrl?: string;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  cliPath: string;
  port: number;
  namespace: string;
  /** SQLite file to keep workflow history between runs; in memory when absent. */
  dbFilename?: string;
  /** Remembers the server's pid so a server orphaned by a crashed run is stopped next time. */
  pidFile?: string;
  log?: (line: string) => void;
  /** Serve the Temporal Web UI on this loopback port; headless when absent. */
  uiPort?: number;
}

/** Asks the OS for a free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function portInUse(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

/** Starts `temporal server start-dev` on loopback and waits until it answers. */
export async function startTemporalDevServer(options: DevServerOptions): Promise<DevServer> {
  const log = options.log ?? (() => {});
  if (options.pidFile) await stopOrphan(options.pidFile, log);
  if (await portInUse(options.port)) {
    throw new KamengError(
      'PORT_IN_USE',
      `port ${options.port} is already in use, so the local Temporal dev server cannot start there. ` +
        `Set KAMENG_TEMPORAL_PORT to a free port, or TEMPORAL_ADDRESS=127.0.0.1:${options.port} if a Temporal server is already running there.`,
    );
  }
  const args = [
    'server', 'start-dev',
    ...(options.uiPort ? ['--ui-ip', '127.0.0.1', '--ui-port', String(options.uiPort)] : ['--headless']),
    ...(options.uiPort ? ['--ui-disable-news-fetch'] : []),
    '--ip', '127.0.0.1',
    '--port', String(options.port),
    '--http-port', String(await freePort()),
    '--metrics-port', String(await freePort()),
    '--namespace', options.namespace,
    '--log-level', 'warn',
  ];
  if (options.dbFilename) args.push('--db-filename', options.dbFilename);
  const child = spawn(options.cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const capture = (d: Buffer) => {
    output = (output + d.toString()).slice(-8000);
  };
  child.stdout!.on('data', capture);
  child.stderr!.on('data', capture);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // If this process exits without a graceful stop, do not leave the server behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  if (options.pidFile && child.pid) await fs.writeFile(options.pidFile, String(child.pid));

  const address = `127.0.0.1:${options.port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const early = await Promise.race([exited, sleep(250).then(() => undefined)]);
    if (early !== undefined) {
      throw new KamengError('TEMPORAL_DEV_SERVER_EXITED', `temporal server start-dev exited (${early}) before it was ready:\n${output}`);
    }
    if (await answers(address, options.namespace)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new KamengError('TEMPORAL_DEV_SERVER_TIMEOUT', `temporal server start-dev did not answer on ${address} within 60s:\n${output}`);
    }
  }
  log(`Temporal dev server ready on ${address}`);
  const uiUrl = options.uiPort ? `http://127.0.0.1:${options.uiPort}` : undefined;
  return {
    address,
    namespace: options.namespace,
    uiUrl,
    stop: async () => {
      await stopChild(child, exited);
      process.removeListener('exit', killOnExit);
      if (options.pidFile) await fs.rm(options.pidFile, { force: true });
    },
  };
}

/** A dev server left running by a run that crashed: stop it if it is really ours. */
async function stopOrphan(pidFile: string, log: (line: string) => void): Promise<void> {
  const pid = Number(await fs.readFile(pidFile, 'utf8').catch(() => ''));
  await stopOrphanedServer(pid, 'a Temporal dev server', (cmd) => cmd.includes('start-dev'), log);
  await fs.rm(pidFile, { force: true });
}

async function answers(address: string, namespace: string): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: 1000 });
    await connection.workflowService.describeNamespace({ namespace });
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => {});
  }
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  const done = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
  if (!done) {
    child.kill('SIGKILL');
    await exited;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
