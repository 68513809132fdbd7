import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadClientConfigProfile, type ClientConfigProfile } from '@temporalio/envconfig';
import { z } from 'zod';
import { temporalConfig, type TemporalConfig } from '../temporal.config.ts';
import { ConfigError } from './errors.ts';

/** The one typed configuration object, built from the environment and temporal.config.ts. */
export interface AppConfig {
  /** Where embedded PostgreSQL and the local Temporal dev server keep their data. */
  dataDir: string;
  /** Outside the repo: the built Temporal CLI lives here. */
  cacheDir: string;
  /** KAMENG_CLUSTER_DIR: `npm run cluster` keeps its state file, configs and logs here (default <dataDir>/cluster). */
  clusterDir: string;
  database: {
    /** External PostgreSQL; when absent, an embedded PostgreSQL runs under dataDir. */
    url: string | undefined;
    /** DATABASE_OWNER_URL: the role owning the schema, for migrations and grants (README, Security). */
    ownerUrl: string | undefined;
    embeddedPort: number;
    poolMax: number;
    /** KAMENG_PG_JIT: PostgreSQL's JIT compilation for this application's sessions (default off: see src/db/knex.ts). */
    jit: boolean;
  };
  temporal: TemporalConfig & {
    /** External Temporal cluster; when absent, a local dev server is started. */
    address: string | undefined;
    namespace: string;
    cliPath: string | undefined;
    devServerPort: number;
    /** KAMENG_WORKFLOW_BUNDLE: workflow code bundled earlier, so a (re)started worker skips bundling. */
    workflowBundle: string | undefined;
    /**
     * How to reach an external cluster (API key, TLS, mTLS, gRPC metadata), as Temporal's own tools
     * read it: TEMPORAL_* variables over the TEMPORAL_PROFILE of TEMPORAL_CONFIG_FILE (or the
     * default temporal.toml). Used through src/runtime/temporal-connection.ts only.
     */
    connection: ClientConfigProfile;
  };
  dashboard: {
    host: string;
    port: number;
    /** Largest upload (a statement file), counted on the bytes received, not the declared length. */
    uploadMaxBytes: number;
    login: LoginSettings;
  };
  /** KAMENG_MASTER_KEY; a local install keeps a generated one in <dataDir>/master.key. */
  masterKey: string | undefined;
  fulfillment: FulfillmentSettings & { stuckPollIntervalMs: number };
  reconciliation: ReconSettings;
  /** What the first `npm start` and the demo read (src/cli/start.ts). */
  bootstrap: {
    /** KAMENG_ADMIN_PASSWORD: the first admin's password (never echoed, never copied); absent: one is generated. */
    adminPassword: string | undefined;
    /** KAMENG_STUCK_AFTER_MS as set; absent: the demo counts a top-up as stuck after 45 s, not 10 min. */
    demoStuckAfterMs: number | undefined;
  };
  /** `kameng login`: where the CLI keeps its session token (0600), and how long a token lives. */
  cli: { sessionFile: string; sessionHours: number };
  observability: ObservabilitySettings;
  /** 资质 documents (issue 18): kept by SHA-256 outside the database, like statements; each upload capped on bytes received. */
  compliance: { documentDir: string; documentMaxBytes: number };
  /** Supplier health routing, alert rules and demand-driven stock (README, Operations). */
  operations: OperationsSettings;
  businessTimeZone: 'Asia/Shanghai';
  /** Resellers and wallet recharges (充值), issue 18. */
  resellers: ResellerAdminSettings;
  /** `kameng import-codes` (src/inventory/import.ts). */
  cardImport: CardImportSettings;
}

/** How a card code import seals: in worker threads, a batch of rows at a time. */
export interface CardImportSettings {
  /** KAMENG_IMPORT_SEAL_WORKERS: sealing threads (default: the machine's cores); 0 seals in the importing thread. */
  sealWorkers: number;
  /** KAMENG_IMPORT_BATCH_ROWS: rows a thread seals at a time; a file of at most one batch is sealed without threads. */
  batchRows: number;
}

export const DEFAULT_CARD_IMPORT: CardImportSettings = { sealWorkers: os.availableParallelism(), batchRows: 4_096 };

