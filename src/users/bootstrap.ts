import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { writeSecretFile } from '../crypto/secret-file.ts';
import type { Role, Users } from './users.ts';

/**
 * A fresh install gets an admin (password from KAMENG_ADMIN_PASSWORD, else generated), and the
 * demo one user per role, so a first look can log in as each. Generated passwords go to
 * <dataDir>/dashboard-users.json (mode 600), never to the log: the log names the users and the file.
 */
export async function ensureDashboardUsers(users: Users, options: { demo: boolean; dataDir: string; adminPassword?: string; log: (line: string) => void }): Promise<void> {
  if ((await users.count()) > 0) return;
  const wanted: { username: string; displayName: string; role: Role }[] = [
    { username: 'admin', displayName: '管理员 Admin', role: 'admin' },
    ...(options.demo ? [
      { username: 'finance', displayName: '财务小王 Finance Wang', role: 'finance' as const },
      { username: 'ops', displayName: '运营小李 Ops Li', role: 'ops' as const },
      { username: 'viewer', displayName: '访客 Viewer', role: 'viewer' as const },
      { username: 'compliance', displayName: '合规小张 Compliance Zhang', role: 'compliance' as const },
    ] : []),
  ];
  const generated: Record<string, { role: Role; password: string }> = {};
  for (const u of wanted) {
    const fromEnv = u.role === 'admin' && options.adminPassword ? options.adminPassword : undefined;
    const password = fromEnv ?? randomBytes(9).toString('base64url');
    await users.upsert({ ...u, password });
    if (!fromEnv) generated[u.username] = { role: u.role, password };
  }
  const file = path.join(options.dataDir, 'dashboard-users.json');
  if (Object.keys(generated).length > 0) await writeSecretFile(file, JSON.stringify(generated, null, 2));
  options.log(`dashboard users created: ${wanted.map((u) => `${u.username} (${u.role})`).join(', ')}`);
  if (Object.keys(generated).length > 0) options.log(`  generated passwords of ${Object.keys(generated).join(', ')}: in ${file} (readable by its owner only)`);
  if (options.adminPassword) options.log('  admin: the password in KAMENG_ADMIN_PASSWORD');
}
