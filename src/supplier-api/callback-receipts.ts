import type { Knex } from 'knex';
import type { Db } from '../db/knex.ts';

type Queryable = Db | Knex.Transaction;

/**
 * supplier_callback_receipts: the signed callbacks we accepted, by signature. Claiming one twice
 * fails (a replay): the row counts the replays instead.
 */
export async function claimCallback(db: Queryable, receipt: { supplierId: number; signature: string; signedAt: Date; requestId: string }): Promise<boolean> {
  const { rows } = await db.raw(
    `INSERT INTO supplier_callback_receipts (supplier_id, signature, signed_at, request_id) VALUES (?, ?, ?, ?)
     ON CONFLICT (supplier_id, signature) DO UPDATE SET replays = supplier_callback_receipts.replays + 1, last_replay_at = now()
     RETURNING (xmax = 0) AS fresh, replays`,
    [receipt.supplierId, receipt.signature, receipt.signedAt, receipt.requestId],
  );
  return rows[0].fresh === true;
}

/** Forgets a claim whose processing failed, so the supplier's retry of the same callback is accepted. */
export async function releaseCallback(db: Queryable, supplierId: number, signature: string): Promise<void> {
  await db('supplier_callback_receipts').where({ supplier_id: supplierId, signature, replays: 0 }).delete();
}

/** Receipts older than this can never match again (their timestamps are outside the window). */
export async function pruneCallbackReceipts(db: Queryable, olderThan: Date): Promise<number> {
  return db('supplier_callback_receipts').where('received_at', '<', olderThan).delete();
}