/** Onboarding resellers and recording their recharges. */
export interface ResellerAdminSettings {
  /** KAMENG_RECHARGE_APPROVAL_FEN: a recharge of this much or more waits for a second finance user (default ¥50,000). */
  rechargeApprovalFen: number;
  /** KAMENG_SECRET_OVERLAP_HOURS: after a rotation, the old API secret is still accepted this long. */
  secretOverlapMs: number;
  /** KAMENG_RECEIVING_BANK_*: the platform's account resellers pay into, shown on the portal's wallet page with the reference to quote. */
  receivingBank: ReceivingBank;
}

/** The platform's receiving bank account (names in Chinese and English; the number as the bank prints it). */
export interface ReceivingBank {
  bankNameZh: string;
  bankNameEn: string;
  accountNameZh: string;
  accountNameEn: string;
  accountNumber: string;
}

/** The demo's receiving account: a deployment sets its own (KAMENG_RECEIVING_BANK_*). */
export const DEMO_RECEIVING_BANK: ReceivingBank = {
  bankNameZh: '招商银行上海分行营业部', bankNameEn: 'China Merchants Bank, Shanghai Branch',
  accountNameZh: '上海卡盟网络科技有限公司', accountNameEn: 'Shanghai Kameng Network Technology Co., Ltd.',
  accountNumber: '1219 0866 8810 001',
};

/**
 * Login throttling, counted in PostgreSQL so every process agrees: per username, per address and per
 * username-and-address pair; after the free tries each try must wait a doubling delay, and at
 * lockAfter failures the key is locked for lockMs. Password hashing runs at most hashConcurrency
 * at a time (hashQueue more may wait); beyond that a login answers 503 at once.
 */
export interface LoginSettings {
  freeTries: number;
  lockAfter: number;
  addressFreeTries: number;
  addressLockAfter: number;
  maxDelayMs: number;
  lockMs: number;
  hashConcurrency: number;
  hashQueue: number;
}

/** Direct top-ups: what the fulfillment activities read (activities/fulfillment.ts). */
export interface FulfillmentSettings {
  /** Where suppliers send callbacks: this deployment's public URL. */
  publicUrl: string;
  /** A top-up with no final answer from its supplier for this long is stuck and waits for ops. */
  stuckAfterMs: number;
  pollIntervalMs: number;
  /**
   * A top-up still processing with no supplier attempt this long after it was placed was stranded
   * before its workflow started: housekeeping starts it (KAMENG_STRANDED_AFTER_MS; default
   * temporal.config.ts housekeeping.strandedAfterMs, 2 minutes).
   */
  strandedAfterMs?: number;
  /** A stuck top-up still asks its supplier, this much less often, while it waits for ops (default: 20 poll intervals). */
  stuckPollIntervalMs?: number;
  supplierTimeoutMs: number;
  /** Reseller callback URLs may point at private or loopback addresses (tests and the demo only). */
  allowPrivateCallbacks: boolean;
  /** After-sales (售后): a complaint is taken this long after the order's delivery (KAMENG_COMPLAINT_WINDOW_HOURS; default 72 hours). */
  aftersales?: { complaintWindowHours: number };
}

