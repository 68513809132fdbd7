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
