import type { Request, Response } from 'express';
import type { DashboardDeps } from '../deps.ts';
import { sessionOf } from '../auth.ts';
import { html } from '../html.ts';
import { langOf, translator } from '../i18n.ts';
import { actionWord, subjectWord, when } from '../words.ts';
import { layout } from '../layout.ts';
import { pageOf, pager } from '../pagination.ts';

/** Every ops and finance action: who, what, on which thing, when and why; filtered and paginated. */
export function auditPage(deps: DashboardDeps) {
  return async (req: Request, res: Response) => {
    const lang = langOf(req, res);
    const t = translator(lang);
    const p = pageOf(req, 50);
    const actor = typeof req.query.actor === 'string' && req.query.actor ? req.query.actor : undefined;
    const subject = typeof req.query.subject === 'string' && req.query.subject ? req.query.subject : undefined;
    const query = deps.db('audit_log')
      .modify((q) => { if (actor) q.where({ actor }); if (subject) q.where({ subject_type: subject }); });
    const [rows, counted] = await Promise.all([
      query.clone().orderBy('id', 'desc').limit(p.size).offset(p.offset),
      query.clone().count<{ n: number }[]>('* as n'),
    ]);
    const body = html`<section>
      <h2>${t('auditLog')}</h2>
      <form method="get" action="/audit" class="act">
        <input name="actor" placeholder="${t('actor')}" value="${actor ?? ''}">
        <select name="subject"><option value="">${t('all')}</option>${['order', 'recon_case', 'recon_run', 'payout_batch', 'reseller', 'settlement_day', 'rebate_month', 'user', 'card_batch', 'login'].map((s) => html`<option value="${s}" ${s === subject ? 'selected' : ''}>${subjectWord(t, s)}</option>`)}</select>
        <button>${t('filter')}</button>
      </form>
      <table><thead><tr><th>${t('at')}</th><th>${t('actor')}</th><th>${t('action')}</th><th>${t('subject')}</th><th>${t('reason')}</th><th>${t('details')}</th></tr></thead>
      <tbody>${rows.map((r: Record<string, any>) => html`<tr data-action="${r.action}"><td>${when(r.at)}</td><td>${r.actor}${r.actor_user_id ? html` <small>#${r.actor_user_id}</small>` : ''}</td><td>${actionWord(t, r.action)}</td><td>${subjectWord(t, r.subject_type)} #${r.subject_id}</td><td class="free-text">${r.reason}</td><td><code>${JSON.stringify(r.details)}</code></td></tr>`)}</tbody></table>
      ${pager(p, Number(counted[0]?.n ?? 0), '/audit', t)}
    </section>`;
    res.type('html').send(layout({ lang, title: t('auditLog'), active: 'audit', body, path: '/audit', session: sessionOf(res) }).value);
  };
}
