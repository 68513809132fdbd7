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
  /**
   * No `nonRetryableErrorTypes` here, on purpose: which errors are final is decided in one place,
   * activities/adapter.ts (a KamengError that is not `retryable` becomes a non-retryable failure
   * keeping its type and code). test/retry-policy.test.ts keeps it so.
   */
  nonRetryableErrorTypes?: never;
}

export interface ActivityOptionsConfig {
  startToCloseTimeout: string;
  scheduleToCloseTimeout?: string;
  heartbeatTimeout?: string;
  retry: RetryPolicyConfig;
}

/** A first attempt made at once in the worker: no retry of its own, a durable schedule follows it. */
const oneTry: RetryPolicyConfig = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '1s',
  maximumAttempts: 1,
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
      },
    },
    /** Rebuilding the dashboard's daily rollups: one pass over the new days' postings and orders. */
    reporting: {
      startToCloseTimeout: '10m',
      retry: {
        initialInterval: '1s',
        backoffCoefficient: 2,
        maximumInterval: '1m',
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
      },
    },
  } satisfies Record<string, ActivityOptionsConfig>,
  /** Time limits inside activities, each well within its activity's own (above). */
  withinActivities: {
    /** receiveCardBatch (fileWork): fetching a delivered batch's codes from the supplier. */
    deliveredCodesTimeoutMs: 60_000,
    /** reconcileStatement (fileWork): downloading a day's statement; files are large, suppliers slow. */
    statementDownloadTimeoutMs: 10 * 60_000,
    /** How often long file work heartbeats (fileWork.heartbeatTimeout is 1m). */
    heartbeatEveryMs: 5_000,
  },
  /** procureStock: how often a card batch the supplier is still preparing is looked up, and for how long (input may override). */
  procurement: {
    deliveryPollMs: 2_000,
    deliveryTimeoutMs: 30 * 60_000,
  },
  /**
   * housekeeping: a direct top-up committed (processing, its money held) whose workflow never started
   * (the API died between the commit and the start) is started once it is this old (KAMENG_STRANDED_AFTER_MS
   * overrides), at most this many a run, oldest first.
   */
  housekeeping: {
    strandedAfterMs: 2 * 60_000,
    resumedPerRun: 500,
  },
  /** After-sales (售后): how long a complaint may wait before it is escalated to the ops queue. */
  aftersales: {
    /** The supplier's answer is on the timeline, ops should have looked at the complaint by then. */
    firstResponse: '2h',
    /** A decision (replace, refund or reject) is due by then. */
    resolution: '24h',
  },
  /** Cron expressions (minute hour day month weekday), evaluated in the business time zone. */
  schedules: {
    timeZone: 'Asia/Shanghai',
    supplierReconciliation: '30 2 * * *',
    resellerSettlement: '0 4 * * *',
    stockCheck: '*/10 * * * *',
    /** Pruning (reseller API nonces past the replay window), top-ups stranded before their workflow started. */
    housekeeping: '*/5 * * * *',
    /** Alert rules evaluated, notices delivered (src/alerts). */
    alerts: '* * * * *',
  },
};

export type TemporalConfig = typeof temporalConfig;
export type TaskQueueName = keyof TemporalConfig['taskQueues'];
