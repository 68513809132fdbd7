import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Request, Response } from 'express';
import { assertBusinessDate } from '../../src/dates.ts';
import { ValidationError } from '../../src/errors.ts';
import { declaredTooLarge, receiveBody } from '../../src/http/body-cap.ts';
import { BodyTooLargeError } from '../../src/http/request-errors.ts';
import { displayYuan } from '../../src/money.ts';
import { ReconCases, type CaseFilter } from '../../src/reconciliation/cases.ts';
import { exportDiscrepancies } from '../../src/reconciliation/export.ts';
import { startReconciliation } from '../../src/reconciliation/trigger.ts';
import { CASE_FILTER_STATES, CLASSES, CLASS_LABELS, RESOLUTIONS, RESOLUTION_LABELS, type CaseFilterState, type DiscrepancyClass, type Resolution } from '../../src/reconciliation/types.ts';
import { statusWord, when } from '../words.ts';
import type { DashboardDeps } from '../deps.ts';
import { actorOfRequest, can, csrfField, sessionOf } from '../auth.ts';
import { html } from '../html.ts';
import { langOf, translator, type Lang } from '../i18n.ts';
import { layout } from '../layout.ts';
import { pageOf, pager } from '../pagination.ts';
import { temporalLink } from '../temporal-link.ts';

const SUPPLIER_CODE = /^[a-z0-9][a-z0-9_-]{1,39}$/;

function supplierCodeOf(value: unknown): string {
  if (typeof value !== 'string' || !SUPPLIER_CODE.test(value)) throw new ValidationError('supplier: a supplier code (lower-case letters, digits, "_" or "-")');
  return value;
}

/** The sender's file name, kept as a label (and its extension says xlsx or csv): a plain name, not a path. */
function uploadNameOf(value: unknown): string {
  const name = typeof value === 'string' ? value : 'statement.csv';
  if (name.length > 200 || /[\\/\u0000-\u001f]/.test(name) || /^\.*$/.test(name)) {
    throw new ValidationError('name: the statement file\'s own name (not a path), up to 200 characters');
  }
  return name;
}

function filterOf(req: Request): CaseFilter {
  const q = req.query;
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const cls = str(q.class);
  if (cls && !CLASSES.includes(cls as DiscrepancyClass)) throw new ValidationError(`class must be one of ${CLASSES.join(', ')}`);
  const state = str(q.state) ?? 'unresolved';
  if (!CASE_FILTER_STATES.includes(state as CaseFilterState)) throw new ValidationError(`state must be one of ${CASE_FILTER_STATES.join(', ')}`);
  return { supplierCode: str(q.supplier), date: q.date ? assertBusinessDate(String(q.date), 'date') : undefined, state: state as CaseFilter['state'], class: cls as DiscrepancyClass | undefined };
}

const label = (l: { zh: string; en: string }, lang: Lang) => (lang === 'zh' ? l.zh : l.en);
const resolutionWord = (r: string, lang: Lang) => (r in RESOLUTION_LABELS ? label(RESOLUTION_LABELS[r as keyof typeof RESOLUTION_LABELS], lang) : r);

/** A run's count of a class: the run stores `{ classes: { matched: { items, ... } }, cases }`. */
export function classCount(counts: unknown, c: DiscrepancyClass): number | '' {
  const classes = (counts as { classes?: Record<string, { items?: number }> } | null)?.classes;
  return classes?.[c]?.items ?? (classes ? 0 : '');
}

/** The notice after an action, in the page's words: "case:12:write_off" -> "#12 核销". */
function doneNotice(done: string, t: ReturnType<typeof translator>, lang: Lang): string {
  const resolved = /^case:(\d+):(\w+)$/.exec(done);
  if (resolved) return `#${resolved[1]} ${resolutionWord(resolved[2]!, lang)}`;
  const cancelled = /^cancelled:(.+)$/.exec(done);
  if (cancelled) return `${cancelled[1]} ${t('cancelled')}`;
  return done;
}

