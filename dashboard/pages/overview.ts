import type { Request, Response } from 'express';
import { addDays, businessDateOf } from '../../src/dates.ts';
import { displayYuan } from '../../src/money.ts';
import type { DashboardDeps } from '../app.ts';
import { sessionOf } from '../auth.ts';
import { html, jsonForScript } from '../html.ts';
import { langOf, translator } from '../i18n.ts';
import { layout } from '../layout.ts';
import { pageOf, pager } from '../pagination.ts';

export function overviewPage(deps: DashboardDeps) {
  return async (req: Request, res: Response) => {
    const lang = langOf(req, res);
    const t = translator(lang);
    const today = businessDateOf(new Date());
    const p = pageOf(req);
    const [accounts, daily, imbalance] = await Promise.all([
      deps.reports.trialBalance({ limit: p.size, offset: p.offset }),
      deps.reports.dailyDebits(addDays(today, -29), today),
      deps.reports.imbalance(),
    ]);
    const h = deps.health;
    const body = html`
      <section>
        <h2>${t('system')}</h2>
        <ul>${deps.infrastructure.map((line) => html`<li>${line}</li>`)}</ul>
        <p>${t('healthCheck')}: PostgreSQL ${h.postgres}, ${h.accounts} accounts, ${h.entries} entries, ${h.checkedAt}</p>
        <p class="${imbalance === 0 ? 'ok' : 'bad'}" id="books">${imbalance === 0 ? t('booksBalance') : `${t('booksOff')}: ${imbalance}`}</p>
      </section>
      <section>
        <h2>${t('postingsByDay')}</h2>
        ${daily.length === 0 ? html`<p>${t('noData')}</p>` : ''}
        <canvas id="daily" height="90"></canvas>
        <script>
          (function () {
            const data = ${jsonForScript(daily)};
            new Chart(document.getElementById('daily'), {
              type: 'bar',
              data: { labels: data.map(d => d.date), datasets: [{ label: 'CNY', data: data.map(d => d.debitsFen / 100), backgroundColor: '#3e7cb1' }] },
              options: { animation: false, plugins: { legend: { display: false } } }
            });
          })();
        </script>
      </section>
      <section>
        <h2>${t('trialBalance')}</h2>
        <table>
          <thead><tr><th>${t('account')}</th><th>${t('kind')}</th><th class="num">${t('balance')}</th></tr></thead>
          <tbody>${accounts.rows.map((a) => html`<tr>
            <td title="${a.code}">${a.name}</td>
            <td>${lang === 'zh' ? a.labelZh : a.labelEn}</td>
            <td class="num">${displayYuan(a.balance)}${a.currency === 'CNY' ? '' : ` ${a.currency}`}</td>
          </tr>`)}</tbody>
        </table>
        ${pager(p, accounts.total, '/', t)}
      </section>`;
    res.type('html').send(layout({ lang, title: t('overview'), active: 'overview', body, path: '/', session: sessionOf(res) }).value);
  };
}
