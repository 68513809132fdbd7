import fs from 'node:fs/promises';
import path from 'node:path';
import { ValidationError } from '../errors.ts';

/** What `kameng login` keeps: the token (the database keeps only its hash) and, for people, whose it is. */
export interface SavedSession {
  token: string;
  username: string;
  userId: number;
  expiresAt: string;
}

/** Written 0600 in a 0700 directory, through a temp file, so it is never readable by others, even half-written. */
export async function writeSessionFile(file: string, session: SavedSession): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, `${JSON.stringify(session, null, 2)}\n`, { mode: 0o600 });
  await fs.chmod(tmp, 0o600);
  await fs.rename(tmp, file);
}

/** The saved session, or undefined when there is none. A file others can read is refused, as ssh refuses such a key. */
export async function readSessionFile(file: string): Promise<SavedSession | undefined> {
  let text: string;
  try {
    const stat = await fs.stat(file);
    if ((stat.mode & 0o077) !== 0) {
      throw new ValidationError(`${file} is readable by others (mode ${(stat.mode & 0o777).toString(8)}): run \`chmod 600 ${file}\` or \`kameng login\` again`);
    }
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const saved = JSON.parse(text) as SavedSession;
    return typeof saved.token === 'string' ? saved : undefined;
  } catch {
    return undefined;
  }
}

export async function removeSessionFile(file: string): Promise<void> {
  await fs.rm(file, { force: true });
}
