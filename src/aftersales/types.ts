/** Shapes shared by the handleComplaint workflow and its activities (types only: workflow code imports them). */

import type { ActorRef } from '../users/actor.ts';

export const COMPLAINT_KINDS = ['invalid_code', 'used_code', 'not_received', 'wrong_amount'] as const;
export type ComplaintKind = (typeof COMPLAINT_KINDS)[number];

/** What the supplier answers when asked: a code check (card) or a delivery query (top-up). */
export type SupplierVerdict = 'valid' | 'used' | 'invalid' | 'delivered' | 'not_delivered' | 'unknown';

export type ComplaintStatus = 'open' | 'replaced' | 'refunded' | 'rejected';

export type ComplaintDecision = {
  decision: 'replace' | 'refund' | 'reject';
  /** The ops user, resolved from their session before the update is sent. */
  actor: ActorRef;
  /** Why; for a rejection, the reason the reseller sees. */
  reason: string;
  /** A partial refund (fen); default: the whole charge of what was complained about. */
  amountFen?: number;
};

export interface ComplaintPlan {
  complaintId: number;
  subject: 'card_code' | 'direct_topup';
  /** Milliseconds from the complaint's filing to each SLA deadline (already past ones fire at once). */
  firstResponseInMs: number;
  resolutionInMs: number;
}

export interface ComplaintState {
  complaintId: number;
  status: ComplaintStatus;
  verdict?: SupplierVerdict;
  escalation?: 'first_response' | 'resolution';
  /** Telling the reseller: 'failed' is on the timeline. */
  callback?: 'delivered' | 'skipped' | 'failed';
}

/** What the apply step says of a decision: applied (and audited), or refused and why. */
export type DecisionCheck = { applied: true; status: ComplaintStatus } | { applied: false; refusal: string };
