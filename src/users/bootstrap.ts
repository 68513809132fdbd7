import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Role, Users } from './users.ts';

/**
 * A fresh install gets an admin (password from KAMENG_ADMIN_PASSWORD, else generated), and the
 * demo one user per role, so a first look can log in as each. Generated passwords are shown once
 * and kept in <dataDir>/dashboard-users.json (mode 600) for the local demo.
 */
export async function ensureDashboardUsers(users: Users, options: { demo: boolean; dataDir: string; adminPassword?: string; log: (line: string) => void }): Promise<void> {
  if ((await users.count()) > 0) return;
  const wanted: { username: string; displayName: string; role: Role }[] = [
    { username: 'admin', displayName: '管理员 Admin', role: 'admin' },
    ...(options.demo ? [
      { username: 'finance', displayName: '财务小王 Finance Wang', role: 'finance' as const },
      { username: 'ops', displayName: '运营小李 Ops Li', role: 'ops' as const },
      { username: 'viewer', displayName: '访客 Viewer', role: 'viewer' as const },
    ] : []),
  ];
  const created: Record<string, { role: Role; password: string }> = {};
  for (const u of wanted) {
    const password = u.role === 'admin' && options.adminPassword ? options.adminPassword : randomBytes(9).toString('base64url');
    await users.upsert({ ...u, password });
    created[u.username] = { role: u.role, password };
  }
  const file = path.join(options.dataDir, 'dashboard-users.json');
  await fs.mkdir(options.dataDir, { recursive: true });
  await fs.writeFile(file, JSON.stringify(created, null, 2), { mode: 0o600 });
  options.log(`dashboard users created (passwords shown once, kept in ${file}):`);
  for (const [name, u] of Object.entries(created)) options.log(`  ${name.padEnd(8)} ${u.role.padEnd(8)} ${u.password}`);
}
