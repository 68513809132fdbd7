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

/** Runs `clients` loops concurrently for `seconds`, each calling `op(clientIndex, i)`; returns operations done. */
export async function closedLoop(clients: number, seconds: number, op: (client: number, i: number) => Promise<void>): Promise<{ ops: number; seconds: number; latenciesMs: number[] }> {
  const deadline = Date.now() + seconds * 1000;
  const latenciesMs: number[] = [];
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    for (let i = 0; Date.now() < deadline; i++) {
      const t = process.hrtime.bigint();
      await op(c, i);
      latenciesMs.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  }));
  return { ops: latenciesMs.length, seconds: Number(process.hrtime.bigint() - start) / 1e9, latenciesMs };
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
