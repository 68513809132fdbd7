import { createHmac } from 'node:crypto';
import type { Client } from '@temporalio/client';
import express, { type Request, type Response } from 'express';
import type { Db } from '../db/knex.ts';
import { signatureMatches } from '../resellers/signature.ts';
import { jsonErrorHandler } from '../http/request-errors.ts';
import { recordResult, transaction } from '../supplier-api/transactions.ts';
import type { SupplierRegistry } from '../suppliers/registry.ts';

/**
 * Where suppliers report results: POST /callbacks/suppliers/:code, signed with the supplier's
 * callback secret. The result is recorded and signalled to the order's workflow. Duplicate and
 * late callbacks are harmless: the workflow keeps the first result per request id.
 */
export function supplierCallbacks(deps: { db: Db; suppliers: SupplierRegistry; temporal: Client }): express.Router {
  const router = express.Router();
  router.post('/:code', express.raw({ type: () => true, limit: '16kb' }), async (req: Request, res: Response) => {
    const fail = (status: number, code: string, message: string) => res.status(status).json({ error: { code, message } });
    try {
      const supplier = await deps.suppliers.byCode(String(req.params.code)).catch(() => undefined);
      if (!supplier) return fail(404, 'UNKNOWN_SUPPLIER', `no supplier ${req.params.code}`);
      const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const expected = createHmac('sha256', supplier.callbackSecret).update(body).digest('hex');
      if (!signatureMatches(expected, String(req.headers['x-signature'] ?? ''))) return fail(401, 'BAD_SIGNATURE', 'x-signature does not match the body');
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
      await recordResult(deps.db, result.requestId, {
        status: result.status === 'SUCCESS' ? 'success' : 'failed', supplierOrderId: result.supplierOrderId, supplierTxnId: result.supplierTxnId,
      });
      if (txn.order_id) {
        await deps.temporal.workflow.getHandle(`topup-${txn.order_id}`).signal('supplierResult', {
          requestId: result.requestId, status: result.status, supplierTxnId: result.supplierTxnId, supplierOrderId: result.supplierOrderId, failureReason: result.failureReason,
        }).catch((err: Error) => {
          // the workflow has finished: a late or duplicate callback changes nothing
          if (err.name !== 'WorkflowNotFoundError') throw err;
        });
      }
      res.json({ ok: true });
    } catch (err) {
      console.error('supplier callback failed:', err);
      fail(500, 'INTERNAL', 'internal error; it has been logged');
    }
  });
  // A body over the limit or in an unknown encoding is refused by the parser, before the handler.
  router.use(jsonErrorHandler('supplier callback'));
  return router;
}
