import type { Client } from '@temporalio/client';
import { KamengError, ValidationError } from '../errors.ts';
import { assertMay, refOf, type Actor } from '../users/actor.ts';
import type { OpsAction, TopUpState } from './types.ts';

export class OpsActionRefusedError extends KamengError {
  constructor(orderId: number | string, reason: string) {
    super('OPS_ACTION_REFUSED', `order ${orderId}: refused: ${reason}`, { details: { orderId } });
  }
}

/** An ops decision as the CLI and the dashboard take it (retry, switch, succeed, refund). */
export function opsActionFrom(action: string, input: { actor: Actor; reason: string; supplier?: string; reference?: string }): OpsAction {
  const base = { actor: refOf(assertMay(input.actor, 'fulfillment')), reason: input.reason };
  switch (action) {
    case 'retry': return { action: 'retry', ...base };
    case 'refund': return { action: 'refund', ...base };
    case 'switch':
    case 'switchSupplier':
      if (!input.supplier) throw new ValidationError('switching supplier needs the supplier code');
      return { action: 'switchSupplier', supplierCode: input.supplier, ...base };
    case 'succeed':
    case 'markSucceeded':
      if (!input.reference) throw new ValidationError("marking succeeded needs the supplier's transaction reference");
      return { action: 'markSucceeded', supplierReference: input.reference, ...base };
    default: throw new ValidationError(`unknown action ${action}: retry, switch, succeed or refund`);
  }
}

/** Sends the decision to the top-up's workflow as an update: validated there, audited, applied once. */
export async function applyOpsAction(client: Client, orderId: number | string, request: OpsAction): Promise<TopUpState> {
  try {
    return await client.workflow.getHandle(`topup-${orderId}`).executeUpdate<TopUpState, [OpsAction]>('opsAction', { args: [request] });
  } catch (err) {
    throw new OpsActionRefusedError(orderId, (err as { cause?: Error }).cause?.message ?? (err as Error).message);
  }
}
