import { readFile } from 'node:fs/promises';
/** Peak resident memory while `fn` runs: sampled every 100 ms, and the kernel's high-water mark. */
export async function withPeakRss<T>(fn: () => Promise<T>): Promise<{ result: T; peakRssMb: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 100);
  try {
    const result = await fn();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, peakRssMb: peak / 1024 / 1024 };
  } finally {
    clearInterval(timer);
  }
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ result: T; seconds: number }> {
  const start = process.hrtime.bigint();
  const result = await fn();
  return { result, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

/** The machine's busy CPU time so far, in ms, from /proc/stat (all processes); undefined off Linux. */
async function machineBusyMs(): Promise<number | undefined> {
  try {
    const cpu = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = cpu;
    return ((user! + nice! + system! + irq! + softirq! + (steal ?? 0)) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/**
 * Runs `clients` loops concurrently for `seconds`, each calling `op(clientIndex, i)`; returns
 * operations done, and the machine's CPU time per operation (database, servers and clients alike:
 * on a machine they saturate, what a path costs in CPU decides its throughput), and this process's.
 */
export async function closedLoop(clients: number, seconds: number, op: (client: number, i: number) => Promise<void>): Promise<{ ops: number; seconds: number; latenciesMs: number[]; cpuMsPerOp?: number; ownCpuMsPerOp?: number }> {
  const deadline = Date.now() + seconds * 1000;
  const latenciesMs: number[] = [];
  const busyBefore = await machineBusyMs();
  const ownBefore = process.cpuUsage();
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    for (let i = 0; Date.now() < deadline; i++) {
      const t = process.hrtime.bigint();
      await op(c, i);
      latenciesMs.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  }));
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  const busyAfter = await machineBusyMs();
  const own = process.cpuUsage(ownBefore);
  const ops = latenciesMs.length;
  const cpuMsPerOp = busyBefore !== undefined && busyAfter !== undefined && ops ? (busyAfter - busyBefore) / ops : undefined;
  return { ops, seconds: elapsed, latenciesMs, cpuMsPerOp, ownCpuMsPerOp: ops ? (own.user + own.system) / 1000 / ops : undefined };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** A text progress bar for long CLI work, redrawn in place on a terminal, every 10% otherwise. */
export function progressBar(label: string, total: number) {
  let lastTenth = -1;
  const tty = process.stdout.isTTY;
  return {
    update(done: number) {
      const ratio = total ? Math.min(1, done / total) : 1;
      if (tty) {
        const width = 30;
        const filled = Math.round(ratio * width);
        process.stdout.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${fmt(done)}/${fmt(total)}`);
      } else if (Math.floor(ratio * 10) > lastTenth) {
        lastTenth = Math.floor(ratio * 10);
        console.log(`${label}: ${fmt(done)}/${fmt(total)} (${lastTenth * 10}%)`);
      }
    },
    done() {
      if (tty) process.stdout.write('\n');
    },
  };
}
