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
  imported: number;
  totalCostFen: number;
}

export interface ProcurementFailure {
  supplierCode: string;
  requestId: string;
  reason: string;
}
