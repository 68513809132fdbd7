import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Spawned } from '../cluster/processes.ts';
import { startTemporalDevServer, type DevServer } from '../src/runtime/temporal-dev-server.ts';

const kameng = fileURLToPath(new URL('../bin/kameng.js', import.meta.url));

/**
 * `kameng worker` processes under a supervisor, as systemd or Kubernetes would run them: the fault
 * suite SIGKILLs one; the supervisor starts a new one; one that dies on its own is restarted too.
 */
export class WorkerFleet {
  private readonly slots: (ChildProcess | undefined)[];
  private stopping = false;
  /** Exits nobody asked for (a worker that crashed by itself). */
  unexpectedExits = 0;
  readonly log: string[] = [];

  constructor(private readonly size: number, private readonly env: Record<string, string>) {
    this.slots = Array.from({ length: size }, () => undefined);
  }

  async start(): Promise<void> {
    await Promise.all(this.slots.map((_, i) => this.spawn(i)));
  }

  /** SIGKILL, as an OOM kill or a lost machine would; the supervisor brings a new one up. */
  async kill(slot: number): Promise<void> {
    const child = this.slots[slot % this.size];
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.slots.map(async (child) => {
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }));
  }

  private spawn(slot: number): Promise<void> {
    const child = spawn(process.execPath, [kameng, 'worker'], { env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.slots[slot] = child;
    let output = '';
    const keep = (d: Buffer) => {
      output = (output + d.toString()).slice(-4000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const ready = new Promise<void>((resolve) => {
      const check = () => {
        if (output.includes('polling')) {
          child.stdout!.off('data', check);
          resolve();
        }
      };
      child.stdout!.on('data', check);
      child.once('exit', () => resolve());
    });
    child.once('exit', (code, signal) => {
      if (this.stopping) return;
      if (signal !== 'SIGKILL') {
        this.unexpectedExits++;
        this.log.push(`worker ${child.pid} exited by itself (${code ?? signal}): ${output.slice(-1500)}`);
      }
      // a supervisor's restart delay
      setTimeout(() => { if (!this.stopping) void this.spawn(slot); }, 500);
    });
    return ready;
  }
}

/**
 * A Temporal dev server that keeps its history in a SQLite file, so it can be stopped and started
 * again on the same port with every workflow still there (as a cluster's rolling restart would).
 */
export class RestartableTemporal {
  private server: DevServer | undefined;

  constructor(private readonly options: { cliPath: string; port: number; namespace: string; dbFilename: string }) {}

  get address(): string {
    return `127.0.0.1:${this.options.port}`;
  }

  async start(): Promise<void> {
    this.server = await startTemporalDevServer(this.options);
  }

  /** Down for `downMs`, then up again. */
  async restart(downMs: number): Promise<void> {
    await this.server?.stop();
    this.server = undefined;
    await new Promise((r) => setTimeout(r, downMs));
    // the old listener can take a moment to let go of the port
    for (let attempt = 1; ; attempt++) {
      try {
        await this.start();
        return;
      } catch (err) {
        if (attempt >= 10) throw err;
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  }

  async stop(): Promise<void> {
    await this.server?.stop();
  }
}

/**
 * Processes of the cluster topology (cluster/processes.ts) under a supervisor, as systemd would run
 * them: a SIGKILLed one is started again after `restartDelayMs`; `restart` is a planned stop and start.
 */
export class SupervisedProcesses {
  private readonly slots: (Spawned | undefined)[];
  private readonly planned = new Set<number>();
  private stopping = false;
  unexpectedExits = 0;
  readonly log: string[] = [];

  constructor(private readonly size: number, private readonly spawnOne: (slot: number) => Spawned, private readonly restartDelayMs = 500) {
    this.slots = Array.from({ length: size }, () => undefined);
  }

  async start(): Promise<void> {
    for (let slot = 0; slot < this.size; slot++) await this.spawn(slot);
  }

  /** SIGKILL, as an OOM kill or a lost machine would; the supervisor brings a new one up. */
  async kill(slot: number): Promise<void> {
    const child = this.slots[slot % this.size]?.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  /** A graceful stop, down for `downMs`, then up again and ready. */
  async restart(downMs: number, slot = 0): Promise<void> {
    const child = this.slots[slot]?.child;
    this.planned.add(slot);
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    await new Promise((r) => setTimeout(r, downMs));
    this.planned.delete(slot);
    await this.spawn(slot);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.slots.map(async (s) => {
      const child = s?.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }));
  }

  pids(): number[] {
    return this.slots.map((s) => s?.info.pid ?? 0);
  }

  private async spawn(slot: number): Promise<void> {
    const spawned = this.spawnOne(slot);
    this.slots[slot] = spawned;
    spawned.child.once('exit', (code, signal) => {
      if (this.stopping || this.planned.has(slot)) return;
      if (signal !== 'SIGKILL') {
        this.unexpectedExits++;
        this.log.push(`${spawned.info.name} pid ${spawned.info.pid} exited by itself (${code ?? signal}): see ${spawned.info.log}`);
      }
      setTimeout(() => {
        if (!this.stopping) void this.spawn(slot).catch((err) => this.log.push(`${spawned.info.name} did not come back: ${(err as Error).message}`));
      }, this.restartDelayMs);
    });
    await spawned.ready;
  }
}
