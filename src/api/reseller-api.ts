import express, { type NextFunction, type Request, type Response } from 'express';
import { KamengError, NotFoundError, ValidationError } from '../errors.ts';
import { jsonErrorHandler } from '../http/request-errors.ts';
import { ApiAuthError } from '../resellers/errors.ts';
import type { Caller, RequestAuthenticator } from '../resellers/authenticate.ts';
import type { Reseller } from '../resellers/registry.ts';

/** What the API needs from the order side; implemented by src/orders. */
export interface ResellerOrderService {
  /** Claims the caller itself: inside the order's own statement where it can. */
  placeOrder(caller: Caller, request: unknown): Promise<{ order: unknown; replayed: boolean }>;
  getOrder(reseller: Reseller, resellerOrderId: string): Promise<unknown>;
  balance(reseller: Reseller): Promise<{ balanceFen: number; currency: string }>;
  listSkus(reseller: Reseller): Promise<unknown[]>;
}

/** After-sales (售后): what the API needs from src/aftersales. */
export interface ResellerComplaintService {
  file(reseller: Reseller, resellerOrderId: string, body: unknown): Promise<{ complaint: unknown; replayed: boolean }>;
  get(reseller: Reseller, complaintId: string): Promise<unknown>;
}

type AuthedRequest = Request & { caller?: Caller; reseller?: Reseller; rawBody?: Buffer };

/** HTTP status for each stable error code; anything unlisted that is a KamengError is a 400/422. */
const statusByCode: Record<string, number> = {
  MISSING_SIGNATURE: 401, UNKNOWN_API_KEY: 401, STALE_TIMESTAMP: 401, BAD_SIGNATURE: 401, REPLAYED_NONCE: 409,
  RESELLER_SUSPENDED: 403, IP_NOT_ALLOWED: 403, NOT_FOUND: 404, IDEMPOTENCY_CONFLICT: 409, INSUFFICIENT_FUNDS: 402,
  OUT_OF_STOCK: 409, UNKNOWN_SKU: 422, COMPLAINT_EXISTS: 409, VALIDATION_ERROR: 422, MALFORMED_JSON: 400,
};

/**
 * The signed reseller API, JSON over HTTP. Every request is authenticated from the raw bytes it
 * arrived as, before anything is parsed or written. Placing an order claims its nonce itself (in
 * the order's statement), every other endpoint here.
 */
export function resellerApi(deps: { auth: RequestAuthenticator; orders: ResellerOrderService; complaints?: ResellerComplaintService }): express.Router {
  const router = express.Router();
  router.use(express.raw({ type: () => true, limit: '64kb' }));
  router.use(async (req: AuthedRequest, _res, next) => {
    try {
      req.rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      req.caller = await deps.auth.verify({ method: req.method, path: req.originalUrl, headers: req.headers, rawBody: req.rawBody, remoteAddress: req.ip ?? req.socket.remoteAddress });
      if (!(req.method === 'POST' && /^\/orders\/?$/i.test(req.path))) req.reseller = await req.caller.claim();
      next();
    } catch (err) {
      next(err);
    }
  });

  const handle = (fn: (req: AuthedRequest, res: Response) => Promise<void>) => (req: Request, res: Response, next: NextFunction) => {
    fn(req as AuthedRequest, res).catch(next);
  };

  router.post('/orders', handle(async (req, res) => {
    const { order, replayed } = await deps.orders.placeOrder(req.caller!, await parsedBody(req.caller!, req.rawBody!));
    res.status(replayed ? 200 : 201).json({ order, replayed });
  }));
  router.get('/orders/:resellerOrderId', handle(async (req, res) => {
    res.json({ order: await deps.orders.getOrder(req.reseller!, String(req.params.resellerOrderId)) });
  }));
  if (deps.complaints) {
    const complaints = deps.complaints;
    router.post('/orders/:resellerOrderId/complaints', handle(async (req, res) => {
      const { complaint, replayed } = await complaints.file(req.reseller!, String(req.params.resellerOrderId), parseJson(req.rawBody!));
      res.status(replayed ? 200 : 201).json({ complaint, replayed });
    }));
    router.get('/complaints/:complaintId', handle(async (req, res) => {
      res.json({ complaint: await complaints.get(req.reseller!, String(req.params.complaintId)) });
    }));
  }
  router.get('/balance', handle(async (req, res) => {
    res.json(await deps.orders.balance(req.reseller!));
  }));
  router.get('/skus', handle(async (req, res) => {
    res.json({ skus: await deps.orders.listSkus(req.reseller!) });
  }));
  router.use((_req, _res, next) => next(new NotFoundError('API endpoint', _req.originalUrl)));

  router.use(jsonErrorHandler('reseller API', (err) => statusByCode[err.code] ?? (err instanceof ApiAuthError ? 401 : 422)));
  return router;
}

class MalformedJsonError extends KamengError {
  constructor(message: string) {
    super('MALFORMED_JSON', message);
  }
}

/** A body that cannot be read is refused only once the request is admitted: auth errors come first. */
async function parsedBody(caller: Caller, body: Buffer): Promise<unknown> {
  try {
    return parseJson(body);
  } catch (err) {
    await caller.claim();
    throw err;
  }
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0) throw new ValidationError('request body is empty; expected a JSON object');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new MalformedJsonError(`request body is not valid JSON: ${(err as Error).message}`);
  }
}
