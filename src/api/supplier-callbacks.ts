import type { Client } from '@temporalio/client';
import express, { type Request, type Response } from 'express';
import type { Db } from '../db/knex.ts';
import { signatureMatches } from '../resellers/signature.ts';
import { jsonErrorHandler } from '../http/request-errors.ts';
import { claimCallback, pruneCallbackReceipts, releaseCallback } from '../supplier-api/callback-receipts.ts';
import { SUPPLIER_CALLBACK_HEADERS, SUPPLIER_CALLBACK_WINDOW_MS, supplierCallbackSignature } from '../supplier-api/callback-signature.ts';
import { recordResult, transaction } from '../supplier-api/transactions.ts';
import type { SupplierRegistry } from '../suppliers/registry.ts';
import { supplierResultSignal, topUpWorkflowId } from '../../workflows/fulfill-topup.ts';
import { logger } from '../observability/log.ts';

const callbackLog = logger('supplier-callbacks');

/**
 * Where suppliers report results: POST /callbacks/suppliers/:code, signed with the supplier's
 * callback secret over a timestamp and the body (src/supplier-api/callback-signature.ts). The
 * result is recorded and signalled to the order's workflow. A callback signed outside the window
 * is refused; the same signed callback sent again is refused, counted and logged, and changes
 * nothing. A supplier re-sending a result signs it anew: that is a duplicate, harmless, as the
 * workflow keeps the first result per request id.
 */
export function supplierCallbacks(deps: { db: Db; suppliers: SupplierRegistry; temporal: Client; now?: () => number; log?: (line: string) => void }): express.Router {
  const router = express.Router();
  const now = deps.now ?? Date.now;
  const log = deps.log ?? ((line: string) => callbackLog.warn(line));
  let prunedAt = 0;
  router.post('/:code', express.raw({ type: () => true, limit: '16kb' }), async (req: Request, res: Response) => {
    const fail = (status: number, code: string, message: string) => res.status(status).json({ error: { code, message } });
    try {
      const supplier = await deps.suppliers.byCode(String(req.params.code)).catch(() => undefined);
      if (!supplier) return fail(404, 'UNKNOWN_SUPPLIER', `no supplier ${req.params.code}`);
      const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const timestamp = String(req.headers[SUPPLIER_CALLBACK_HEADERS.timestamp] ?? '');
      const signature = String(req.headers[SUPPLIER_CALLBACK_HEADERS.signature] ?? '');
      if (!/^\d{1,15}$/.test(timestamp)) return fail(401, 'MISSING_TIMESTAMP', `${SUPPLIER_CALLBACK_HEADERS.timestamp} must be the Unix milliseconds the callback was signed at`);
      const expected = supplierCallbackSignature(deps.suppliers.callbackSecret(supplier), timestamp, body);
      if (!signatureMatches(expected, signature)) {
        return fail(401, 'BAD_SIGNATURE', `${SUPPLIER_CALLBACK_HEADERS.signature} must be hex HMAC-SHA256 of TIMESTAMP + "\\n" + body under the callback secret`);
      }
      const signedAt = Number(timestamp);
      if (Math.abs(now() - signedAt) > SUPPLIER_CALLBACK_WINDOW_MS) {
        log(`refused a ${supplier.code} callback signed at ${new Date(signedAt).toISOString()}, outside the ${SUPPLIER_CALLBACK_WINDOW_MS / 60_000}-minute window (a replay, or a clock off) from ${req.ip}`);
        return fail(401, 'STALE_TIMESTAMP', `${SUPPLIER_CALLBACK_HEADERS.timestamp} must be within ${SUPPLIER_CALLBACK_WINDOW_MS / 60_000} minutes of server time (server time ${now()})`);
      }
      let result: { requestId?: string; status?: string; supplierTxnId?: string; supplierOrderId?: string; failureReason?: string };
      try {
        result = JSON.parse(body.toString('utf8'));
      } catch {
        return fail(400, 'MALFORMED_JSON', 'body is not JSON');
      }
      if (typeof result.requestId !== 'string' || (result.status !== 'SUCCESS' && result.status !== 'FAILED')) {
        return fail(422, 'VALIDATION_ERROR', 'requestId and a final status (SUCCESS or FAILED) are required');
      }
      const txn = await transaction(deps.db, result.requestId);
      if (!txn || txn.supplier_id !== supplier.id) return fail(404, 'UNKNOWN_REQUEST', `no order of ours with request id ${result.requestId}`);
      const receipt = { supplierId: supplier.id, signature: signature.toLowerCase(), signedAt: new Date(signedAt), requestId: result.requestId };
      if (!(await claimCallback(deps.db, receipt))) {
        log(`refused a replayed ${supplier.code} callback for ${result.requestId} (signed at ${receipt.signedAt.toISOString()}) from ${req.ip}: accepted once already, nothing changed`);
        return fail(409, 'REPLAYED_CALLBACK', 'this signed callback was received already; sign a new one (new timestamp) to send a result again');
      }
      try {
        await recordResult(deps.db, result.requestId, {
          status: result.status === 'SUCCESS' ? 'success' : 'failed', supplierOrderId: result.supplierOrderId, supplierTxnId: result.supplierTxnId,
        });
        if (txn.order_id) {
          await deps.temporal.workflow.getHandle(topUpWorkflowId(txn.order_id)).signal(supplierResultSignal, {
            requestId: result.requestId, status: result.status, supplierTxnId: result.supplierTxnId, supplierOrderId: result.supplierOrderId, failureReason: result.failureReason,
          }).catch((err: Error) => {
            // the workflow has finished: a late or duplicate callback changes nothing
            if (err.name !== 'WorkflowNotFoundError') throw err;
          });
        }
      } catch (err) {
        // not processed: the supplier's retry of this same signed callback must be accepted
        await releaseCallback(deps.db, receipt.supplierId, receipt.signature).catch(() => undefined);
        throw err;
      }
      if (now() - prunedAt > SUPPLIER_CALLBACK_WINDOW_MS) {
        prunedAt = now();
        void pruneCallbackReceipts(deps.db, new Date(now() - 2 * SUPPLIER_CALLBACK_WINDOW_MS)).catch((err: Error) => log(`pruning callback receipts failed: ${err.message}`));
      }
      res.json({ ok: true });
    } catch (err) {
      callbackLog.error({ err, supplier: String(req.params.code) }, 'supplier callback failed');
      fail(500, 'INTERNAL', 'internal error; it has been logged');
    }
  });
  // A body over the limit or in an unknown encoding is refused by the parser, before the handler.
  router.use(jsonErrorHandler('supplier callback'));
  return router;
}
