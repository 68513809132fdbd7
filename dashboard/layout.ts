import { html, SafeHtml } from './html.ts';
import type { Session } from '../src/users/users.ts';
import { translator, type Lang } from './i18n.ts';

const style = `
  body { font-family: system-ui, "PingFang SC", "Microsoft YaHei", sans-serif; margin: 0; color: #1f2933; background: #f5f7fa; }
  header { background: #1f2933; color: #fff; padding: 0.6rem 1.2rem; display: flex; gap: 1.5rem; align-items: center; }
  header a { color: #cbd2d9; text-decoration: none; } header a.active, header a:hover { color: #fff; }
  header .lang { margin-left: auto; }
  main { padding: 1.2rem; max-width: 1200px; margin: 0 auto; }
  section { background: #fff; border-radius: 6px; padding: 1rem 1.2rem; margin-bottom: 1rem; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
  table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #e4e7eb; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  .ok { color: #0b7a3e; } .bad { color: #b42318; font-weight: 600; }
  .pager { margin-top: .6rem; display: flex; gap: 1rem; }
  form.inline { display: inline; margin: 0; } header .user { color: #cbd2d9; }
  form.act { display: flex; gap: .4rem; flex-wrap: wrap; align-items: center; margin: 0; }
  input, select, button { font: inherit; padding: .2rem .4rem; } .notice { background: #e3f8ec; padding: .5rem 1rem; border-radius: 4px; }
  .error { background: #fde8e8; padding: .5rem 1rem; border-radius: 4px; }
`;

export function layout(options: { lang: Lang; title: string; active: string; body: SafeHtml; path: string; session?: Session }): SafeHtml {
  const t = translator(options.lang);
  const other = options.lang === 'zh' ? 'en' : 'zh';
  return html`<!doctype html>
<html lang="${options.lang === 'zh' ? 'zh-CN' : 'en'}">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${options.title} · ${t('appName')}</title>
  <style>${new SafeHtml(style)}</style>
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
    <a href="/audit" class="${options.active === 'audit' ? 'active' : ''}">${t('auditLog')}</a>` : ''}
    <a class="lang" href="${options.path}${options.path.includes('?') ? '&' : '?'}lang=${other}">${other === 'en' ? 'English' : '中文'}</a>
    ${options.session ? html`<span class="user">${options.session.user.displayName} · ${t(`role_${options.session.user.role}`)}</span>
    <form method="post" action="/logout" class="inline"><input type="hidden" name="_csrf" value="${options.session.csrfToken}"><button type="submit">${t('logout')}</button></form>` : ''}
  </header>
  <main>${options.body}</main>
</body>
</html>`;
}