/** Logs, metrics, traces and the Temporal Web UI (README, Operations). */
export interface ObservabilitySettings {
  /** KAMENG_LOG_LEVEL; unset: info for `npm start` and the worker, warn in tests. */
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent' | undefined;
  /** KAMENG_METRICS_TOKEN: /metrics answers `Authorization: Bearer <token>` from anywhere; unset: loopback clients only. */
  metricsToken: string | undefined;
  /** KAMENG_TEMPORAL_METRICS_ADDRESS: where the Temporal SDK exports its worker metrics (host:port); unset: a free loopback port. */
  temporalMetricsAddress: string | undefined;
  /** KAMENG_WORKER_METRICS_PORT: `kameng worker` serves /metrics on this port (KAMENG_DASHBOARD_HOST); unset: none. */
  workerMetricsPort: number | undefined;
  /** KAMENG_LOW_BALANCE_FEN: a reseller wallet under this many fen counts in kameng_wallets_low_balance. */
  lowBalanceFen: number;
  /** KAMENG_TEMPORAL_UI_PORT: the local dev server's Web UI (loopback); 0: headless. */
  temporalUiPort: number;
  /** TEMPORAL_UI_URL: the Temporal Web UI of a cluster (pages link workflows there). */
  temporalUiUrl: string | undefined;
  /** OTEL_EXPORTER_OTLP_ENDPOINT: an OTLP/HTTP collector for traces; unset: no spans are exported. */
  otlpEndpoint: string | undefined;
  /** OTEL_SERVICE_NAME: how traces name this process. */
  serviceName: string;
}
/** Supplier health routing (智能路由), alert thresholds and demand-driven reordering (库存管理). */
export interface OperationsSettings {
  routing: {
    /** 'health': failover order is priority adjusted by health, with a breaker; 'priority': the fixed order. */
    mode: 'health' | 'priority';
    /** The rolling window of supplier answers that health and the breaker read. */
    windowMs: number;
    /** The breaker opens at this failure rate (percent) over the window, with at least minCalls answers. */
    failurePct: number;
    minCalls: number;
    /** Open this long, then half-open: a probe every probeIntervalMs; probeSuccesses in a row close it. */
    cooldownMs: number;
    probeIntervalMs: number;
    probeSuccesses: number;
    /** Priority points added per 100 % failure rate, and per second of average latency. */
    failureWeight: number;
    latencyWeightPerSecond: number;
  };
  alerts: {
    stuckTopUps: number;
    supplierFailurePct: number;
    supplierWindowMinutes: number;
    supplierMinCalls: number;
    qualificationDays: number;
    /** Stock below its threshold with no procurement completed for this long. */
    stockStaleMinutes: number;
    /** Failed workflow runs (procurement, reconciliation) within this window. */
    workflowWindowMinutes: number;
  };
  stock: {
    /** Recent demand (units sold and refused) is read over this window. */
    velocityWindowMs: number;
    /** Lead time when no procurement has completed yet (else the recent runs' average). */
    defaultLeadMs: number;
    /** Safety stock, as this much time of recent demand. */
    safetyMs: number;
    /** A batch covers this much time of recent demand (at least the SKU's configured batch). */
    coverMs: number;
    /** Lead time is multiplied by this when the first supplier of a SKU is unhealthy: procure early. */
    unhealthyLeadFactor: number;
  };
}

export const DEFAULT_OPERATIONS: OperationsSettings = {
  routing: { mode: 'health', windowMs: 120_000, failurePct: 50, minCalls: 8, cooldownMs: 30_000, probeIntervalMs: 5_000, probeSuccesses: 2, failureWeight: 100, latencyWeightPerSecond: 10 },
  alerts: { stuckTopUps: 5, supplierFailurePct: 20, supplierWindowMinutes: 10, supplierMinCalls: 20, qualificationDays: 14, stockStaleMinutes: 30, workflowWindowMinutes: 60 },
  stock: { velocityWindowMs: 3_600_000, defaultLeadMs: 600_000, safetyMs: 300_000, coverMs: 3_600_000, unhealthyLeadFactor: 2 },
};

/** Daily supplier reconciliation (对账). */
export interface ReconSettings {
  /** Statement files as received, kept by content hash (shared storage when workers run on several hosts). */
  archiveDir: string;
  /** How far across midnight a statement line may land from our record of it. */
  windowMinutes: number;
  /** While a supplier has not published a day's statement: ask again this often, for this long. */
  statementPollMs: number;
  statementWaitMs: number;
}

const port = (fallback: number) =>
  z.coerce.number().int().min(1).max(65535).default(fallback);

