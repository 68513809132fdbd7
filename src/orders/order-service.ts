import { createHash } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import type { ResellerOrderService } from '../api/reseller-api.ts';
import type { Catalog, ResellerPrice, Sku } from '../catalog/catalog.ts';
import { businessDateOf } from '../dates.ts';
import type { Db } from '../db/knex.ts';
import { KamengError, NotFoundError, ValidationError } from '../errors.ts';
import type { CodeVault } from '../inventory/codes.ts';
import type { DemandWatch } from '../inventory/demand.ts';
import { OutOfStockError } from '../inventory/errors.ts';
import { availableCodes, codesForOrder } from '../inventory/stock.ts';
import { accountCode } from '../ledger/accounts.ts';
import { ledgerErrorFrom } from '../ledger/errors.ts';
import { sqlPart } from '../db/sql-part.ts';
import type { Ledger } from '../ledger/ledger.ts';
import { topUpWorkflowId } from '../../workflows/fulfill-topup.ts';
import { procurementWorkflowId } from '../../workflows/procurement.ts';
import type { Caller } from '../resellers/authenticate.ts';
import type { Reseller } from '../resellers/registry.ts';
import { formatYuan } from '../money.ts';
import { topUpBooks } from '../fulfillment/postings.ts';
import { orders, type Order } from './orders.ts';
import { addLogContext, logger } from '../observability/log.ts';
import { ordersPlaced } from '../observability/metrics.ts';

const log = logger('orders');

export class OrderConflictError extends KamengError {
  constructor(resellerOrderId: string) {
    super('IDEMPOTENCY_CONFLICT', `order id ${resellerOrderId} was already used for a different order (other SKU, quantity or account)`, { details: { resellerOrderId } });
  }
}

const RESELLER_ORDER_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

const orderRequest = z.object({
  resellerOrderId: z.string().regex(RESELLER_ORDER_ID, 'must be 1-64 letters, digits, _ . : or -'),
  sku: z.string().min(1).max(40),
  quantity: z.number().int().min(1).max(100).default(1),
  account: z.string().regex(/^[0-9A-Za-z_@.-]{3,40}$/, 'must be a phone number or game account of 3-40 characters').optional(),
}).strict();

export type OrderRequest = z.infer<typeof orderRequest>;

export interface OrderServiceDeps {
  db: Db;
  ledger: Ledger;
  catalog: Catalog;
  vault: CodeVault;
  temporal: Client;
  taskQueues: { fulfillment: string; procurement: string };
  /** Demand-driven reordering (src/inventory/demand.ts): told of each card sale and each refusal out of stock. */
  demand?: (procure: (sku: string) => Promise<void>) => DemandWatch;
}

/**
 * Orders from resellers. A card order is charged and its codes allocated in one transaction, so a
 * code is delivered at most once and never without the charge. A top-up holds the money, then a
 * fulfillment workflow takes over. The reseller's own order id makes a repeat return the original.
 */
export class OrderService implements ResellerOrderService {
  private readonly demand: DemandWatch | undefined;

  constructor(private readonly deps: OrderServiceDeps) {
    this.demand = deps.demand?.((sku) => this.wakeProcurement(sku));
  }

  /**
   * A card order of a SKU known to be one is claimed, priced, placed, delivered and posted in one
   * statement. Whatever that statement could not do, and every other order, goes step by step, which
   * also says why: auth errors first, then the request, the SKU, a repeat, stock.
   */
  async placeOrder(caller: Caller, body: unknown): Promise<{ order: unknown; replayed: boolean }> {
    // counted by kind and outcome (kameng_orders_total); a refusal by its code
    const asked = (body as { account?: unknown } | null)?.account ? 'direct_topup' : 'card_code';
    try {
      const placed = await this.place(caller, body);
      const order = placed.order as { kind?: string; orderNo?: number };
      addLogContext({ orderId: order.orderNo });
      ordersPlaced.inc({ kind: order.kind ?? asked, outcome: placed.replayed ? 'replayed' : 'placed' });
      return placed;
    } catch (err) {
      ordersPlaced.inc({ kind: asked, outcome: err instanceof KamengError ? err.code : 'error' });
      throw err;
    }
  }

