import type { Client } from '@temporalio/client';
import { KamengError, ValidationError } from '../errors.ts';
import { opsActionUpdate, topUpWorkflowId } from '../../workflows/fulfill-topup.ts';
import type { Db } from '../db/knex.ts';
import { assertMay, refOf, type Actor } from '../users/actor.ts';
import { latestSupplierAnswer, opsRefusal } from './ops-check.ts';
import type { OpsAction, TopUpState } from './types.ts';

export class OpsActionRefusedError extends KamengError {
  constructor(orderId: number | string, reason: string) {
    super('OPS_ACTION_REFUSED', `order ${orderId}: refused: ${reason}`, { details: { orderId } });
  }
}

/** An ops decision as the CLI and the dashboard take it (retry, switch, succeed, refund). */
/** Temporal could not be reached: nothing was decided, try again (HTTP 503), unlike a refusal (400). */
export class OpsActionUnavailableError extends KamengError {
  constructor(orderId: number | string, reason: string) {
    super('TEMPORAL_UNAVAILABLE', `order ${orderId}: Temporal cannot be reached just now (${reason}); nothing was done, try again`, { retryable: true, details: { orderId } });
  }
}

export function opsActionFrom(action: string, input: { actor: Actor; reason: string; supplier?: string; reference?: string; force?: boolean }): OpsAction {
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
      return { action: 'markSucceeded', supplierReference: input.reference, ...(input.force ? { force: true } : {}), ...base };
    default: throw new ValidationError(`unknown action ${action}: retry, switch, succeed or refund`);
  }
}

/**
 * Sends the decision to the top-up's workflow as an update: validated there, checked against the
 * supplier's latest answer and audited in its apply step, applied once. With `db`, the same check is
 * made first here, so a workflow started before that step existed (a top-up stuck since before a
 * deploy) is protected too, and an obvious refusal never reaches Temporal.
 */
export async function applyOpsAction(client: Client, orderId: number | string, request: OpsAction, options: { db?: Db } = {}): Promise<TopUpState> {
  if (options.db && Number.isSafeInteger(Number(orderId))) {
    const order = await options.db('orders').where({ id: Number(orderId) }).first('kind');
    if (order?.kind === 'card_code') throw new OpsActionRefusedError(orderId, CARD_ORDER_REFUSAL);
    const refusal = opsRefusal(request, await latestSupplierAnswer(options.db, orderId));
    if (refusal) throw new OpsActionRefusedError(orderId, refusal);
  }
  const handle = client.workflow.getHandle(topUpWorkflowId(orderId));
  try {
    return await handle.executeUpdate(opsActionUpdate, { args: [request] });
  } catch (err) {
    if (unreachable(err)) throw new OpsActionUnavailableError(orderId, (err as Error).message);
    // an update that raced the order's end (another action finished it first) is aborted by the server
    const status = await handle.describe().then((d) => d.status.name, () => undefined);
    if (status && status !== 'RUNNING') throw new OpsActionRefusedError(orderId, `the order is already final (its workflow is ${status.toLowerCase()}): nothing for ops to do`);
    throw new OpsActionRefusedError(orderId, (err as { cause?: Error }).cause?.message ?? (err as Error).message);
  }
}

/** A card order has no fulfillment workflow: its codes were delivered with the order. */
export const CARD_ORDER_REFUSAL = 'a card order has no fulfillment to act on: its codes were delivered when it was placed. '
  + 'For an invalid or used code, the reseller files a complaint and ops decide it in after-sales (售后): `kameng complaints list`, `kameng complaints decide`, or the dashboard\'s /aftersales';

/** gRPC UNAVAILABLE / DEADLINE_EXCEEDED, or a connection that could not be made at all. */
function unreachable(err: unknown): boolean {
  for (let e = err as { name?: string; code?: number; cause?: unknown; message?: string } | undefined; e; e = e.cause as typeof e) {
    if (e.name === 'WorkflowUpdateFailedError' || e.name === 'WorkflowNotFoundError') return false;
    if (e.code === 14 || e.code === 4 || e.name === 'TransportError' || /ECONNREFUSED|UNAVAILABLE|Failed to connect/i.test(e.message ?? '')) return true;
  }
  return false;
}
