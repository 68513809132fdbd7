import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino';

/**
 * The one logger: structured JSON (pino), one line per event. Context travels as fields
 * (`requestId`, `orderId`, `workflowId`, `supplier`, ...), never glued into the message.
 *
 * Secrets never reach the output: every line passes the redaction rules below, by key (a field
 * whose name says it is a secret, wherever it is nested) and by value (a secret written inside a
 * string, such as `sign=...` in a URL or a bearer token). The rules are data: add a rule here,
 * and test/observability-logs.test.ts plants one of each kind and greps a real run for it.
 */

export const REDACTED = '[REDACTED]';

export interface KeyRule {
  /** Field names (case-insensitive match on the whole name). */
  key: RegExp;
  /** Only when the object holding the field also has these fields (e.g. a card: `code` beside `serial`). */
  besides?: string[];
  why: string;
}

export const KEY_RULES: KeyRule[] = [
  { key: /^(password|passwd|new_?password|password_?hash|hash)$/i, why: 'user passwords and their hashes' },
  { key: /^(secret|.*_secret|.*Secret|secrets|.*_sealed|.*Sealed)$/i, why: 'reseller signing secrets, supplier callback secrets, sealed blobs' },
  { key: /^(?!idempotency)(api_?key|apiKey|.*ApiKey|master_?key|masterKey|key|.*_key|privateKey|private_key)$/i, why: 'supplier API keys, the master key, any key material (not idempotency keys)' },
  { key: /^(sign|signature|.*Signature|.*_signature|x-kameng-signature|x-signature)$/i, why: 'request and callback signatures' },
  { key: /^(authorization|cookie|set-cookie|token|.*_token|.*Token|csrf|session)$/i, why: 'bearer tokens, session cookies, CSRF tokens' },
  { key: /^(codes|cards|card_?code|cardCode|card_?codes|cardCodes|pin|card_?pin|plaintext|plain)$/i, why: 'card codes (卡密), delivered or imported' },
  { key: /^code$/i, besides: ['serial'], why: 'a card code beside its serial number' },
];

export interface ValueRule {
  pattern: RegExp;
  replace: string;
  why: string;
}

export const VALUE_RULES: ValueRule[] = [
  {
    pattern: /\b(sign|signature|secret|password|passwd|token|api_?key|apikey|access_?token|key)=([^&\s"',;]+)/gi,
    replace: `$1=${REDACTED}`,
    why: 'secrets in query strings and form bodies',
  },
  { pattern: /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{6,}/g, replace: `$1 ${REDACTED}`, why: 'Authorization header values' },
  { pattern: /(postgres(?:ql)?:\/\/[^:/@\s"]+):[^@\s"]+@/g, replace: `$1:${REDACTED}@`, why: 'passwords in database URLs' },
];

/** Strings known to be secret at run time (the master key, a token from the environment): never written. */
const knownSecrets = new Set<string>();
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 8) knownSecrets.add(value);
}

export function redactString(s: string): string {
  let out = s;
  for (const rule of VALUE_RULES) out = out.replace(rule.pattern, rule.replace);
  for (const secret of knownSecrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}

const redactKey = (key: string, holder: Record<string, unknown>): boolean =>
  KEY_RULES.some((r) => r.key.test(key) && (!r.besides || r.besides.every((b) => b in holder)));

/** A copy of `value` with the rules applied; errors become plain objects (type, message, code, stack, cause). */
export function redact(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return typeof value === 'bigint' ? value.toString() : value;
  if (depth > 8) return '[deep]';
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `[${value.byteLength} bytes]`;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Error) return redact(errorFields(value), depth + 1, seen);
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => redact(v, depth + 1, seen));
  const out: Record<string, unknown> = {};
  const holder = value as Record<string, unknown>;
  for (const [k, v] of Object.entries(holder)) out[k] = redactKey(k, holder) && v !== undefined && v !== null ? REDACTED : redact(v, depth + 1, seen);
  return out;
}

function errorFields(err: Error): Record<string, unknown> {
  const e = err as Error & { code?: unknown; type?: unknown; failure?: unknown; details?: unknown };
  const fields: Record<string, unknown> = { type: e.name, message: e.message };
  if (e.code !== undefined) fields.code = e.code;
  if (typeof e.type === 'string') fields.failureType = e.type;
  if (e.stack) fields.stack = e.stack;
  if (e.cause !== undefined) fields.cause = e.cause;
  return fields;
}

export type LogLevel = Exclude<LevelWithSilent, 'fatal'>;

/** Fields of the work in hand (requestId, orderId, workflowId): every line logged inside it carries them. */
const context = new AsyncLocalStorage<Record<string, unknown>>();

export function withLogContext<T>(fields: Record<string, unknown>, fn: () => T): T {
  return context.run({ ...context.getStore(), ...fields }, fn);
}

/** Adds fields to the work in hand (e.g. the orderId once the order exists). */
export function addLogContext(fields: Record<string, unknown>): void {
  const store = context.getStore();
  if (store) Object.assign(store, fields);
}

export function logContext(): Record<string, unknown> {
  return context.getStore() ?? {};
}

let sink: (line: string) => void = (line) => void process.stdout.write(line);

const root: PinoLogger = pino(
  {
    level: 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin: () => context.getStore() ?? {},
    // the pino built-in serializers would bypass the rules; errors go through redact() instead
    serializers: {},
    formatters: {
      level: (label) => ({ level: label }),
      log: (obj) => redact(obj) as Record<string, unknown>,
    },
    hooks: { streamWrite: redactString },
  },
  { write: (line: string) => sink(line) },
);

let generation = 0;

/** Where lines go and from which level; the process sets it once from config (src/config.ts, observability). */
export function configureLogging(options: { level?: LogLevel; sink?: (line: string) => void }): void {
  if (options.level) root.level = options.level;
  if (options.sink) sink = options.sink;
  generation++;
}

export function logLevel(): LogLevel {
  return root.level as LogLevel;
}

type LogFn = { (fields: Record<string, unknown>, message?: string): void; (message: string): void };

export interface Log {
  trace: LogFn; debug: LogFn; info: LogFn; warn: LogFn; error: LogFn;
  isLevelEnabled(level: LogLevel): boolean;
  /** The same logger with more fields on every line (`orderId`, `workflowId`, `requestId`). */
  child(fields: Record<string, unknown>): Log;
}

/**
 * A logger for one part of Kameng (`component`), with fields every line of it carries. Safe to
 * make at module load: it follows configureLogging() made later.
 */
export function logger(component: string, fields: Record<string, unknown> = {}): Log {
  return wrap({ component, ...fields });
}

function wrap(bindings: Record<string, unknown>): Log {
  let cached: PinoLogger | undefined;
  let cachedAt = -1;
  const current = () => {
    if (!cached || cachedAt !== generation) {
      cached = root.child(bindings);
      cachedAt = generation;
    }
    return cached;
  };
  const at = (level: 'trace' | 'debug' | 'info' | 'warn' | 'error'): LogFn =>
    ((a: Record<string, unknown> | string, b?: string) => {
      const l = current();
      if (typeof a === 'string') l[level](a);
      else l[level](a, b);
    }) as LogFn;
  return {
    trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'),
    isLevelEnabled: (level) => current().isLevelEnabled(level),
    child: (fields) => wrap({ ...bindings, ...fields }),
  };
}
