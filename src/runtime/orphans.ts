import fs from 'node:fs/promises';
import { KamengError } from '../errors.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function cmdline(pid: number): Promise<string> {
  return (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replace(/\0/g, ' ');
}

async function parentOf(pid: number): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // fields after the parenthesised command name: state ppid ...
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] ?? 0);
}

/**
 * A server we started (PostgreSQL, the Temporal dev server) outlives a Kameng process that was
 * killed hard. Next start: if the server's parent is gone, stop it; if its parent is a Kameng
 * that is still running, refuse rather than pull the floor from under it.
 */
export async function stopOrphanedServer(pid: number, what: string, looksLikeIt: (cmd: string) => boolean, log: (l: string) => void): Promise<void> {
  if (!pid || !looksLikeIt(await cmdline(pid))) return;
  const parent = await parentOf(pid);
  if (parent > 1 && (await cmdline(parent)).includes('kameng')) {
    throw new KamengError('ALREADY_RUNNING', `${what} belongs to a Kameng that is still running (pid ${parent}); stop it first`);
  }
  log(`stopping ${what} left running by an earlier run that did not shut down (pid ${pid})`);
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 80 && (await cmdline(pid)) !== ''; i++) await sleep(250);
  if ((await cmdline(pid)) !== '') process.kill(pid, 'SIGKILL');
}
