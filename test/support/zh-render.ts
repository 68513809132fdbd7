import { CASE_FILTER_STATES, CLASSES, RESOLUTIONS } from '../../src/reconciliation/types.ts';

/**
 * The dashboard's pages a zh render test visits (each must show no untranslated word). A new page
 * adds its route here; `:order` is replaced by an order id when the test has one.
 */
export const ZH_ROUTES = [
  '/',
  '/?by=supplier',
  '/fulfillment',
  '/fulfillment?status=stuck',
  '/fulfillment/:order',
  '/reconciliation',
  '/reconciliation?state=resolved',
  '/settlement',
  '/stock',
  '/audit',
];

/** The administration, after-sales and operations pages, rendered as an admin (who may see them all). */
export const ADMIN_ZH_ROUTES = [
  '/admin/suppliers',
  '/admin/skus',
  '/compliance',
  '/admin/resellers',
  '/finance/recharges',
  '/admin/users',
  '/aftersales',
  '/orders/search',
  '/routing',
];

/** Raw values of the code's enums and keys, which the zh UI must never show as they are. */
export const RAW_WORDS: string[] = [
  // orders, supplier transactions, recon runs, payouts, procurement, claims, cards, resellers
  'delivered', 'processing', 'stuck', 'succeeded', 'refunded', 'success', 'unknown',
  'running', 'completed', 'rejected', 'failed', 'draft', 'approved', 'paid', 'cancelled',
  'netted', 'withdrawn', 'available', 'void', 'suspended', 'pending', 'credited', 'reversed',
  ...CASE_FILTER_STATES, ...CLASSES, ...RESOLUTIONS,
  // ops actions and the top-up's activities
  'retry', 'switchSupplier', 'markSucceeded', 'refund',
  'planTopUp', 'placeTopUp', 'lookupTopUp', 'supplierRecord', 'applyOpsAction', 'recordResolvedWhileStuck', 'completeTopUp', 'refundTopUp', 'markStuck',
  'recordOpsAction', 'notifyReseller', 'opsAction', 'supplierResult',
  // audit action keys
  'order.retry', 'order.switchSupplier', 'order.markSucceeded', 'order.refund', 'order.resend_callback', 'order.resolved_by_supplier', 'order.failed_by_supplier',
  'recon.investigate', 'recon.run', 'recon.rejected', 'settlement.settle', 'payout.draft', 'payout.approve', 'payout.paid', 'payout.failed', 'payout.cancel',
  'rebate.award', 'wallet.adjust', 'user.save', 'user.enable', 'user.disable', 'login.lock', 'stock.import',
  ...RESOLUTIONS.map((r) => `recon.${r}`),
  // workflow history's English
  'workflow started', 'workflow completed', 'activity scheduled', 'durable timer',
];

/** What t() shows for a key it has no label for: the key itself, with its family's prefix. */
const FALLBACK_KEY = /\b(?:status|action|subject|activity|event|role)_[A-Za-z_.]+/g;

/**
 * The untranslated words a rendered zh page shows to a person: raw enum values and t()'s key
 * fallbacks, in the page's visible text (not in attributes, scripts, <code> details, or the
 * free text people typed, marked class="free-text").
 */
export function untranslated(page: string): string[] {
  return untranslatedInContext(page).map((f) => f.word).filter((w, i, all) => all.indexOf(w) === i).sort();
}

/** Each untranslated word with the text around it, to say where on the page it is. */
export function untranslatedInContext(page: string): { word: string; context: string }[] {
  const text = page
    .replace(/<script[\s\S]*?<\/script>/g, ' ')
    .replace(/<code>[\s\S]*?<\/code>/g, ' ')
    .replace(/<(td|span|p|small)[^>]*class="[^"]*free-text[^"]*"[^>]*>[\s\S]*?<\/\1>/g, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&quot;|&#39;|&amp;|&lt;|&gt;/g, ' ');
  const around = (index: number) => text.slice(Math.max(0, index - 60), index + 60).replace(/\s+/g, ' ');
  const found = [...text.matchAll(FALLBACK_KEY)].map((m) => ({ word: m[0], context: around(m.index) }));
  for (const word of RAW_WORDS) {
    const escaped = word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const m = new RegExp(`(^|[^A-Za-z_.])${escaped}($|[^A-Za-z_])`).exec(text);
    if (m) found.push({ word, context: around(m.index) });
  }
  return found;
}
