import fs from 'node:fs/promises';
import path from 'node:path';
import { KamengError } from '../errors.ts';
import { findGo, isExecutable, runGo, withLock } from './temporal-cli.ts';

/**
 * A real Temporal server (not the CLI's dev server) and its SQL schema tool, for the production
 * topology (`npm run cluster`): built with the machine's `go` from the Go module proxy into a cache
 * outside the repo, once, at the server version the CLI already depends on, so the module cache
 * usually holds it. The schema SQL files are embedded in the tool (`--schema-name postgresql/v12/...`).
 */
export const TEMPORAL_SERVER_VERSION = 'v1.31.2';

export class TemporalServerUnavailableError extends KamengError {
  constructor(message: string) {
    super('TEMPORAL_SERVER_UNAVAILABLE', message);
  }
}

export interface TemporalServerBinaries {
  version: string;
  /** `temporal-server --config-file X start` */
  server: string;
  /** `temporal-sql-tool`: creates databases and sets up or updates the schema. */
  sqlTool: string;
}

const PROGRAMS = [
  { file: 'temporal-server', pkg: 'go.temporal.io/server/cmd/server' },
  { file: 'temporal-sql-tool', pkg: 'go.temporal.io/server/cmd/tools/sql' },
] as const;

/** The cached binaries, or a build with go (minutes, once; a lock keeps two builds apart). */
export async function resolveTemporalServer(options: { cacheDir: string; log?: (line: string) => void }): Promise<TemporalServerBinaries> {
  const log = options.log ?? (() => {});
  const dir = path.join(options.cacheDir, 'temporal-server');
  const target = path.join(dir, TEMPORAL_SERVER_VERSION);
  const binaries: TemporalServerBinaries = {
    version: TEMPORAL_SERVER_VERSION, server: path.join(target, 'temporal-server'), sqlTool: path.join(target, 'temporal-sql-tool'),
  };
  const cached = async () => (await isExecutable(binaries.server)) && (await isExecutable(binaries.sqlTool));
  if (await cached()) return binaries;
  const go = await findGo();
  if (!go) {
    throw new TemporalServerUnavailableError(
      `No Temporal server in ${target} and no \`go\` to build one: install Go (the server is built from the Go module proxy), ` +
        'or point TEMPORAL_ADDRESS at an existing Temporal cluster.',
    );
  }
  return withLock(path.join(dir, '.build-lock'), async () => {
    if (await cached()) return binaries;
    log(`Building the Temporal server ${TEMPORAL_SERVER_VERSION} and its SQL tool with ${go} (once; cached in ${dir}). This takes several minutes...`);
    // a small wrapper module pins one server version for both programs (as the CLI build does, temporal-cli.ts)
    const work = path.join(dir, `wrapper-${TEMPORAL_SERVER_VERSION}`);
    await fs.mkdir(work, { recursive: true });
    await fs.mkdir(target, { recursive: true });
    try {
      if (!(await fs.stat(path.join(work, 'go.mod')).catch(() => undefined))) {
        await fs.writeFile(path.join(work, 'go.mod'), 'module kameng.local/temporal-server\n\ngo 1.23\n');
      }
      await runGo(go, ['get', `go.temporal.io/server@${TEMPORAL_SERVER_VERSION}`], work, log);
      for (const program of PROGRAMS) {
        const out = path.join(target, `${program.file}.partial`);
        await runGo(go, ['build', '-o', out, program.pkg], work, log);
        await fs.rename(out, path.join(target, program.file));
        log(`  built ${path.join(target, program.file)}`);
      }
    } catch (err) {
      throw new TemporalServerUnavailableError(`building the Temporal server ${TEMPORAL_SERVER_VERSION} failed: ${(err as Error).message}`);
    }
    return binaries;
  }, (message) => new TemporalServerUnavailableError(message));
}
