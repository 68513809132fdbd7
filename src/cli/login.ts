import readline from 'node:readline';
import { BUSINESS_TZ } from '../dates.ts';
import { ValidationError } from '../errors.ts';
import { closeCliSession, openCliSession } from '../users/cli-sessions.ts';
import { Users } from '../users/users.ts';
import { cliActor, withCli } from './context.ts';
import { readSessionFile, removeSessionFile, writeSessionFile } from './session-file.ts';

const shanghai = (d: Date) => `${d.toLocaleString('sv-SE', { timeZone: BUSINESS_TZ })} (${BUSINESS_TZ})`;

/**
 * `kameng login [--username U] [--password-stdin]`: a person proves who they are once; the CLI keeps
 * an expiring token 0600 in their config directory and every audited command acts as them.
 */
export async function loginCommand(options: { username?: string; passwordStdin?: boolean }): Promise<void> {
  const username = options.username ?? (process.stdin.isTTY ? await ask('username: ') : '');
  if (!username.trim()) throw new ValidationError('--username is required when stdin is not a terminal');
  const password = options.passwordStdin ? await readStdinLine()
    : process.stdin.isTTY ? await askHidden('password: ')
      : (() => { throw new ValidationError('stdin is not a terminal: give the password with --password-stdin'); })();
  await withCli(async (ctx) => {
    const { token, actor, expiresAt } = await openCliSession(new Users(ctx.db), ctx.db, { username, password, hours: ctx.config.cli.sessionHours });
    const previous = await readSessionFile(ctx.config.cli.sessionFile).catch(() => undefined);
    if (previous) await closeCliSession(ctx.db, previous.token);
    await writeSessionFile(ctx.config.cli.sessionFile, { token, username: actor.username, userId: actor.userId, expiresAt: expiresAt.toISOString() });
    console.log(`logged in as ${actor.username} (${actor.role}) until ${shanghai(expiresAt)}; token in ${ctx.config.cli.sessionFile}`);
  });
}

/** `kameng logout`: the token stops working and its file is removed. */
export async function logoutCommand(): Promise<void> {
  await withCli(async (ctx) => {
    const saved = await readSessionFile(ctx.config.cli.sessionFile).catch(() => undefined);
    if (saved) await closeCliSession(ctx.db, saved.token);
    await removeSessionFile(ctx.config.cli.sessionFile);
    console.log(saved ? `logged out ${saved.username}` : 'not logged in');
  });
}

/** `kameng whoami`: who the CLI acts as, checked against the database now. */
export async function whoamiCommand(): Promise<void> {
  await withCli(async (ctx) => {
    const actor = await cliActor(ctx);
    const saved = await readSessionFile(ctx.config.cli.sessionFile);
    console.log(`${actor.username} (${actor.role}, user #${actor.userId})${saved ? `, session until ${shanghai(new Date(saved.expiresAt))}` : ''}`);
  });
}

function ask(question: string): Promise<string> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  return new Promise((resolve) => rl.question(question, (answer) => {
    rl.close();
    resolve(answer.trim());
  }));
}

/** A password from the terminal, not echoed. */
function askHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  return new Promise((resolve, reject) => {
    let value = '';
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new ValidationError('login cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** `--password-stdin`: the first line of stdin, as `docker login` takes it. */
async function readStdinLine(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return text.split(/\r?\n/)[0] ?? '';
}
