import { html, type SafeHtml } from './html.ts';
import type { Session } from '../src/users/users.ts';
import { translator, type Lang } from './i18n.ts';

export function layout(options: { lang: Lang; title: string; active: string; body: SafeHtml; path: string; session?: Session }): SafeHtml {
  const t = translator(options.lang);
  const other = options.lang === 'zh' ? 'en' : 'zh';
  return html`<!doctype html>
<html lang="${options.lang === 'zh' ? 'zh-CN' : 'en'}">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${options.title} · ${t('appName')}</title>
  <link rel="stylesheet" href="/assets/kameng.css">
  <script src="/assets/chart.umd.js"></script>
</head>
<body>
  <header>
    <strong>${t('appName')}</strong>
    ${options.session ? html`
    <a href="/" class="${options.active === 'overview' ? 'active' : ''}">${t('overview')}</a>
    <a href="/fulfillment" class="${options.active === 'fulfillment' ? 'active' : ''}">${t('fulfillment')}</a>
    <a href="/reconciliation" class="${options.active === 'reconciliation' ? 'active' : ''}">${t('reconciliation')}</a>
    <a href="/settlement" class="${options.active === 'settlement' ? 'active' : ''}">${t('settlement')}</a>
    <a href="/stock" class="${options.active === 'stock' ? 'active' : ''}">${t('stock')}</a>
    <a href="/routing" class="${options.active === 'routing' ? 'active' : ''}">${t('routingPage')}</a>
    <a href="/aftersales" class="${options.active === 'aftersales' ? 'active' : ''}">${t('aftersales')}</a>
    <a href="/audit" class="${options.active === 'audit' ? 'active' : ''}">${t('auditLog')}</a>
    <a href="/admin/suppliers" class="${options.active === 'admin' ? 'active' : ''}">${t('admin')}</a>
    <a href="/admin/resellers" class="${options.active === 'admin-resellers' ? 'active' : ''}">${t('adminNav')}</a>` : ''}
    <a class="lang" href="${options.path}${options.path.includes('?') ? '&' : '?'}lang=${other}">${other === 'en' ? 'English' : '中文'}</a>
    ${options.session ? html`<span class="user">${options.session.user.displayName} · ${t(`role_${options.session.user.role}`)}</span>
    <form method="post" action="/logout" class="inline"><input type="hidden" name="_csrf" value="${options.session.csrfToken}"><button type="submit">${t('logout')}</button></form>` : ''}
  </header>
  <main>${options.body}</main>
</body>
</html>`;
}