const envSchema = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  DATABASE_OWNER_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  KAMENG_DATA_DIR: z.string().min(1).default('data'),
  KAMENG_CACHE_DIR: z.string().min(1).optional(),
  KAMENG_CLUSTER_DIR: z.string().min(1).optional(),
  KAMENG_PG_PORT: port(54329),
  KAMENG_DB_POOL_MAX: z.coerce.number().int().min(2).max(200).default(20),
  KAMENG_PG_JIT: z.enum(['on', 'off']).default('off'),
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[A-Za-z0-9.\-[\]:]+:\d+$/, 'must be host:port, e.g. temporal.internal:7233')
    .optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default(temporalConfig.defaultNamespace),
  TEMPORAL_CLI_PATH: z.string().min(1).optional(),
  KAMENG_TEMPORAL_PORT: port(7233),
  KAMENG_WORKFLOW_BUNDLE: z.string().min(1).optional(),
  KAMENG_ADMIN_PASSWORD: z.string().min(1).optional(),
  KAMENG_DASHBOARD_HOST: z.string().min(1).default('127.0.0.1'),
  PORT: port(3000),
  KAMENG_UPLOAD_MAX_BYTES: z.coerce.number().int().min(1024).default(512 * 1024 * 1024),
  KAMENG_LOGIN_FREE_TRIES: z.coerce.number().int().min(1).max(100).default(5),
  KAMENG_LOGIN_LOCK_AFTER: z.coerce.number().int().min(2).max(1000).default(10),
  KAMENG_LOGIN_ADDRESS_FREE_TRIES: z.coerce.number().int().min(1).max(1000).default(20),
  KAMENG_LOGIN_ADDRESS_LOCK_AFTER: z.coerce.number().int().min(2).max(10000).default(100),
  KAMENG_LOGIN_MAX_DELAY_MS: z.coerce.number().int().min(0).default(30_000),
  KAMENG_LOGIN_LOCK_SECONDS: z.coerce.number().int().min(1).max(24 * 3600).default(15 * 60),
  KAMENG_LOGIN_HASH_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  KAMENG_LOGIN_HASH_QUEUE: z.coerce.number().int().min(0).max(1000).default(8),
  KAMENG_MASTER_KEY: z
    .string()
    .regex(/^([0-9a-fA-F]{64}|[A-Za-z0-9+/]{43}=)$/, 'must be 32 bytes as 64 hex characters or base64')
    .optional(),
  KAMENG_ALLOW_PRIVATE_CALLBACKS: z.enum(['true', 'false']).default('false'),
  KAMENG_PUBLIC_URL: z.string().regex(/^https?:\/\/[^/]+$/, 'must be an http(s) origin without a path, e.g. https://kameng.example.com').optional(),
  KAMENG_STUCK_AFTER_MS: z.coerce.number().int().min(1000).optional(),
  KAMENG_POLL_INTERVAL_MS: z.coerce.number().int().min(100).default(15_000),
  KAMENG_STUCK_POLL_INTERVAL_MS: z.coerce.number().int().min(100).default(10 * 60_000),
  KAMENG_STRANDED_AFTER_MS: z.coerce.number().int().min(1000).default(temporalConfig.housekeeping.strandedAfterMs),
  KAMENG_SUPPLIER_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  KAMENG_COMPLAINT_WINDOW_HOURS: z.coerce.number().int().min(1).max(24 * 365).default(72),
  KAMENG_STATEMENT_DIR: z.string().min(1).optional(),
  KAMENG_DOCUMENT_DIR: z.string().min(1).optional(),
  KAMENG_DOCUMENT_MAX_BYTES: z.coerce.number().int().min(1024).max(100 * 1024 * 1024).default(10 * 1024 * 1024),
  KAMENG_RECON_WINDOW_MINUTES: z.coerce.number().int().min(0).max(720).default(10),
  KAMENG_STATEMENT_POLL_MS: z.coerce.number().int().min(100).default(15 * 60_000),
  KAMENG_STATEMENT_WAIT_MS: z.coerce.number().int().min(0).default(20 * 3600_000),
  KAMENG_CLI_SESSION_HOURS: z.coerce.number().min(0.01).max(24 * 30).default(8),
  // observability (README, Operations)
  KAMENG_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).optional(),
  KAMENG_METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  KAMENG_TEMPORAL_METRICS_ADDRESS: z.string().regex(/^[A-Za-z0-9.\-[\]:]+:\d+$/, 'must be host:port, e.g. 127.0.0.1:9464').optional(),
  KAMENG_LOW_BALANCE_FEN: z.coerce.number().int().min(0).default(10_000),
  KAMENG_WORKER_METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  KAMENG_TEMPORAL_UI_PORT: z.coerce.number().int().min(0).max(65535).default(8233),
  TEMPORAL_UI_URL: z.string().regex(/^https?:\/\/[^\s]+[^/\s]$/, 'must be an http(s) URL without a trailing slash, e.g. https://temporal.example.com').optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().regex(/^https?:\/\/[^\s]+$/, 'must be an http(s) URL, e.g. http://127.0.0.1:4318').optional(),
  OTEL_SERVICE_NAME: z.string().min(1).default('kameng'),
  KAMENG_RECHARGE_APPROVAL_FEN: z.coerce.number().int().min(1).default(5_000_000),
  KAMENG_SECRET_OVERLAP_HOURS: z.coerce.number().min(0).max(24 * 30).default(24),
  KAMENG_RECEIVING_BANK_NAME: z.string().trim().min(2).max(100).default(DEMO_RECEIVING_BANK.bankNameZh),
  KAMENG_RECEIVING_BANK_NAME_EN: z.string().trim().min(2).max(100).default(DEMO_RECEIVING_BANK.bankNameEn),
  KAMENG_RECEIVING_BANK_ACCOUNT_NAME: z.string().trim().min(2).max(100).default(DEMO_RECEIVING_BANK.accountNameZh),
  KAMENG_RECEIVING_BANK_ACCOUNT_NAME_EN: z.string().trim().min(2).max(100).default(DEMO_RECEIVING_BANK.accountNameEn),
  KAMENG_RECEIVING_BANK_ACCOUNT_NUMBER: z.string().trim().regex(/^\d[\d ]{6,38}\d$/, 'must be the account number: 8-40 digits, spaces allowed').default(DEMO_RECEIVING_BANK.accountNumber),
  KAMENG_IMPORT_SEAL_WORKERS: z.coerce.number().int().min(0).max(64).default(DEFAULT_CARD_IMPORT.sealWorkers),
  KAMENG_IMPORT_BATCH_ROWS: z.coerce.number().int().min(1).max(100_000).default(DEFAULT_CARD_IMPORT.batchRows),
  // operations: routing, alerts, stock (DEFAULT_OPERATIONS)
  KAMENG_ROUTING: z.enum(['health', 'priority']).default('health'),
  KAMENG_ROUTING_WINDOW_SECONDS: z.coerce.number().int().min(5).max(86_400).default(DEFAULT_OPERATIONS.routing.windowMs / 1000),
  KAMENG_BREAKER_FAILURE_PCT: z.coerce.number().min(1).max(100).default(DEFAULT_OPERATIONS.routing.failurePct),
  KAMENG_BREAKER_MIN_CALLS: z.coerce.number().int().min(1).default(DEFAULT_OPERATIONS.routing.minCalls),
  KAMENG_BREAKER_COOLDOWN_SECONDS: z.coerce.number().min(1).default(DEFAULT_OPERATIONS.routing.cooldownMs / 1000),
  KAMENG_BREAKER_PROBE_INTERVAL_SECONDS: z.coerce.number().min(0.1).default(DEFAULT_OPERATIONS.routing.probeIntervalMs / 1000),
  KAMENG_BREAKER_PROBE_SUCCESSES: z.coerce.number().int().min(1).max(100).default(DEFAULT_OPERATIONS.routing.probeSuccesses),
  KAMENG_ALERT_STUCK_TOPUPS: z.coerce.number().int().min(1).default(DEFAULT_OPERATIONS.alerts.stuckTopUps),
  KAMENG_ALERT_SUPPLIER_FAILURE_PCT: z.coerce.number().min(1).max(100).default(DEFAULT_OPERATIONS.alerts.supplierFailurePct),
  KAMENG_ALERT_SUPPLIER_WINDOW_MINUTES: z.coerce.number().int().min(1).max(1440).default(DEFAULT_OPERATIONS.alerts.supplierWindowMinutes),
  KAMENG_ALERT_SUPPLIER_MIN_CALLS: z.coerce.number().int().min(1).default(DEFAULT_OPERATIONS.alerts.supplierMinCalls),
  KAMENG_ALERT_QUALIFICATION_DAYS: z.coerce.number().int().min(1).max(365).default(DEFAULT_OPERATIONS.alerts.qualificationDays),
  KAMENG_ALERT_STOCK_STALE_MINUTES: z.coerce.number().int().min(1).default(DEFAULT_OPERATIONS.alerts.stockStaleMinutes),
  KAMENG_ALERT_WORKFLOW_WINDOW_MINUTES: z.coerce.number().int().min(1).default(DEFAULT_OPERATIONS.alerts.workflowWindowMinutes),
  KAMENG_STOCK_VELOCITY_SECONDS: z.coerce.number().int().min(10).default(DEFAULT_OPERATIONS.stock.velocityWindowMs / 1000),
  KAMENG_STOCK_LEAD_SECONDS: z.coerce.number().min(1).default(DEFAULT_OPERATIONS.stock.defaultLeadMs / 1000),
  KAMENG_STOCK_SAFETY_SECONDS: z.coerce.number().min(0).default(DEFAULT_OPERATIONS.stock.safetyMs / 1000),
  KAMENG_STOCK_COVER_SECONDS: z.coerce.number().min(1).default(DEFAULT_OPERATIONS.stock.coverMs / 1000),
  KAMENG_STOCK_UNHEALTHY_LEAD_FACTOR: z.coerce.number().min(1).max(10).default(DEFAULT_OPERATIONS.stock.unhealthyLeadFactor),
});

