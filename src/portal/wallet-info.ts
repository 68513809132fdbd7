import type { ReceivingBank } from '../config.ts';
import { accountCode } from '../ledger/accounts.ts';
import type { Ledger } from '../ledger/ledger.ts';
import type { PortalActor } from './users.ts';

/** The ledger entry kinds the wallet page lists besides recharges: finance's adjustments and the monthly rebates. */
export const WALLET_MOVEMENT_KINDS = { wallet_adjustment: 'adjustment', rebate: 'rebate' } as const;

export interface WalletMovement {
  kind: 'adjustment' | 'rebate';
  businessDate: string;
  /** Signed, as the wallet reads it: a credit to the reseller is positive. */
  amountFen: number;
  /** An adjustment's reference (finance's), or a rebate's month. */
  reference: string;
  /** An adjustment's reason as finance wrote it (free text). */
  reason: string;
  /** A rebate's month net gross it was computed on. */
  netGrossFen: number | null;
}

/** How to pay: the platform's receiving account (a setting) and the reference to quote, the reseller's code (what the bank import matches on). */
export function howToPay(actor: PortalActor, bank: ReceivingBank) {
  return { ...bank, reference: actor.resellerCode };
}

/** The adjustments and rebates posted to the reseller's own wallet, newest first, from the ledger. */
export async function walletMovements(ledger: Ledger, actor: PortalActor, page: { limit: number; offset: number }): Promise<{ rows: WalletMovement[]; more: boolean }> {
  const { rows, more } = await ledger.accountEntries(accountCode.resellerWallet(actor.resellerId), Object.keys(WALLET_MOVEMENT_KINDS), page);
  return {
    rows: rows.map((e) => {
      const kind = WALLET_MOVEMENT_KINDS[e.kind as keyof typeof WALLET_MOVEMENT_KINDS];
      const reference = String(kind === 'rebate' ? e.metadata.month ?? '' : e.metadata.reference ?? '');
      // the adjustment's description is "钱包调整 wallet adjustment <reference>: <reason>" (ResellerRegistry.adjustWallet)
      const marker = `${reference}: `;
      const reason = kind === 'adjustment' && e.description.includes(marker) ? e.description.slice(e.description.indexOf(marker) + marker.length) : '';
      return { kind, businessDate: e.businessDate, amountFen: e.amountFen, reference, reason, netGrossFen: kind === 'rebate' && e.metadata.netGrossFen !== undefined ? Number(e.metadata.netGrossFen) : null };
    }),
    more,
  };
}
