import { execFile, spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { KamengError } from '../errors.ts';

const execFileAsync = promisify(execFile);

/**
 * The Temporal CLI (it holds `temporal server start-dev`) is a Go module, built here with the
 * machine's `go` from the Go module proxy into a cache outside the repo, once.
 *
 * Since CLI v1.6 its go.mod says `replace github.com/temporalio/cli/cliext => ./cliext`, which
 * `go install module@version` refuses. So we build it from a small wrapper module that replaces
 * cliext with that module's pseudo-version at the same commit as the release tag. If that fails,
 * v1.5.1 (before cliext) installs with plain `go install`.
 */
export const PREFERRED_CLI = {
  version: 'v1.8.2',
  // github.com/temporalio/cli/cliext at the commit tagged v1.8.2
  cliextVersion: 'v0.0.0-20260731000218-c579925f193f',
};
export const FALLBACK_CLI_VERSION = 'v1.5.1';

export class TemporalCliUnavailableError extends KamengError {
  constructor(message: string) {
    super('TEMPORAL_CLI_UNAVAILABLE', message);
  }
}

export interface ResolveOptions {
  /** TEMPORAL_CLI_PATH */
  explicitPath?: string;
  /** Where built CLIs are kept (outside the repo). */
  cacheDir: string;
  log?: (line: string) => void;
}

export async function isExecutable(file: string): Promise<boolean> {
  try {
    await fs.access(file, fsConstants.X_OK);
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}

export async function onPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && (await isExecutable(path.join(dir, name)))) return path.join(dir, name);
  }
  return undefined;
}

/** TEMPORAL_CLI_PATH, then `temporal` on PATH, then the cache, then a build with go. */
export async function resolveTemporalCli(options: ResolveOptions): Promise<string> {
  const log = options.log ?? (() => {});
  if (options.explicitPath) {
    if (await isExecutable(options.explicitPath)) return options.explicitPath;
    throw new TemporalCliUnavailableError(`TEMPORAL_CLI_PATH=${options.explicitPath} is not an executable file`);
  }
  const fromPath = await onPath('temporal');
  if (fromPath) return fromPath;

  const cliDir = path.join(options.cacheDir, 'temporal-cli');
  for (const version of [PREFERRED_CLI.version, FALLBACK_CLI_VERSION]) {
    const cached = path.join(cliDir, version, 'temporal');
    if (await isExecutable(cached)) return cached;
  }
  const go = await findGo();
  if (!go) {
    throw new TemporalCliUnavailableError(
      'No Temporal CLI found and no `go` to build one. Either set TEMPORAL_ADDRESS to an existing Temporal ' +
        'server, set TEMPORAL_CLI_PATH to a `temporal` binary, put `temporal` on PATH, or install Go so Kameng ' +
        'can build the CLI from the Go module proxy.',
    );
  }
  return withLock(path.join(cliDir, '.build-lock'), async () => {
    for (const version of [PREFERRED_CLI.version, FALLBACK_CLI_VERSION]) {
      const cached = path.join(cliDir, version, 'temporal');
      if (await isExecutable(cached)) return cached;
    }
    log(`Building the Temporal CLI ${PREFERRED_CLI.version} with ${go} (once; cached in ${cliDir}). This takes a few minutes...`);
    try {
      return await buildPreferred(go, cliDir, log);
    } catch (err) {
      log(`Building ${PREFERRED_CLI.version} failed (${(err as Error).message.split('\n')[0]}); falling back to ${FALLBACK_CLI_VERSION}`);
      return await buildFallback(go, cliDir, log);
    }
  });
}

/** `go` on PATH, or where the official tarball puts it. */
export async function findGo(): Promise<string | undefined> {
  return (await onPath('go')) ?? ((await isExecutable('/usr/local/go/bin/go')) ? '/usr/local/go/bin/go' : undefined);
}

async function buildPreferred(go: string, cliDir: string, log: (l: string) => void): Promise<string> {
  const target = path.join(cliDir, PREFERRED_CLI.version);
  const work = path.join(cliDir, `wrapper-${PREFERRED_CLI.version}`);
  await fs.mkdir(work, { recursive: true });
  await fs.writeFile(
    path.join(work, 'go.mod'),
    [
      'module kameng.local/temporal-cli',
      '',
      'go 1.23',
      '',
      `replace github.com/temporalio/cli/cliext => github.com/temporalio/cli/cliext ${PREFERRED_CLI.cliextVersion}`,
      '',
    ].join('\n'),
  );
  await runGo(go, ['get', `github.com/temporalio/cli/cmd/temporal@${PREFERRED_CLI.version}`], work, log);
  await fs.mkdir(target, { recursive: true });
  const out = path.join(target, 'temporal.partial');
  await runGo(go, ['build', '-o', out, 'github.com/temporalio/cli/cmd/temporal'], work, log);
  await fs.rename(out, path.join(target, 'temporal'));
  return path.join(target, 'temporal');
}

async function buildFallback(go: string, cliDir: string, log: (l: string) => void): Promise<string> {
  const target = path.join(cliDir, FALLBACK_CLI_VERSION);
  await fs.mkdir(target, { recursive: true });
  await runGo(go, ['install', `github.com/temporalio/cli/cmd/temporal@${FALLBACK_CLI_VERSION}`], target, log, { GOBIN: target });
  return path.join(target, 'temporal');
}

export function runGo(go: string, args: string[], cwd: string, log: (l: string) => void, env: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    log(`  $ go ${args.join(' ')}`);
    const child = spawn(go, args, { cwd, env: { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const started = Date.now();
    const ticker = setInterval(() => log(`  ... still building (${Math.round((Date.now() - started) / 1000)}s)`), 30_000);
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', (err) => { clearInterval(ticker); reject(err); });
    child.on('close', (code) => {
      clearInterval(ticker);
      if (code === 0) resolve();
      else reject(new Error(`go ${args.join(' ')} exited ${code}:\n${output.slice(-4000)}`));
    });
  });
}

/** A directory lock so that a test run and `npm start` never build the same binary at the same time. */
export async function withLock<T>(lockDir: string, fn: () => Promise<T>, makeError: (m: string) => Error = (m) => new TemporalCliUnavailableError(m)): Promise<T> {
  await fs.mkdir(path.dirname(lockDir), { recursive: true });
  const deadline = Date.now() + 30 * 60_000;
  for (;;) {
    try {
      await fs.mkdir(lockDir);
      await fs.writeFile(path.join(lockDir, 'pid'), String(process.pid));
      break;
    } catch {
      const holder = Number(await fs.readFile(path.join(lockDir, 'pid'), 'utf8').catch(() => '0'));
      if (holder && !processAlive(holder)) {
        await fs.rm(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw makeError(`timed out waiting for ${lockDir}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lockDir, { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `temporal --version`, for logs. */
export async function temporalCliVersion(cli: string): Promise<string> {
  const { stdout } = await execFileAsync(cli, ['--version']);
  return stdout.trim();
}
