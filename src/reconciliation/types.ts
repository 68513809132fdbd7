import type { BusinessDate } from '../dates.ts';

/** Where every statement line and every one of our supplier transactions ends up: exactly one of these. */
export const CLASSES = ['matched', 'amount_mismatch', 'status_mismatch', 'missing_at_supplier', 'missing_in_ours', 'duplicate_at_supplier', 'refund_at_supplier', 'processing_at_supplier'] as const;
export type DiscrepancyClass = (typeof CLASSES)[number];

/** Finance reads these: Chinese first, English second. */
export const CLASS_LABELS: Record<DiscrepancyClass, { zh: string; en: string }> = {
  matched: { zh: '已勾对', en: 'Matched' },
  amount_mismatch: { zh: '金额不符', en: 'Amount mismatch' },
  status_mismatch: { zh: '状态不符', en: 'Status mismatch' },
  missing_at_supplier: { zh: '供应商漏账', en: 'Missing at supplier' },
  missing_in_ours: { zh: '我方无记录', en: 'Missing in our records' },
  duplicate_at_supplier: { zh: '供应商重复', en: 'Duplicate at supplier' },
  refund_at_supplier: { zh: '供应商退款/冲正', en: 'Refund or reversal at supplier' },
  processing_at_supplier: { zh: '供应商处理中', en: 'Still processing at supplier' },
};

export interface ClassCount {
  items: number;
  lines: number;
  transactions: number;
  theirFen: number;
  ourFen: number;
}
export type ClassCounts = Partial<Record<DiscrepancyClass, ClassCount>>;

export const RESOLUTIONS = ['accept_supplier', 'accept_ours', 'write_off', 'carry_forward'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];
export type CaseState = 'open' | 'investigating' | 'resolved';
/** What a case list may be filtered on: a case's state, or 'unresolved' (open or investigating). */
export const CASE_FILTER_STATES = ['unresolved', 'open', 'investigating', 'resolved'] as const;
export type CaseFilterState = (typeof CASE_FILTER_STATES)[number];
export const CASE_STATE_LABELS: Record<CaseFilterState, { zh: string; en: string }> = {
  unresolved: { zh: '未解决', en: 'Unresolved' },
  open: { zh: '待处理', en: 'Open' },
  investigating: { zh: '调查中', en: 'Investigating' },
  resolved: { zh: '已解决', en: 'Resolved' },
};

export const RESOLUTION_LABELS: Record<Resolution | 'cleared' | 'matched_other_day', { zh: string; en: string }> = {
  accept_supplier: { zh: '以供应商为准', en: 'Accept supplier' },
  accept_ours: { zh: '以我方为准', en: 'Accept ours' },
  write_off: { zh: '核销', en: 'Write off' },
  carry_forward: { zh: '结转次日', en: 'Carry to next day' },
  cleared: { zh: '重跑后消除', en: 'Cleared on re-run' },
  matched_other_day: { zh: '跨日勾对', en: 'Matched on another day' },
};

export interface ReconSummary {
  runId: number;
  supplierCode: string;
  date: BusinessDate;
  statementId: number;
  /** The same file had been received before: recognised by its hash, not counted twice. */
  statementReused: boolean;
  lines: number;
  counts: ClassCounts;
  cases: { opened: number; stillOpen: number; cleared: number; matchedOtherDay: number };
  seconds: number;
  /** What the reader found beside the lines: preamble, footers, control-total mismatches. */
  findings?: { kind: string; line: number; message: string }[];
}

/** A run stopped because most of its lines are unknown to us: what it saw, against what the day holds. */
export interface SuspiciousEvidence {
  runId: number;
  lines: number;
  unknownLines: number;
  share: number;
  threshold: number;
  /** Business dates (Asia/Shanghai) of the file's lines, most first. */
  fileDates: { date: string; lines: number }[];
  sampleReferences: string[];
  /** The day as we hold it. */
  ourTransactions: number;
  ourSampleReferences: string[];
  /** The file's references we know under another supplier or another day. */
  knownElsewhere: { supplierCode: string; date: string | null; count: number }[];
}

export interface ReconCase {
  id: number;
  supplierId: number;
  supplierCode: string;
  businessDate: BusinessDate;
  class: DiscrepancyClass;
  supplierTxnId: string | null;
  requestIds: string[];
  lineNo: number | null;
  sku: string | null;
  ourFen: number;
  theirFen: number;
  deltaFen: number;
  note: string;
  state: CaseState;
  resolution: string | null;
  resolutionReason: string | null;
  resolvedBy: string | null;
  resolvedAt: Date | null;
  ledgerEntryId: number | null;
  carriedFrom: number | null;
  createdAt: Date;
}
