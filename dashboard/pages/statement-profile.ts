import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type express from 'express';
import type { Request, Response } from 'express';
import { isoShanghai } from '../../src/dates.ts';
import { type KamengError, NotFoundError, ValidationError } from '../../src/errors.ts';
import { declaredTooLarge, receiveBody } from '../../src/http/body-cap.ts';
import { BodyTooLargeError } from '../../src/http/request-errors.ts';
import { formatYuan } from '../../src/money.ts';
import { FIELD_LABELS, STATEMENT_FIELDS } from '../../src/reconciliation/statement/columns.ts';
import { formatProblem } from '../../src/reconciliation/statement/errors.ts';
import { DEFAULT_PROFILE, parseProfile, type StatementProfile } from '../../src/reconciliation/statement/profile.ts';
import { previewStatement, saveProfile, savedProfile, sourceOf, type Preview } from '../../src/reconciliation/statement/profiles.ts';
import { confirmSuspiciousStatement } from '../../src/reconciliation/trigger.ts';
import { actorOfRequest, csrfField, requirePermission, sessionOf } from '../auth.ts';
import type { DashboardDeps } from '../deps.ts';
import { html, jsonForScript } from '../html.ts';
import { langOf, translator } from '../i18n.ts';
import { layout } from '../layout.ts';

const SUPPLIER_CODE = /^[a-z0-9][a-z0-9_-]{1,39}$/;
const SAMPLE_ID = /^[0-9a-f-]{36}$/;

/**
 * A supplier's statement profile (issue 19), linked from its admin page: the profile as saved,
 * a sample statement to upload, the preview of its first 20 lines (the column each field came
 * from, problems, preamble and totals) by the saved or a draft profile, then save (audited).
 * Also the confirmation of a suspicious run, from the reconciliation page.
 */
export function mountStatementProfilePages(app: express.Express, deps: DashboardDeps): void {
  const base = '/admin/suppliers/:code/statement-profile';
  const samples = path.join(deps.config.reconciliation.archiveDir, 'profile-samples');

  const supplierOf = async (req: Request) => {
    const code = String(req.params.code ?? '');
    if (!SUPPLIER_CODE.test(code)) throw new NotFoundError('supplier', code);
    const row = await deps.db('suppliers').where({ code }).first('id', 'code', 'name', 'statement_columns');
    if (!row) throw new NotFoundError('supplier', code);
    return { id: Number(row.id), code: row.code as string, name: row.name as string, statementColumns: (row.statement_columns ?? {}) as Record<string, string[]> };
  };
  const samplePath = (code: string, id: unknown) => {
    if (typeof id !== 'string' || !SAMPLE_ID.test(id)) return undefined;
    return path.join(samples, code, id);
  };

  const render = async (req: Request, res: Response, draft?: { text: string; profile?: StatementProfile; error?: KamengError }) => {
    const lang = langOf(req, res);
    const t = translator(lang);
    const supplier = await supplierOf(req);
    const saved = await savedProfile(deps.db, supplier.id);
    const sampleId = typeof req.query.sample === 'string' ? req.query.sample : typeof req.body?.sample === 'string' ? req.body.sample : undefined;
    const sample = samplePath(supplier.code, sampleId);
    const profile = draft?.profile ?? (draft ? undefined : parseProfile(saved.profile, supplier.statementColumns));
    let preview: Preview | undefined;
    if (sample && profile) {
      const name = await fs.readFile(`${sample}.name`, 'utf8').catch(() => undefined);
      if (name !== undefined) preview = await previewStatement(sample, name, profile);
    }
    const text = draft?.text ?? JSON.stringify(saved.profile, null, 2);
    const fields = (draft?.error?.details?.fields ?? {}) as Record<string, string>;
    const canEdit = sessionOf(res)?.user.role === 'admin' || sessionOf(res)?.user.role === 'finance';
    const body = html`
      <h1>${t('statementProfile')}: ${supplier.code} ${supplier.name}</h1>
      <p>${saved.updatedBy ? html`${t('profileSavedBy')} ${saved.updatedBy}, ${isoShanghai(saved.updatedAt!)}` : t('profileDefaults')}</p>
      ${draft?.error ? html`<p class="bad">${draft.error.message}</p>` : ''}
      ${Object.keys(fields).length ? html`<ul class="bad">${Object.entries(fields).map(([f, m]) => html`<li><code>${f}</code>: ${m}</li>`)}</ul>` : ''}
      <section>
        <h2>${t('sampleStatement')}</h2>
        <form id="profile-sample" class="act" data-csrf="${sessionOf(res)?.csrfToken ?? ''}" data-action="/admin/suppliers/${supplier.code}/statement-profile/sample">
          <input type="file" name="file" required accept=".csv,.txt,.xlsx,.xls">
          <button type="submit">${t('uploadSample')}</button> <span id="profile-sample-result"></span>
        </form>
      </section>
      <section>
        <h2>${t('profileJson')}</h2>
        <form method="post" action="/admin/suppliers/${supplier.code}/statement-profile">
          ${csrfField(res)}
          ${sample ? html`<input type="hidden" name="sample" value="${sampleId}">` : ''}
          <textarea name="profile" rows="18" cols="90" spellcheck="false">${text}</textarea>
          <p class="help">${t('profileHelp')}</p>
          <button name="step" value="preview">${t('previewProfile')}</button>
          ${canEdit ? html`<button name="step" value="save">${t('saveProfile')}</button>` : ''}
        </form>
      </section>
      ${preview ? previewSection(preview, profile!, t) : ''}
      <script type="application/json" id="profile-defaults">${jsonForScript(DEFAULT_PROFILE)}</script>
      <script src="/assets/statement-profile.js" defer></script>`;
    res.send(layout({ lang, title: t('statementProfile'), active: 'reconciliation', body, path: req.originalUrl, session: sessionOf(res) }).toString());
  };

  app.get(base, async (req, res) => render(req, res));

  // preview by a draft, or save it: the draft's field errors are shown beside it, nothing saved
  app.post(base, requirePermission('reconciliation'), async (req, res) => {
    const supplier = await supplierOf(req);
    const text = String(req.body?.profile ?? '');
    let input: unknown;
    try {
      input = JSON.parse(text);
    } catch (err) {
      return render(req, res.status(422), { text, error: new ValidationError(`the profile is not JSON: ${(err as Error).message}`) });
    }
    let profile: StatementProfile;
    try {
      profile = parseProfile(input, supplier.statementColumns);
      if (req.body?.step === 'save') {
        await saveProfile(deps.db, actorOfRequest(res), supplier.code, input);
        const sample = typeof req.body?.sample === 'string' && SAMPLE_ID.test(req.body.sample) ? `?sample=${req.body.sample}&saved=1` : '?saved=1';
        return res.redirect(303, `/admin/suppliers/${supplier.code}/statement-profile${sample}`);
      }
    } catch (err) {
      if (err instanceof ValidationError) return render(req, res.status(422), { text, error: err });
      throw err;
    }
    return render(req, res, { text, profile });
  });

  // a sample statement: the raw body, capped, kept under the archive for the preview
  app.post(`${base}/sample`, requirePermission('reconciliation'), async (req, res) => {
    const supplier = await supplierOf(req);
    const name = typeof req.query.name === 'string' && req.query.name.length <= 200 && !/[\\/\u0000-\u001f]/.test(req.query.name) ? req.query.name : 'sample.csv';
    const limit = deps.config.dashboard.uploadMaxBytes;
    if (declaredTooLarge(req.get('content-length'), limit)) throw new BodyTooLargeError(limit);
    const dir = path.join(samples, supplier.code);
    await fs.mkdir(dir, { recursive: true });
    const id = randomUUID();
    await receiveBody(req, createWriteStream(path.join(dir, id)), limit);
    await fs.writeFile(path.join(dir, `${id}.name`), name);
    res.status(201).json({ location: `/admin/suppliers/${supplier.code}/statement-profile?sample=${id}`, message: `${name}: uploaded` });
  });

  // a run stopped as suspicious: finance confirms the file is the day's (audited), the workflow goes on
  app.post('/reconciliation/runs/:id/confirm', requirePermission('reconciliation'), async (req, res) => {
    const run = await deps.db('recon_runs as r').join('suppliers as s', 's.id', 'r.supplier_id').where('r.id', Number(req.params.id)).first('s.code', 'r.business_date');
    if (!run) throw new NotFoundError('run', String(req.params.id));
    const reason = String(req.body?.reason ?? '').trim();
    if (!reason) throw new ValidationError('reason: say why this file is the day\'s statement');
    const done = await confirmSuspiciousStatement(deps.client, deps.db, actorOfRequest(res), { supplierCode: run.code, date: run.business_date, reason });
    res.redirect(303, `/reconciliation?done=${encodeURIComponent(`${done.workflowId} confirmed`)}`);
  });
}

