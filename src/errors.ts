/**
 * Typed errors. Each carries a stable `code` that the API, the CLI and Temporal failures use,
 * and says whether retrying could help: business refusals and bad input never can.
 */
export class KamengError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: { retryable?: boolean; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
  }
}

/** Input that is wrong in itself: say what and where, change nothing. */
export class ValidationError extends KamengError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('VALIDATION_ERROR', message, { details });
  }
}

export class ConfigError extends KamengError {
  readonly problems: string[];
  constructor(problems: string[]) {
    super('CONFIG_ERROR', `Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

export class NotFoundError extends KamengError {
  constructor(what: string, id: string | number) {
    super('NOT_FOUND', `${what} not found: ${id}`, { details: { what, id } });
  }
}

/**
 * The innermost message of an error's cause chain: what actually went wrong under the wrappers
 * (a workflow failure around an activity failure around the activity's own error). The one
 * unwrapper; this file imports nothing, so workflow code may use it too.
 */
export function rootMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  while (e?.cause) e = e.cause as typeof e;
  return e?.message ?? String(err);
}
