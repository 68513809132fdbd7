/** Shapes shared by the top-up workflow and its activities (types only: workflow code imports them). */

import type { ActorRef } from '../users/actor.ts';

export interface SupplierCandidate {
  supplierId: number;
  supplierCode: string;
  /** The supplier's own product code for our SKU. */
  supplierSku: string;
  costFen: number;
}

export interface TopUpPlan {
  /** Qualified suppliers for the SKU's brand, best first. */
  candidates: SupplierCandidate[];
  /** With no final answer from a supplier for this long, the order is stuck and waits for ops. */
  stuckAfterMs: number;
  pollIntervalMs: number;
  /** While stuck, the supplier is still asked this often (absent in plans made before it existed). */
  stuckPollIntervalMs?: number;
}

export interface SupplierResult {
  requestId: string;
  status: 'PROCESSING' | 'SUCCESS' | 'FAILED';
  supplierOrderId?: string;
  supplierTxnId?: string;
  failureReason?: string;
}

export type OpsAction = (
  | { action: 'retry' }
  | { action: 'switchSupplier'; supplierCode: string }
  | { action: 'markSucceeded'; supplierReference: string; /** against a definite failure the supplier reported */ force?: boolean }
  | { action: 'refund' }
) & {
  /** The ops user, resolved from their session before the update is sent (serialisable: id and name). */
  actor: ActorRef;
  reason: string;
};

export interface TopUpAttempt {
  requestId: string;
  supplierCode: string;
  status: SupplierResult['status'] | 'UNKNOWN';
  failureReason?: string;
}

export interface TopUpState {
  orderId: number;
  status: 'processing' | 'stuck' | 'succeeded' | 'refunded';
  attempts: TopUpAttempt[];
  stuck: boolean;
  /** How the order was resolved when not by the normal path: by the supplier while stuck, or by ops. */
  resolvedBy?: 'supplier' | 'ops';
  /** Telling the reseller: 'failed' is logged in callback_deliveries and can be re-sent by ops. */
  callback?: 'delivered' | 'skipped' | 'failed';
}

/** What the apply step says of an ops action: applied (and audited), or refused and why. */
export type OpsCheck = { applied: true } | { applied: false; refusal: string };
