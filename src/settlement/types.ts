import type { BusinessDate } from '../dates.ts';

/** One reseller's statement for one settled day (fen; adjustments and other are signed). */
export interface ResellerStatement {
  id: number;
  resellerId: number;
  resellerCode: string;
  resellerName: string;
  businessDate: BusinessDate;
  currency: string;
  openingFen: number;
  topupsFen: number;
  ordersCount: number;
  ordersGrossFen: number;
  refundsFen: number;
  adjustmentsFen: number;
  rebatesFen: number;
  otherFen: number;
  creditsFen: number;
  debitsFen: number;
  closingFen: number;
  lines: number;
  lateLines: number;
}

export interface SettledDay {
  date: BusinessDate;
  statements: number;
  lines: number;
  lateLines: number;
  settledAt: string;
  settledBy: string;
  /** false when the day was already settled and this returned it unchanged. */
  created: boolean;
}