/** Reconciliation: runs with counts per class, discrepancy cases to resolve, statement upload, export. */
export function reconciliationPages(deps: DashboardDeps) {
  const cases = new ReconCases(deps.db, deps.ledger);
  return {
    page: async (req: Request, res: Response) => {
      const lang = langOf(req, res);
      const t = translator(lang);
      const p = pageOf(req, 50);
      const filter = filterOf(req);
      const [runs, list, suppliers] = await Promise.all([
        deps.db('recon_runs as r').join('suppliers as s', 's.id', 'r.supplier_id').orderBy('r.id', 'desc').limit(15)
          .select('r.id', 's.code as supplier', 'r.business_date', 'r.status', 'r.lines_read', 'r.counts', 'r.is_current', 'r.triggered_by', 'r.error', 'r.workflow_id', 'r.findings'),
        cases.list({ ...filter, page: p.page, pageSize: p.size }),
        deps.db('suppliers').orderBy('code').select('code', 'name'),
      ]);
      const finance = can(sessionOf(res), 'reconciliation');
      const waiting = await waitingFetches(deps);
      const uploadFor = { supplier: typeof req.query.upload === 'string' ? req.query.upload : '', date: typeof req.query.uploadDate === 'string' ? req.query.uploadDate : '' };
      const query = new URLSearchParams(Object.entries({ supplier: filter.supplierCode ?? '', date: filter.date ?? '', state: String(filter.state ?? ''), class: filter.class ?? '' }).filter(([, v]) => v));
      const body = html`
        ${req.query.done ? html`<p class="notice">${t('done')}: ${doneNotice(String(req.query.done), t, lang)}</p>` : ''}
        ${finance ? html`<section>
          <h2>${t('uploadStatement')}</h2>
          <form id="upload" class="act" data-csrf="${sessionOf(res)?.csrfToken ?? ''}">
            <select name="supplier">${suppliers.map((s) => html`<option value="${s.code}" ${s.code === uploadFor.supplier ? 'selected' : ''}>${s.code} ${s.name}</option>`)}</select>
            <input type="date" name="date" required value="${uploadFor.date}">
            <input type="file" name="file" required accept=".csv,.xlsx">
            <button type="submit">${t('uploadStatement')}</button>
            <progress id="upload-progress" value="0" max="100" hidden></progress> <span id="upload-result"></span>
          </form>
          <script src="/assets/reconciliation-upload.js" defer></script>
        </section>` : ''}
        ${waiting.length ? html`<section id="waiting">
          <h2>${t('waitingStatement')}</h2>
          <table><thead><tr><th>${t('supplier')}</th><th>${t('date')}</th><th>${t('workflow')}</th><th>${t('since')}</th><th></th></tr></thead>
          <tbody>${waiting.map((w) => html`<tr><td>${w.supplier}</td><td>${w.date}</td><td>${w.workflowId} ${temporalLink(deps.config, w.workflowId, t('temporalUi'))}</td><td>${w.since}</td>
            <td>${finance ? html`<a href="/reconciliation?upload=${w.supplier}&uploadDate=${w.date}#upload">${t('uploadNow')}</a>
              <form method="post" action="/reconciliation/waiting/cancel" class="inline">${csrfField(res)}<input type="hidden" name="workflowId" value="${w.workflowId}"><button>${t('cancel')}</button></form>` : ''}</td></tr>`)}</tbody></table>
        </section>` : ''}
        <section>
          <h2>${t('reconRuns')}</h2>
          <table><thead><tr><th>#</th><th>${t('supplier')}</th><th>${t('date')}</th><th>${t('status')}</th><th class="num">${t('lines')}</th>${CLASSES.map((c) => html`<th class="num">${label(CLASS_LABELS[c], lang)}</th>`)}<th></th></tr></thead>
          <tbody>${runs.map((r: Record<string, any>) => html`<tr><td>${r.id}</td><td>${r.supplier}</td><td>${r.business_date}</td><td class="${r.status === 'rejected' || r.status === 'failed' ? 'bad' : ''}">${statusWord(t, r.status)}${r.is_current ? ' ✓' : ''}${r.error ? html`<br><small class="run-error free-text">${t('rejectedReason')}: ${r.error}</small>` : ''}</td><td class="num">${r.lines_read}</td>
            ${CLASSES.map((c) => html`<td class="num">${classCount(r.counts, c)}</td>`)}
            <td>${temporalLink(deps.config, r.workflow_id, t('temporalUi'))}
              ${finance && r.status === 'suspicious' ? html`<form method="post" action="/reconciliation/runs/${r.id}/confirm" class="inline">${csrfField(res)}<input name="reason" required placeholder="${t('confirmSuspicious')}"><button>${t('confirmSuspicious')}</button></form>` : ''}
              ${(r.findings ?? []).some((f: { kind: string }) => f.kind === 'control_total_mismatch') ? html`<span class="bad" title="${(r.findings ?? []).filter((f: { kind: string }) => f.kind === 'control_total_mismatch').map((f: { message: string }) => f.message).join('\n')}">${t('finding_control_total_mismatch')}</span>` : ''}
              <a href="/admin/suppliers/${r.supplier}/statement-profile">${t('statementProfile')}</a>
              ${finance && r.status !== 'running' ? html`<form method="post" action="/reconciliation/rerun" class="inline">${csrfField(res)}<input type="hidden" name="supplier" value="${r.supplier}"><input type="hidden" name="date" value="${r.business_date}"><button>${t('retry')}</button></form>` : ''}</td></tr>`)}</tbody></table>
        </section>
        <section>
          <h2>${t('cases')} <a href="/reconciliation/cases.xlsx?${query.toString()}">${t('exportXlsx')}</a></h2>
          <form method="get" action="/reconciliation" class="act">
            <select name="supplier"><option value="">${t('all')}</option>${suppliers.map((s) => html`<option ${s.code === filter.supplierCode ? 'selected' : ''}>${s.code}</option>`)}</select>
            <input type="date" name="date" value="${filter.date ?? ''}">
            <select name="state">${CASE_FILTER_STATES.map((s) => html`<option value="${s}" ${s === filter.state ? 'selected' : ''}>${statusWord(t, s)}</option>`)}</select>
            <select name="class"><option value="">${t('all')}</option>${CLASSES.filter((c) => c !== 'matched').map((c) => html`<option value="${c}" ${c === filter.class ? 'selected' : ''}>${label(CLASS_LABELS[c], lang)}</option>`)}</select>
            <button>${t('filter')}</button>
          </form>
          <table><thead><tr><th>#</th><th>${t('supplier')}</th><th>${t('date')}</th><th>${t('kind')}</th><th class="num">${t('amount')}</th><th>${t('status')}</th><th>${t('resolve')}</th></tr></thead>
          <tbody>${list.cases.map((c) => html`<tr id="case-${c.id}"><td>${c.id}</td><td>${c.supplierCode}</td><td>${c.businessDate}</td><td>${label(CLASS_LABELS[c.class], lang)}<br><small class="free-text">${c.requestIds.join(', ') || c.supplierTxnId || ''}</small></td>
            <td class="num">${displayYuan(c.ourFen)} / ${displayYuan(c.theirFen)} (${displayYuan(c.deltaFen)})</td><td class="case-state" data-state="${c.state}">${statusWord(t, c.state)}${c.resolution ? `: ${resolutionWord(c.resolution, lang)}` : ''}</td>
            <td>${finance && c.state !== 'resolved' ? html`<form method="post" action="/reconciliation/cases/${c.id}/resolve" class="act">${csrfField(res)}
              <select name="resolution">${RESOLUTIONS.map((r) => html`<option value="${r}">${label(RESOLUTION_LABELS[r], lang)}</option>`)}</select>
              <input name="reason" placeholder="${t('reason')}" required minlength="3"><button type="submit">${t('resolve')}</button></form>` : ''}</td></tr>`)}</tbody></table>
          ${pager(p, list.total, `/reconciliation`, t)}
        </section>`;
      res.type('html').send(layout({ lang, title: t('reconciliation'), active: 'reconciliation', body, path: '/reconciliation', session: sessionOf(res) }).value);
    },

    resolve: async (req: Request, res: Response) => {
      const resolution = String(req.body?.resolution ?? '') as Resolution;
      if (!RESOLUTIONS.includes(resolution)) throw new ValidationError(`resolution must be one of ${RESOLUTIONS.join(', ')}`);
      const c = await cases.resolve(Number(req.params.id), { resolution, actor: actorOfRequest(res), reason: String(req.body?.reason ?? '') });
      res.redirect(303, `/reconciliation?state=resolved&done=${encodeURIComponent(`case:${c.id}:${c.resolution}`)}`);
    },

    upload: async (req: Request, res: Response) => {
      // Everything about the upload is checked before a byte of it is read.
      const supplier = supplierCodeOf(req.query.supplier);
      const date = assertBusinessDate(String(req.query.date ?? ''), 'date');
      const name = uploadNameOf(req.query.name);
      const limit = deps.config.dashboard.uploadMaxBytes;
      if (declaredTooLarge(req.get('content-length'), limit)) throw new BodyTooLargeError(limit);
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-upload-'));
      // the file on disk has a name of ours; the sender's name is only a label (and its extension)
      const file = path.join(dir, 'statement');
      let handle;
      try {
        await receiveBody(req, createWriteStream(file), limit);
        handle = await startReconciliation(deps.client, deps.config, { supplierCode: supplier, date, file, fileName: name, triggeredBy: sessionOf(res)!.user.username });
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
      res.status(202).json({ workflowId: handle.workflowId, message: `对账已开始 reconciliation started (a reconciliation waiting for the supplier takes this file): ${handle.workflowId}` });
    },

    rerun: async (req: Request, res: Response) => {
      const date = assertBusinessDate(String(req.body?.date ?? ''), 'date');
      const handle = await startReconciliation(deps.client, deps.config, { supplierCode: supplierCodeOf(req.body?.supplier), date, triggeredBy: sessionOf(res)!.user.username });
      res.redirect(303, `/reconciliation?done=${encodeURIComponent(handle.workflowId)}`);
    },

    cancelWaiting: async (req: Request, res: Response) => {
      const workflowId = String(req.body?.workflowId ?? '');
      if (!(await waitingFetches(deps)).some((w) => w.workflowId === workflowId)) throw new ValidationError(`${workflowId} is not a reconciliation waiting for its statement`);
      await deps.client.workflow.getHandle(workflowId).cancel();
      res.redirect(303, `/reconciliation?done=${encodeURIComponent(`cancelled:${workflowId}`)}`);
    },

    exportCases: async (req: Request, res: Response) => {
      res.setHeader('Content-Type', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
      res.setHeader('Content-Disposition', 'attachment; filename="discrepancies.xlsx"');
      await exportDiscrepancies(cases, filterOf(req), res);
    },
  };
}

/** Reconciliations still running: waiting for their supplier's statement (or reconciling it now). */
async function waitingFetches(deps: DashboardDeps): Promise<{ workflowId: string; supplier: string; date: string; since: string }[]> {
  const out: { workflowId: string; supplier: string; date: string; since: string }[] = [];
  for await (const w of deps.client.workflow.list({ query: "WorkflowType = 'reconcileSupplierDay' AND ExecutionStatus = 'Running'", pageSize: 50 })) {
    const m = /^recon-(.+)-(\d{4}-\d{2}-\d{2})$/.exec(w.workflowId);
    if (m) out.push({ workflowId: w.workflowId, supplier: m[1]!, date: m[2]!, since: when(w.startTime) });
    if (out.length >= 50) break;
  }
  return out;
}
