import { Runtime, type Logger, type LogLevel as TemporalLogLevel, type LogMetadata } from '@temporalio/worker';
import { logger, type Log } from './log.ts';

/**
 * The Temporal SDK's Runtime (one per process): its log lines go through our pino logger, and its
 * worker metrics (task latencies, slots, poll results, sticky cache) are exported in Prometheus
 * format on a loopback port that Kameng's own /metrics appends (src/observability/metrics-endpoint.ts).
 *
 * Expected refusals stay quiet: a workflow or activity that ends with a typed business failure
 * (a KamengError turned into a non-retryable ApplicationFailure by activities/adapter.ts, or a
 * named ApplicationFailure a workflow throws: ProcurementFailedError, StatementNotPublishedError...)
 * is one line at debug, without its stack. A retryable KamengError (a supplier that does not
 * answer) is one line at info. Anything else (a bug, an unknown failure) still shows in full.
 */

export interface TemporalRuntimeOptions {
  /** host:port for the SDK's Prometheus exporter (loopback); none: no SDK metrics. */
  metricsAddress?: string;
}

let installed: { metricsAddress: string | undefined } | undefined;

/** Installs the Runtime once per process (later calls return what the first one installed). */
export function installTemporalRuntime(options: TemporalRuntimeOptions = {}): { metricsAddress: string | undefined } {
  if (installed) return installed;
  try {
    Runtime.install({
      logger: new PinoTemporalLogger(logger('temporal')),
      telemetryOptions: {
        logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
        ...(options.metricsAddress ? { metrics: { prometheus: { bindAddress: options.metricsAddress, useSecondsForDurations: true } } } : {}),
      },
    });
    installed = { metricsAddress: options.metricsAddress };
  } catch {
    // already installed by someone else in this process (a test's own Runtime): keep theirs
    installed = { metricsAddress: undefined };
  }
  return installed;
}

export function temporalMetricsAddress(): string | undefined {
  return installed?.metricsAddress;
}

const LEVELS: Record<TemporalLogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error',
};

export type FailureKind = 'refusal' | 'retryable' | 'unexpected';

interface FailureLike {
  name?: unknown; message?: unknown; type?: unknown; nonRetryable?: unknown; code?: unknown; retryable?: unknown; cause?: unknown;
}

/**
 * What kind of failure ended a workflow or an activity attempt: a business refusal (typed and
 * final), a typed condition that retrying may fix, or something unexpected.
 */
export function classifyFailure(error: unknown): { kind: FailureKind; type?: string; code?: string; message: string } {
  const chain: FailureLike[] = [];
  for (let e = error as FailureLike | undefined, i = 0; e && typeof e === 'object' && i < 10; e = e.cause as FailureLike | undefined, i++) chain.push(e);
  const message = String(chain[chain.length - 1]?.message ?? chain[0]?.message ?? error);
  // The worker's own objects keep their fields (an activity's KamengError, an ApplicationFailure).
  for (const e of chain) {
    if (e.name === 'ApplicationFailure' && e.nonRetryable === true && typeof e.type === 'string' && e.type !== 'Error') {
      const details = (e as { details?: unknown[] }).details;
      const code = Array.isArray(details) && details[0] && typeof (details[0] as { code?: unknown }).code === 'string' ? (details[0] as { code: string }).code : undefined;
      return { kind: 'refusal', type: e.type, code, message };
    }
    if (isKamengError(e)) {
      return { kind: e.retryable === true ? 'retryable' : 'refusal', type: String(e.name), code: String(e.code), message };
    }
  }
  // A workflow's failure reaches the logger copied out of the workflow sandbox: names and extra
  // fields are gone, stacks remain. Its root cause says what it was: an ApplicationFailure the code
  // threw on purpose (a workflow's named refusal, or a KamengError turned into one by
  // activities/adapter.ts, whose own type is then the next cause), or a typed error of ours.
  const root = chain[chain.length - 1];
  const rootName = root ? nameOf(root) : undefined;
  if (rootName && (rootName === 'ApplicationFailure' || (!UNTYPED.has(rootName) && /^[A-Z]\w*$/.test(rootName)))) {
    return { kind: 'refusal', type: rootName, message };
  }
  return { kind: 'unexpected', message };
}

/** Built-in and Temporal names that say nothing about the business: a failure ending in one is unexpected. */
const UNTYPED = new Set([
  'Error', 'TypeError', 'RangeError', 'ReferenceError', 'SyntaxError', 'EvalError', 'URIError', 'AggregateError',
  'TimeoutFailure', 'TerminatedFailure', 'CancelledFailure', 'ServerFailure', 'ActivityFailure', 'ChildWorkflowFailure', 'TemporalFailure',
  'DeterminismViolationError', 'IllegalStateError', 'AbortError',
]);

/** The error's class name: from its stack's first line (which survives copying), else its name. */
function nameOf(e: FailureLike): string | undefined {
  const stack = (e as { stack?: unknown }).stack;
  const first = typeof stack === 'string' ? /^([A-Za-z_$][\w$]*)(?::|$)/.exec(stack)?.[1] : undefined;
  return first ?? (typeof e.name === 'string' ? e.name : undefined);
}

const isKamengError = (e: FailureLike): boolean =>
  typeof e.code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(e.code) && typeof e.retryable === 'boolean' && typeof e.name === 'string';

const FAILURE_MESSAGES = new Set(['Workflow failed', 'Activity failed']);

export class PinoTemporalLogger implements Logger {
  constructor(private readonly out: Log) {}

  log(level: TemporalLogLevel, message: string, meta: LogMetadata = {}): void {
    const fields = fieldsOf(meta);
    if (FAILURE_MESSAGES.has(message) && meta.error !== undefined && LEVELS[level] === 'warn') {
      const failure = classifyFailure(meta.error);
      if (failure.kind !== 'unexpected') {
        delete fields.error;
        const line = { ...fields, outcome: failure.kind, failureType: failure.type, failureCode: failure.code, failure: failure.message };
        if (failure.kind === 'refusal') this.out.debug(line, `${message}: ${failure.type}`);
        else this.out.info(line, `${message} (will retry): ${failure.type}`);
        return;
      }
    }
    // the SDK's own INFO lines are lifecycle chatter (worker state changes); the code's own
    // (workflow and activity context loggers) keep their level
    const quiet = level === 'INFO' && meta.sdkComponent !== 'workflow' && meta.sdkComponent !== 'activity';
    this.out[quiet ? 'debug' : LEVELS[level]](fields, message);
  }

  trace(message: string, meta?: LogMetadata) { this.log('TRACE', message, meta); }
  debug(message: string, meta?: LogMetadata) { this.log('DEBUG', message, meta); }
  info(message: string, meta?: LogMetadata) { this.log('INFO', message, meta); }
  warn(message: string, meta?: LogMetadata) { this.log('WARN', message, meta); }
  error(message: string, meta?: LogMetadata) { this.log('ERROR', message, meta); }
}

/** The SDK's metadata, with symbols dropped and its keys kept (workflowId, runId, activityType...). */
function fieldsOf(meta: LogMetadata): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(meta)) if (typeof k === 'string') out[k] = v;
  return out;
}