  private async place(caller: Caller, body: unknown): Promise<{ order: unknown; replayed: boolean }> {
    const parsed = orderRequest.safeParse(body);
    if (!parsed.success) {
      await caller.claim();
      throw new ValidationError(parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    }
    const request = parsed.data;
    const requestHash = createHash('sha256').update(JSON.stringify([request.sku, request.quantity, request.account ?? null])).digest('hex');
    if (!request.account && (await this.deps.catalog.kindOf(request.sku)) === 'card_code') {
      const placed = await this.placeCardOrder(caller, request, requestHash);
      if ('order' in placed) return placed;
      return this.placeStepByStep(await caller.claimedBy(placed.nonceFresh), caller, request, requestHash);
    }
    return this.placeStepByStep(await caller.claim(), caller, request, requestHash);
  }

  private async placeStepByStep(reseller: Reseller, caller: Caller, request: OrderRequest, requestHash: string): Promise<{ order: unknown; replayed: boolean }> {
    // No look-up first: the unique (reseller, order id) insert finds a repeat. Only an unknown SKU
    // asks whether this is a repeat of an order placed when the SKU existed.
    let sku: Sku;
    let price: ResellerPrice;
    try {
      ({ sku, price } = await this.deps.catalog.skuWithPrice(request.sku, { tier: reseller.tier, resellerId: reseller.id }));
    } catch (err) {
      const existing = await orders.byResellerOrderId(this.deps.db, reseller.id, request.resellerOrderId);
      if (!existing) throw err;
      return this.replay(existing, requestHash);
    }
    if (!sku.active) throw new ValidationError(`SKU ${sku.code} is not on sale`);
    if (sku.kind === 'direct_topup' && (!request.account || request.quantity !== 1)) {
      throw new ValidationError(`SKU ${sku.code} is a direct top-up: it needs an account and a quantity of 1`);
    }
    if (sku.kind === 'card_code' && request.account) throw new ValidationError(`SKU ${sku.code} is a card code: it takes no account`);

    if (sku.kind === 'card_code') {
      const placed = await this.placeCardOrder(caller, request, requestHash);
      if ('order' in placed) return placed;
      const existing = await orders.byResellerOrderId(this.deps.db, reseller.id, request.resellerOrderId);
      if (existing) return this.replay(existing, requestHash);
      // recorded as unserved demand; procurement woken (at most once a second per SKU when watched)
      if (this.demand) await this.demand.outOfStock(sku.code, request.quantity, sku.procurementBatch > 0);
      else if (sku.procurementBatch > 0) void this.wakeProcurement(sku.code);
      throw new OutOfStockError(sku.code, request.quantity, await availableCodes(this.deps.db, sku.code));
    }

    const amountFen = price.priceFen * request.quantity;
    const common = {
      resellerId: reseller.id, resellerOrderId: request.resellerOrderId, requestHash, sku: sku.code, kind: sku.kind, quantity: request.quantity,
      account: request.account ?? null, unitPriceFen: price.priceFen, amountFen, priceVersionId: price.priceVersionId, businessDate: businessDateOf(new Date()),
    };
    const { order, created } = await this.deps.db.transaction(async (trx) => {
      const placed = await orders.insertOnce(trx, { ...common, status: 'processing' });
      if (!placed.created) return placed;
      await this.deps.ledger.post(topUpBooks.hold(placed.order, common.businessDate), trx);
      return placed;
    });
    if (!created) return this.replay(order, requestHash);
    await this.ensureFulfillmentStarted(order);
    return { order: await this.view(order), replayed: false };
  }

  /** The one-statement card order; without an order, whether the caller's nonce was fresh. */
  private async placeCardOrder(caller: Caller, request: OrderRequest, requestHash: string): Promise<{ order: unknown; replayed: false } | { nonceFresh: boolean }> {
    const wallet = accountCode.resellerWallet(caller.resellerId);
    // one business date for the order and its sale, even a moment before midnight
    const businessDate = businessDateOf(new Date());
    // the sale as SQL over the order's row: priced by the statement, costed by the codes it takes
    const sale = this.deps.ledger.postingCall({
      key: sqlPart("'order:' || p.id"), kind: 'order_sale', businessDate,
      description: `卡密销售 card sale ${request.quantity} × ${request.sku}`,
      metadata: sqlPart("jsonb_build_object('orderId', p.id, 'resellerId', p.reseller_id, 'sku', p.sku_code)"),
      postings: [
        { account: wallet, amount: sqlPart('p.amount_fen') }, { account: accountCode.platform('revenue'), amount: sqlPart('-p.amount_fen') },
        { account: accountCode.platform('cost_of_goods'), amount: sqlPart('p.cost_fen') }, { account: accountCode.platform('inventory'), amount: sqlPart('-p.cost_fen') },
      ],
    });
    const placed = await orders.placeCardOrder(this.deps.db, {
      resellerOrderId: request.resellerOrderId, requestHash, sku: request.sku, quantity: request.quantity, businessDate,
    }, { claim: caller.claimCtes(), price: this.deps.catalog.priceCte(request.sku), sale }).catch(async (err) => {
      // The failed statement took its claim with it: the nonce is spent all the same (a replay of a
      // refused order must not get a second try), and a replayed nonce is the answer if it was one.
      await caller.claim();
      throw ledgerErrorFrom(err) ?? err;
    });
    if (!placed.order) return { nonceFresh: placed.nonceFresh };
    this.demand?.afterSale(request.sku);
    const codes = placed.codes.map((c) => ({ serial: c.serial, code: this.deps.vault.open(c.code_sealed), expiresOn: c.expires_on }));
    return { order: await this.view(placed.order, codes), replayed: false };
  }

  async getOrder(reseller: Reseller, resellerOrderId: string): Promise<unknown> {
    // no order can have an id of another form (and PostgreSQL refuses some, such as NUL, outright)
    const order = RESELLER_ORDER_ID.test(resellerOrderId) ? await orders.byResellerOrderId(this.deps.db, reseller.id, resellerOrderId) : undefined;
    if (!order) throw new NotFoundError('order', resellerOrderId);
    return this.view(order);
  }

  async balance(reseller: Reseller) {
    return { balanceFen: await this.deps.ledger.balance(accountCode.resellerWallet(reseller.id)), currency: 'CNY' };
  }

  async listSkus(reseller: Reseller) {
    return (await this.deps.catalog.listForReseller({ tier: reseller.tier, resellerId: reseller.id })).map((s) => ({
      sku: s.code, name: s.nameZh, nameEn: s.nameEn, kind: s.kind, faceValueFen: s.faceValueFen, priceFen: s.priceFen, price: formatYuan(s.priceFen),
    }));
  }

  private async replay(order: Order, requestHash: string) {
    if (order.requestHash !== requestHash) throw new OrderConflictError(order.resellerOrderId);
    // A crash between the charge and the workflow start must not strand a top-up: start it now.
    if (order.kind === 'direct_topup' && order.status === 'processing') await this.ensureFulfillmentStarted(order);
    return { order: await this.view(order), replayed: true };
  }

  private async ensureFulfillmentStarted(order: Order): Promise<void> {
    try {
      await this.deps.temporal.workflow.start('fulfillTopUp', {
        workflowId: topUpWorkflowId(order.id), taskQueue: this.deps.taskQueues.fulfillment, args: [{ orderId: order.id }],
      });
    } catch (err) {
      if ((err as Error).name !== 'WorkflowExecutionAlreadyStartedError') throw err;
    }
  }

  private async wakeProcurement(sku: string): Promise<void> {
    try {
      await this.deps.temporal.workflow.start('procureStock', {
        workflowId: procurementWorkflowId(sku), taskQueue: this.deps.taskQueues.procurement, args: [{ sku, reason: 'low_stock' }],
      });
    } catch (err) {
      if ((err as Error).name !== 'WorkflowExecutionAlreadyStartedError') log.error({ err, sku }, 'could not start procurement');
    }
  }

  /** What the reseller sees of its order; card codes only ever in answers to their owner. */
  private async view(order: Order, codes?: { serial: string; code: string; expiresOn: string | null }[]) {
    return {
      orderNo: order.id, resellerOrderId: order.resellerOrderId, sku: order.sku, kind: order.kind, quantity: order.quantity,
      account: order.account ?? undefined, unitPriceFen: order.unitPriceFen, amountFen: order.amountFen,
      status: order.status, createdAt: order.createdAt, completedAt: order.completedAt ?? undefined,
      codes: order.kind === 'card_code' ? codes ?? (await codesForOrder(this.deps.db, this.deps.vault, order.id)) : undefined,
    };
  }
}
