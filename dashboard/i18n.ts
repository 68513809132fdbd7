import type { Request, Response } from 'express';

export type Lang = 'zh' | 'en';

const labels = {
  appName: { zh: '卡盟结算后台', en: 'Kameng back office' },
  overview: { zh: '总览', en: 'Overview' },
  ledger: { zh: '总账', en: 'Ledger' },
  system: { zh: '系统状态', en: 'System' },
  account: { zh: '账户', en: 'Account' },
  kind: { zh: '类型', en: 'Kind' },
  balance: { zh: '余额', en: 'Balance' },
  entries: { zh: '分录数', en: 'Entries' },
  postingsByDay: { zh: '每日记账金额（借方合计）', en: 'Daily posted amount (sum of debits)' },
  trialBalance: { zh: '试算平衡', en: 'Trial balance' },
  booksBalance: { zh: '借贷平衡', en: 'Books balance' },
  booksOff: { zh: '借贷不平', en: 'Books do NOT balance' },
  healthCheck: { zh: '健康检查工作流', en: 'Health-check workflow' },
  previous: { zh: '上一页', en: 'Previous' },
  next: { zh: '下一页', en: 'Next' },
  page: { zh: '页', en: 'Page' },
  noData: { zh: '暂无数据', en: 'No data yet' },
  stock: { zh: '供应商与库存', en: 'Suppliers and stock' },
  name: { zh: '名称', en: 'Name' },
  available: { zh: '可用', en: 'Available' },
  delivered: { zh: '已售', en: 'Delivered' },
  threshold: { zh: '补货阈值', en: 'Threshold' },
  lowStock: { zh: '库存不足', en: 'Low stock' },
  expiringQualifications: { zh: '30天内到期的资质', en: 'Qualifications expiring within 30 days' },
  supplier: { zh: '供应商', en: 'Supplier' },
  qualification: { zh: '资质', en: 'Qualification' },
  brand: { zh: '品牌', en: 'Brand' },
  expires: { zh: '到期日', en: 'Expires' },
  daysLeft: { zh: '剩余天数', en: 'Days left' },
  expired: { zh: '已过期', en: 'Expired' },
  businessLicence: { zh: '营业执照', en: 'Business licence' },
  brandAuthorisation: { zh: '品牌授权', en: 'Brand authorisation' },
  procurementRuns: { zh: '采购记录', en: 'Procurement runs' },
  quantity: { zh: '数量', en: 'Quantity' },
  status: { zh: '状态', en: 'Status' },
  cost: { zh: '成本', en: 'Cost' },
  startedAt: { zh: '开始时间', en: 'Started at' },
  settlement: { zh: '结算与付款', en: 'Settlement and payouts' },
  settledDays: { zh: '已结算日', en: 'Settled days' },
  settlementDate: { zh: '结算日', en: 'Settlement date' },
  statements: { zh: '对账单', en: 'Statements' },
  lines: { zh: '明细行', en: 'Lines' },
  lateLines: { zh: '补记行', en: 'Late lines' },
  settledBy: { zh: '结算人', en: 'Settled by' },
  reseller: { zh: '分销商', en: 'Reseller' },
  opening: { zh: '期初余额', en: 'Opening' },
  topups: { zh: '充值', en: 'Top-ups' },
  orders: { zh: '订单', en: 'Orders' },
  refunds: { zh: '退款', en: 'Refunds' },
  adjustments: { zh: '调整', en: 'Adjustments' },
  rebates: { zh: '返利', en: 'Rebates' },
  closing: { zh: '期末余额', en: 'Closing' },
  download: { zh: '下载', en: 'Download' },
  daySummary: { zh: '当日汇总表', en: 'Day summary workbook' },
  payoutBatches: { zh: '供应商付款批次', en: 'Supplier payout batches' },
  period: { zh: '期间', en: 'Period' },
  total: { zh: '合计', en: 'Total' },
  createdBy: { zh: '创建人', en: 'Created by' },
  approvedBy: { zh: '审批人', en: 'Approved by' },
  bankReference: { zh: '银行流水', en: 'Bank reference' },
  notSettledYet: { zh: '尚无已结算日：结算在每日 04:00 自动运行，或执行 kameng settle', en: 'No settled day yet: settlement runs daily at 04:00, or run kameng settle' },
} satisfies Record<string, Record<Lang, string>>;

export type LabelKey = keyof typeof labels;

export function translator(lang: Lang) {
  return (key: LabelKey) => labels[key][lang];
}

/** ?lang=en|zh switches and is remembered in a cookie; Chinese is the default. */
export function langOf(req: Request, res: Response): Lang {
  const asked = req.query.lang;
  if (asked === 'en' || asked === 'zh') {
    res.cookie('lang', asked, { httpOnly: true, sameSite: 'lax', maxAge: 365 * 24 * 3600 * 1000 });
    return asked;
  }
  return req.cookies?.lang === 'en' ? 'en' : 'zh';
}
