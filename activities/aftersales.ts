import { Context } from '@temporalio/activity';
import { applyDecision, complaintPlan, escalateComplaint, recordSupplierUnreachable, tellResellerOfComplaint, verifyWithSupplier, type AftersalesDeps } from '../src/aftersales/store.ts';
import type { ComplaintDecision, ComplaintPlan, DecisionCheck, SupplierVerdict } from '../src/aftersales/types.ts';

/** After-sales (售后) adapters: the complaints tables, the supplier's checks, the ledger, reseller callbacks. */
export function createAftersalesActivities(deps: AftersalesDeps) {
  return {
    async complaintPlan(complaintId: number): Promise<ComplaintPlan> {
      return complaintPlan(deps.db, complaintId);
    },

    /** The supplier's code check or delivery query; retried while it cannot answer. */
    async verifyComplaint(complaintId: number): Promise<SupplierVerdict> {
      return verifyWithSupplier(deps, complaintId);
    },

    async recordSupplierUnreachable(input: { complaintId: number; reason: string }): Promise<void> {
      await recordSupplierUnreachable(deps.db, input.complaintId, input.reason);
    },

    async escalateComplaint(input: { complaintId: number; sla: 'first_response' | 'resolution' }): Promise<void> {
      await escalateComplaint(deps.db, input.complaintId, input.sla);
    },

    /** A decision's apply step: checked, its money, the claim, audited; a refusal changes nothing. */
    async applyComplaintDecision(input: { complaintId: number } & ComplaintDecision): Promise<DecisionCheck> {
      return applyDecision(deps, input);
    },

    /** `attemptsBefore`: tries made before this activity's own (the first one, in the worker). */
    async notifyResellerOfComplaint(input: { complaintId: number; attemptsBefore?: number }): Promise<{ delivered: boolean; skipped?: string }> {
      return tellResellerOfComplaint(deps, input.complaintId, (input.attemptsBefore ?? 0) + Context.current().info.attempt);
    },
  };
}
