import type { Request } from 'express';
import { html, type SafeHtml } from './html.ts';
import type { LabelKey } from './i18n.ts';

export interface Page { page: number; size: number; offset: number }

export function pageOf(req: Request, defaultSize = 50): Page {
  const page = Math.max(1, Number.parseInt(String(req.query.page ?? '1'), 10) || 1);
  const size = Math.min(500, Math.max(1, Number.parseInt(String(req.query.size ?? defaultSize), 10) || defaultSize));
  return { page, size, offset: (page - 1) * size };
}

export function pager(p: Page, total: number, basePath: string, t: (k: LabelKey) => string): SafeHtml {
  const pages = Math.max(1, Math.ceil(total / p.size));
  const link = (n: number) => `${basePath}?page=${n}&size=${p.size}`;
  return html`<div class="pager">
    ${p.page > 1 ? html`<a href="${link(p.page - 1)}">${t('previous')}</a>` : ''}
    <span>${t('page')} ${p.page} / ${pages} (${total})</span>
    ${p.page < pages ? html`<a href="${link(p.page + 1)}">${t('next')}</a>` : ''}
  </div>`;
}