function previewSection(preview: Preview, profile: StatementProfile, t: ReturnType<typeof translator>) {
  const fields = STATEMENT_FIELDS.filter((f) => f !== 'completedDate' && f !== 'completedTime' && f !== 'kind');
  return html`
    <section id="preview">
      <h2>${t('previewLines')} (${preview.lines.length} / ${preview.totalLines})</h2>
      <p>${t('headerFound')}: ${preview.headerLine ? html`line ${preview.headerLine}${preview.encoding ? `, ${preview.encoding}` : ''}${preview.delimiter ? `, "${preview.delimiter === '\t' ? 'TAB' : preview.delimiter}"` : ''}` : '—'}</p>
      <table><thead><tr><th>${t('field')}</th><th>${t('fromColumn')}</th></tr></thead>
        <tbody>${STATEMENT_FIELDS.filter((f) => preview.columns[f] || !['completedDate', 'completedTime', 'completedAt'].includes(f) || (f === 'completedAt' && !preview.columns.completedDate)).map((f) => html`<tr><td>${FIELD_LABELS[f]}</td><td>${sourceOf(preview, f, profile)}</td></tr>`)}</tbody></table>
      <table class="preview"><thead><tr><th>#</th>${fields.map((f) => html`<th>${FIELD_LABELS[f]}<br><small>${sourceOf(preview, f, profile)}</small></th>`)}</tr></thead>
        <tbody>${preview.lines.map((l) => html`<tr><td>${l.line}</td><td>${l.supplierTxnId}</td><td>${l.merchantOrderNos.join(' | ')}</td><td>${l.sku}</td><td class="num">${l.quantity}</td><td class="num">${formatYuan(l.amountFen)}</td><td>${t(`lineStatus_${l.status}`)}</td><td>${isoShanghai(l.completedAt)}</td></tr>`)}</tbody></table>
      ${preview.findings.length ? html`<h3>${t('findings')}</h3><ul>${preview.findings.map((f) => html`<li class="${f.kind === 'control_total_mismatch' ? 'bad' : ''}">${t(`finding_${f.kind}`)} · line ${f.line}: ${f.message}</li>`)}</ul>` : ''}
      ${preview.totalProblems ? html`<h3 class="bad">${t('problems')} (${preview.totalProblems})</h3><ul class="bad">${preview.problems.slice(0, 50).map((p) => html`<li>${formatProblem(p)}</li>`)}</ul>` : html`<p>${t('noProblems')}</p>`}
    </section>`;
}