const cronField = /^(\*|\d+(-\d+)?)(\/\d+)?(,(\*|\d+(-\d+)?)(\/\d+)?)*$/;

/** A five-field cron expression (minute hour day month weekday), as node-cron and Temporal read it. */
export function isCronExpression(expr: string): boolean {
  const fields = expr.trim().split(/\s+/);
  return fields.length === 5 && fields.every((f) => cronField.test(f));
}

function checkTemporalConfig(problems: string[]): void {
  for (const [name, expr] of Object.entries(temporalConfig.schedules)) {
    if (name !== 'timeZone' && !isCronExpression(expr)) {
      problems.push(`temporal.config.ts schedules.${name}: "${expr}" is not a five-field cron expression`);
    }
  }
  const queues = Object.values(temporalConfig.taskQueues);
  if (new Set(queues).size !== queues.length) problems.push('temporal.config.ts taskQueues: names must be distinct');
}

/** Reads and validates the configuration; throws ConfigError listing every problem at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): AppConfig {
  const parsed = envSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  const problems: string[] = parsed.success
    ? []
    : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  checkTemporalConfig(problems);
  if (parsed.success && parsed.data.DATABASE_OWNER_URL && !parsed.data.DATABASE_URL) {
    problems.push('DATABASE_OWNER_URL: only with DATABASE_URL (the embedded PostgreSQL has its own roles)');
  }
  if (parsed.success && parsed.data.KAMENG_LOGIN_LOCK_AFTER <= parsed.data.KAMENG_LOGIN_FREE_TRIES) problems.push('KAMENG_LOGIN_LOCK_AFTER: must be more than KAMENG_LOGIN_FREE_TRIES');
  if (parsed.success && parsed.data.KAMENG_LOGIN_ADDRESS_LOCK_AFTER <= parsed.data.KAMENG_LOGIN_ADDRESS_FREE_TRIES) problems.push('KAMENG_LOGIN_ADDRESS_LOCK_AFTER: must be more than KAMENG_LOGIN_ADDRESS_FREE_TRIES');
  const temporalProfile = loadTemporalProfile(env, cwd, problems);
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  const cacheHome = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
  const configHome = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  return {
    dataDir: path.resolve(cwd, e.KAMENG_DATA_DIR),
    cacheDir: path.resolve(cwd, e.KAMENG_CACHE_DIR ?? path.join(cacheHome, 'kameng')),
    clusterDir: path.resolve(cwd, e.KAMENG_CLUSTER_DIR ?? path.join(e.KAMENG_DATA_DIR, 'cluster')),
    database: { url: e.DATABASE_URL, ownerUrl: e.DATABASE_OWNER_URL, embeddedPort: e.KAMENG_PG_PORT, poolMax: e.KAMENG_DB_POOL_MAX, jit: e.KAMENG_PG_JIT === 'on' },
    temporal: {
      ...temporalConfig,
      address: temporalProfile.address,
      namespace: temporalProfile.namespace ?? e.TEMPORAL_NAMESPACE,
      cliPath: e.TEMPORAL_CLI_PATH,
      devServerPort: e.KAMENG_TEMPORAL_PORT,
      workflowBundle: e.KAMENG_WORKFLOW_BUNDLE && path.resolve(cwd, e.KAMENG_WORKFLOW_BUNDLE),
      connection: temporalProfile,
    },
    dashboard: {
      host: e.KAMENG_DASHBOARD_HOST,
      port: e.PORT,
      uploadMaxBytes: e.KAMENG_UPLOAD_MAX_BYTES,
      login: {
        freeTries: e.KAMENG_LOGIN_FREE_TRIES, lockAfter: e.KAMENG_LOGIN_LOCK_AFTER,
        addressFreeTries: e.KAMENG_LOGIN_ADDRESS_FREE_TRIES, addressLockAfter: e.KAMENG_LOGIN_ADDRESS_LOCK_AFTER,
        maxDelayMs: e.KAMENG_LOGIN_MAX_DELAY_MS, lockMs: e.KAMENG_LOGIN_LOCK_SECONDS * 1000,
        hashConcurrency: e.KAMENG_LOGIN_HASH_CONCURRENCY, hashQueue: e.KAMENG_LOGIN_HASH_QUEUE,
      },
    },
    masterKey: e.KAMENG_MASTER_KEY,
    fulfillment: {
      publicUrl: e.KAMENG_PUBLIC_URL ?? `http://${e.KAMENG_DASHBOARD_HOST}:${e.PORT}`,
      stuckAfterMs: e.KAMENG_STUCK_AFTER_MS ?? 10 * 60_000,
      pollIntervalMs: e.KAMENG_POLL_INTERVAL_MS,
      stuckPollIntervalMs: e.KAMENG_STUCK_POLL_INTERVAL_MS,
      strandedAfterMs: e.KAMENG_STRANDED_AFTER_MS,
      supplierTimeoutMs: e.KAMENG_SUPPLIER_TIMEOUT_MS,
      allowPrivateCallbacks: e.KAMENG_ALLOW_PRIVATE_CALLBACKS === 'true',
      aftersales: { complaintWindowHours: e.KAMENG_COMPLAINT_WINDOW_HOURS },
    },
    reconciliation: {
      archiveDir: path.resolve(cwd, e.KAMENG_STATEMENT_DIR ?? path.join(e.KAMENG_DATA_DIR, 'statements')),
      windowMinutes: e.KAMENG_RECON_WINDOW_MINUTES,
      statementPollMs: e.KAMENG_STATEMENT_POLL_MS,
      statementWaitMs: e.KAMENG_STATEMENT_WAIT_MS,
    },
    bootstrap: { adminPassword: e.KAMENG_ADMIN_PASSWORD, demoStuckAfterMs: e.KAMENG_STUCK_AFTER_MS },
    cli: { sessionFile: path.join(configHome, 'kameng', 'session.json'), sessionHours: e.KAMENG_CLI_SESSION_HOURS },
    observability: {
      logLevel: e.KAMENG_LOG_LEVEL, metricsToken: e.KAMENG_METRICS_TOKEN, temporalMetricsAddress: e.KAMENG_TEMPORAL_METRICS_ADDRESS, workerMetricsPort: e.KAMENG_WORKER_METRICS_PORT,
      lowBalanceFen: e.KAMENG_LOW_BALANCE_FEN, temporalUiPort: e.KAMENG_TEMPORAL_UI_PORT, temporalUiUrl: e.TEMPORAL_UI_URL,
      otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: e.OTEL_SERVICE_NAME,
    },
    compliance: {
      documentDir: path.resolve(cwd, e.KAMENG_DOCUMENT_DIR ?? path.join(e.KAMENG_DATA_DIR, 'documents')),
      documentMaxBytes: e.KAMENG_DOCUMENT_MAX_BYTES,
    },
    operations: {
      routing: {
        mode: e.KAMENG_ROUTING, windowMs: e.KAMENG_ROUTING_WINDOW_SECONDS * 1000, failurePct: e.KAMENG_BREAKER_FAILURE_PCT, minCalls: e.KAMENG_BREAKER_MIN_CALLS,
        cooldownMs: e.KAMENG_BREAKER_COOLDOWN_SECONDS * 1000, probeIntervalMs: e.KAMENG_BREAKER_PROBE_INTERVAL_SECONDS * 1000, probeSuccesses: e.KAMENG_BREAKER_PROBE_SUCCESSES,
        failureWeight: DEFAULT_OPERATIONS.routing.failureWeight, latencyWeightPerSecond: DEFAULT_OPERATIONS.routing.latencyWeightPerSecond,
      },
      alerts: {
        stuckTopUps: e.KAMENG_ALERT_STUCK_TOPUPS, supplierFailurePct: e.KAMENG_ALERT_SUPPLIER_FAILURE_PCT, supplierWindowMinutes: e.KAMENG_ALERT_SUPPLIER_WINDOW_MINUTES,
        supplierMinCalls: e.KAMENG_ALERT_SUPPLIER_MIN_CALLS, qualificationDays: e.KAMENG_ALERT_QUALIFICATION_DAYS, stockStaleMinutes: e.KAMENG_ALERT_STOCK_STALE_MINUTES,
        workflowWindowMinutes: e.KAMENG_ALERT_WORKFLOW_WINDOW_MINUTES,
      },
      stock: {
        velocityWindowMs: e.KAMENG_STOCK_VELOCITY_SECONDS * 1000, defaultLeadMs: e.KAMENG_STOCK_LEAD_SECONDS * 1000, safetyMs: e.KAMENG_STOCK_SAFETY_SECONDS * 1000,
        coverMs: e.KAMENG_STOCK_COVER_SECONDS * 1000, unhealthyLeadFactor: e.KAMENG_STOCK_UNHEALTHY_LEAD_FACTOR,
      },
    },
    businessTimeZone: 'Asia/Shanghai',
    resellers: {
      rechargeApprovalFen: e.KAMENG_RECHARGE_APPROVAL_FEN, secretOverlapMs: e.KAMENG_SECRET_OVERLAP_HOURS * 3600_000,
      receivingBank: {
        bankNameZh: e.KAMENG_RECEIVING_BANK_NAME, bankNameEn: e.KAMENG_RECEIVING_BANK_NAME_EN, accountNameZh: e.KAMENG_RECEIVING_BANK_ACCOUNT_NAME,
        accountNameEn: e.KAMENG_RECEIVING_BANK_ACCOUNT_NAME_EN, accountNumber: e.KAMENG_RECEIVING_BANK_ACCOUNT_NUMBER,
      },
    },
    cardImport: { sealWorkers: e.KAMENG_IMPORT_SEAL_WORKERS, batchRows: e.KAMENG_IMPORT_BATCH_ROWS },
  };
}

/**
 * The Temporal connection profile (@temporalio/envconfig), checked here so that a bad one stops
 * the start with the rest of the configuration's problems, not at the first connection.
 */
