import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';

const kameng = fileURLToPath(new URL('../../bin/kameng.js', import.meta.url));

/**
 * `kameng worker` as a separate OS process polling one task queue, so a test can kill it with
 * SIGKILL mid-workflow, as a crash or an OOM kill would.
 */
export async function startWorkerProcess(options: { taskQueue: string; masterKeyHex: string; env?: Record<string, string> }): Promise<{ process: ChildProcess; kill(): Promise<void> }> {
  const child = spawn(process.execPath, [kameng, 'worker', '--task-queues', options.taskQueue], {
    env: {
      ...process.env, DATABASE_URL: inject('databaseUrl'), TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: inject('namespace'),
      KAMENG_MASTER_KEY: options.masterKeyHex, ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker process did not start in 60s:\n${output}`)), 60_000);
    const check = () => {
      if (output.includes('polling')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker process exited (${code}):\n${output}`));
    });
  });
  return {
    process: child,
    async kill() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}
