import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ensureDashboardUsers } from '../src/users/bootstrap.ts';
import { Users } from '../src/users/users.ts';
import { openHarness, type Harness } from './support/harness.ts';

// A database of its own: the first start's users are made only where there are none yet.
let h: Harness;
let dir: string;
beforeAll(async () => {
  h = await openHarness({ worker: false, freshDatabase: true });
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-bootstrap-'));
});
afterAll(async () => {
  await h?.close();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await h.db('dashboard_sessions').delete();
  await h.db('dashboard_users').delete();
});

/** Runs the first start's user bootstrap, capturing its log and anything written to stdout or stderr. */
async function firstStart(options: { demo: boolean; adminPassword?: string }): Promise<string> {
  const lines: string[] = [];
  const written: string[] = [];
  const capture = (chunk: unknown) => { written.push(String(chunk)); return true; };
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  try {
    await ensureDashboardUsers(new Users(h.db), { ...options, dataDir: dir, log: (line) => lines.push(line) });
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return [...lines, ...written].join('\n');
}

describe('the first start names the dashboard users and where their passwords are, never a password', () => {
  it('generated passwords: in a file only its owner can read (even one left world-readable before), not in the output', async () => {
    const file = path.join(dir, 'dashboard-users.json');
    await fs.writeFile(file, '{}', { mode: 0o644 });
    await fs.chmod(file, 0o644);
    const output = await firstStart({ demo: true });
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    const kept = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, { role: string; password: string }>;
    expect(Object.keys(kept).sort()).toEqual(['admin', 'compliance', 'finance', 'ops', 'viewer']);
    for (const [username, { password }] of Object.entries(kept)) {
      expect(output).toContain(username);
      expect(output).not.toContain(password);
      await expect(new Users(h.db).login(username, password)).resolves.toBeDefined();
    }
    expect(output).toContain(file);
  });

  it('KAMENG_ADMIN_PASSWORD: not echoed, and not copied into the file', async () => {
    const adminPassword = 'correct-horse-battery-staple-42';
    const output = await firstStart({ demo: true, adminPassword });
    expect(output).not.toContain(adminPassword);
    expect(output).toContain('KAMENG_ADMIN_PASSWORD');
    const kept = await fs.readFile(path.join(dir, 'dashboard-users.json'), 'utf8');
    expect(kept).not.toContain(adminPassword);
    expect(Object.keys(JSON.parse(kept))).not.toContain('admin');
    await expect(new Users(h.db).login('admin', adminPassword)).resolves.toBeDefined();
  });
});
