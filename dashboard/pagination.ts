import type { Request } from 'express';
import { html, type SafeHtml } from './html.ts';
import type { LabelKey } from './i18n.ts';

export interface Page {
  page: number;
  size: number;
  offset: number;
  /** The request's other query parameters (filters), kept by the pager's links. */
  keep: [string, string][];
}

// Not carried to the next page: the page itself, and one-off notices and language switches.
const DROPPED = new Set(['page', 'size', 'done', 'lang']);

export function pageOf(req: Request, defaultSize = 50): Page {
  const page = Math.max(1, Number.parseInt(String(req.query.page ?? '1'), 10) || 1);
  const size = Math.min(500, Math.max(1, Number.parseInt(String(req.query.size ?? defaultSize), 10) || defaultSize));
  const keep = Object.entries(req.query)
    .filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== '' && !DROPPED.has(e[0]));
  return { page, size, offset: (page - 1) * size, keep };
}

export function pager(p: Page, total: number, basePath: string, t: (k: LabelKey) => string): SafeHtml {
  const pages = Math.max(1, Math.ceil(total / p.size));
  const link = (n: number) => `${basePath}?${new URLSearchParams([...p.keep, ['page', String(n)], ['size', String(p.size)]]).toString()}`;
  return html`<div class="pager">
    ${p.page > 1 ? html`<a href="${link(p.page - 1)}">${t('previous')}</a>` : ''}
    <span>${t('page')} ${p.page} / ${pages} (${total})</span>
    ${p.page < pages ? html`<a href="${link(p.page + 1)}">${t('next')}</a>` : ''}
  </div>`;
}
