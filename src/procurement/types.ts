/** Shapes shared by the procurement workflow and its activities (types only). */

export interface ProcurementCandidate {
  supplierId: number;
  supplierCode: string;
  supplierSku: string;
  unitCostFen: number;
}

export interface ProcurementPlan {
  sku: string;
  quantity: number;
  candidates: ProcurementCandidate[];
}

export interface SupplierOrderState {
  requestId: string;
  supplierOrderId?: string;
  status: 'PROCESSING' | 'SUCCESS' | 'FAILED';
  supplierTxnId?: string;
  failureReason?: string;
}

export interface ProcurementResult {
  sku: string;
  supplierCode: string;
  requestId: string;
  batchId: number;
  /** Codes stocked. */
  imported: number;
  /** Codes of the delivery quarantined (and claimed back from the supplier). */
  quarantined?: number;
  /** What we owe the supplier for the delivery (stocked and quarantined codes). */
  totalCostFen: number;
}

export interface CardBatchReceipt {
  batchId: number;
  imported: number;
  quarantined: number;
  /** What we owe for the whole delivery. */
  totalCostFen: number;
}

export interface ProcurementFailure {
  supplierCode: string;
  requestId: string;
  reason: string;
}
