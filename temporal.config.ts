/**
 * Everything Temporal-shaped about Kameng, in one typed object: task queues, activity timeouts and
 * retry policies (as named option objects), workflow id conventions and schedule times.
 *
 * This file is plain data with no imports so that workflow code may import it too: a workflow
 * declares its retry policy once, at `proxyActivities`, from here. The parts that come from the
 * environment (address, namespace, CLI path) are read and validated in `src/config.ts`.
 */

export interface RetryPolicyConfig {
  initialInterval: string;
  backoffCoefficient: number;
  maximumInterval: string;
  /** Absent means unlimited (bounded by the timeouts instead). */
  maximumAttempts?: number;
  nonRetryableErrorTypes: string[];
}

export interface ActivityOptionsConfig {
  startToCloseTimeout: string;
  scheduleToCloseTimeout?: string;
  heartbeatTimeout?: string;
  retry: RetryPolicyConfig;
}

/** Errors that retrying cannot fix: bad input, broken invariants, business refusals. */
const businessErrors: string[] = [
  'ValidationError',
  'UnbalancedEntryError',
  'IdempotencyConflictError',
  'InsufficientFundsError',
  'UnknownAccountError',
  'CurrencyMismatchError',
];

/** A first attempt made at once in the worker: no retry of its own, a durable schedule follows it. */
const oneTry: RetryPolicyConfig = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '1s',
  maximumAttempts: 1,
  nonRetryableErrorTypes: [],
};

export const temporalConfig = {
  /** Namespace when TEMPORAL_NAMESPACE is not set. */
  defaultNamespace: 'default',
  taskQueues: {
    /** Ledger-only and housekeeping work. */
    platform: 'kameng-platform',
    procurement: 'kameng-procurement',
    fulfillment: 'kameng-fulfillment',
    reconciliation: 'kameng-reconciliation',
    settlement: 'kameng-settlement',
  },
  activities: {
    /** Our own database: short, retried quickly and for long (a DB failover must not lose work). */
    database: {
      startToCloseTimeout: '30s',
      retry: {
        initialInterval: '200ms',
        backoffCoefficient: 2,
        maximumInterval: '30s',
        nonRetryableErrorTypes: businessErrors,
      },
    },
    /** Rebuilding the dashboard's daily rollups: one pass over the new days' postings and orders. */
    reporting: {
      startToCloseTimeout: '10m',
      retry: {
        initialInterval: '1s',
        backoffCoefficient: 2,
        maximumInterval: '1m',
        nonRetryableErrorTypes: businessErrors,
      },
    },
    /** A call to a supplier: slow, flaky, retried with backoff, then the workflow fails over. */
    supplierCall: {
      startToCloseTimeout: '30s',
      scheduleToCloseTimeout: '10m',
      retry: {
        initialInterval: '1s',
        backoffCoefficient: 2,
        maximumInterval: '1m',
        maximumAttempts: 5,
        nonRetryableErrorTypes: [...businessErrors, 'SupplierRejectedError'],
      },
    },
    /** Telling a reseller: retried patiently, for a day, because their endpoint may be down. */
    callbackDelivery: {
      startToCloseTimeout: '15s',
      scheduleToCloseTimeout: '24h',
      retry: {
        initialInterval: '5s',
        backoffCoefficient: 2,
        maximumInterval: '10m',
        nonRetryableErrorTypes: [...businessErrors, 'CallbackRefusedError'],
      },
    },
    /** A supplier asked at once, in the worker: one try; a failure that may pass hands over to supplierCall. */
    supplierFirstAttempt: {
      startToCloseTimeout: '30s',
      retry: oneTry,
    },
    /** Telling a reseller at once, in the worker: one try; a failure hands over to callbackDelivery. */
    callbackFirstAttempt: {
      startToCloseTimeout: '15s',
      retry: oneTry,
    },
    /** Long file work (statements, imports, exports) heartbeats its progress. */
    fileWork: {
      startToCloseTimeout: '30m',
      heartbeatTimeout: '1m',
      retry: {
        initialInterval: '1s',
        backoffCoefficient: 2,
        maximumInterval: '1m',
        maximumAttempts: 10,
        nonRetryableErrorTypes: [...businessErrors, 'StatementFormatError'],
      },
    },
    /** An alert to a group robot or webhook: retried with backoff for an hour, then marked abandoned. */
    alertDelivery: {
      startToCloseTimeout: '15s',
      scheduleToCloseTimeout: '1h',
      retry: {
        initialInterval: '2s',
        backoffCoefficient: 2,
        maximumInterval: '5m',
        nonRetryableErrorTypes: [...businessErrors, 'AlertChannelRefusedError', 'NotFoundError'],
      },
    },
  } satisfies Record<string, ActivityOptionsConfig>,
  /** Cron expressions (minute hour day month weekday), evaluated in the business time zone. */
  schedules: {
    timeZone: 'Asia/Shanghai',
    supplierReconciliation: '30 2 * * *',
    resellerSettlement: '0 4 * * *',
    stockCheck: '*/10 * * * *',
    /** Pruning (reseller API nonces past the replay window). */
    housekeeping: '*/5 * * * *',
    /** Alert rules evaluated, notices delivered (src/alerts). */
    alerts: '* * * * *',
  },
};

export type TemporalConfig = typeof temporalConfig;
export type TaskQueueName = keyof TemporalConfig['taskQueues'];