function loadTemporalProfile(env: NodeJS.ProcessEnv, cwd: string, problems: string[]): ClientConfigProfile {
  const vars = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({ overrideEnvVars: vars });
  } catch (err) {
    const where = vars.TEMPORAL_CONFIG_FILE ? ` (TEMPORAL_CONFIG_FILE ${vars.TEMPORAL_CONFIG_FILE})` : '';
    problems.push(`Temporal profile${vars.TEMPORAL_PROFILE ? ` "${vars.TEMPORAL_PROFILE}"` : ''}${where}: ${(err as Error).message}`);
    return {};
  }
  const tls = profile.tls;
  if (tls && !tls.disabled) {
    const files: [string, { path: string } | { data: string | Uint8Array } | undefined][] = [
      ['TEMPORAL_TLS_CLIENT_CERT_PATH (tls.client_cert_path)', tls.clientCert], ['TEMPORAL_TLS_CLIENT_KEY_PATH (tls.client_key_path)', tls.clientKey],
      ['TEMPORAL_TLS_SERVER_CA_CERT_PATH (tls.server_ca_cert_path)', tls.serverCACert],
    ];
    for (const [name, source] of files) {
      if (source && 'path' in source) {
        const file = path.resolve(cwd, source.path);
        if (!fs.existsSync(file)) problems.push(`${name}: ${file} does not exist`);
        else if (!fs.statSync(file).isFile()) problems.push(`${name}: ${file} is not a file`);
        else source.path = file;
      }
    }
    if (tls.clientCert && !tls.clientKey) problems.push('TEMPORAL_TLS_CLIENT_CERT_*: a client certificate needs its key (TEMPORAL_TLS_CLIENT_KEY_PATH or _DATA) for mTLS');
    if (tls.clientKey && !tls.clientCert) problems.push('TEMPORAL_TLS_CLIENT_KEY_*: a client key needs its certificate (TEMPORAL_TLS_CLIENT_CERT_PATH or _DATA) for mTLS');
  }
  if (profile.apiKey !== undefined && tls?.disabled) problems.push('TEMPORAL_API_KEY with TEMPORAL_TLS=false would send the key in clear text: remove TEMPORAL_TLS=false');
  if (profile.address !== undefined && !/^[A-Za-z0-9.\-[\]:]+:\d+$/.test(profile.address)) problems.push(`Temporal address "${profile.address}": must be host:port, e.g. temporal.internal:7233`);
  if ((profile.apiKey !== undefined || (tls && !tls.disabled)) && profile.address === undefined) problems.push('TEMPORAL_API_KEY / TEMPORAL_TLS_*: set TEMPORAL_ADDRESS (or a profile address) too; the local dev server takes neither');
  return profile;
}
