import type { Client } from '@temporalio/client';
import type express from 'express';
import { DEFAULT_OPERATIONS, type AppConfig } from '../config.ts';
import { DemandWatch } from '../inventory/demand.ts';
import type { ActivityDeps } from '../runtime/deps.ts';
import { ComplaintService } from '../aftersales/complaints.ts';
import { OrderService } from '../orders/order-service.ts';
import { API_CSP, securityHeaders } from '../http/security-headers.ts';
import { RequestAuthenticator } from '../resellers/authenticate.ts';
import { resellerApi } from './reseller-api.ts';
import { supplierCallbacks } from './supplier-callbacks.ts';

/** The machine-facing HTTP surface: the signed reseller API and the supplier callback endpoint. */
export function mountApis(app: express.Express, deps: ActivityDeps, temporal: Client, taskQueues: { fulfillment: string; procurement: string }): OrderService {
  app.use(['/api/v1', '/callbacks/suppliers'], securityHeaders(API_CSP));
  const orderService = new OrderService({
    db: deps.db, ledger: deps.ledger, catalog: deps.catalog, vault: deps.vault, temporal, taskQueues,
    demand: (procure) => new DemandWatch(deps.db, (deps.operations ?? DEFAULT_OPERATIONS).stock, procure),
  });
  const complaints = new ComplaintService({
    db: deps.db, vault: deps.vault, temporal, taskQueue: taskQueues.fulfillment, windowHours: deps.settings.aftersales?.complaintWindowHours ?? 72,
  });
  app.use('/api/v1', resellerApi({ auth: new RequestAuthenticator(deps.db, deps.resellers), orders: orderService, complaints }));
  app.use('/callbacks/suppliers', supplierCallbacks({ db: deps.db, suppliers: deps.suppliers, temporal }));
  return orderService;
}

export const taskQueuesOf = (config: AppConfig) => ({ fulfillment: config.temporal.taskQueues.fulfillment, procurement: config.temporal.taskQueues.procurement });
