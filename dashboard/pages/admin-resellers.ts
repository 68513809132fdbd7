import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type express from 'express';
import { declaredTooLarge, receiveBody } from '../../src/http/body-cap.ts';
import { BodyTooLargeError } from '../../src/http/request-errors.ts';
import { importRechargeFile } from '../../src/wallet/bank-import.ts';
import type { Request, Response } from 'express';
import { businessDateOf, formatShanghai } from '../../src/dates.ts';
import { KamengError, ValidationError } from '../../src/errors.ts';
import { displayYuan, formatYuan, parseYuan } from '../../src/money.ts';
import { ResellerAdmin, TIERS } from '../../src/resellers/admin.ts';
import { listUsers, resetPassword, setRole, setUserDisabled } from '../../src/users/manage.ts';
import { ROLES } from '../../src/users/users.ts';
import { CHANNEL_LABELS, CHANNELS, Recharges, type RechargeStatus } from '../../src/wallet/recharges.ts';
import { actorOfRequest, can, csrfField, requirePermission, sessionOf } from '../auth.ts';
import type { DashboardDeps } from '../deps.ts';
import { html, type SafeHtml } from '../html.ts';
import { langOf, translator, type Lang } from '../i18n.ts';
import { layout } from '../layout.ts';
import { statusWord } from '../words.ts';
import { pageOf, pager } from '../pagination.ts';

type T = ReturnType<typeof translator>;
type Form = Record<string, string>;
const CODE = /^[A-Za-z0-9_-]{2,40}$/;

/** Field errors of a refused form (ValidationError details.fields), shown beside each field; anything else is thrown. */
function fieldErrorsOf(err: unknown): Record<string, string> {
  if (err instanceof KamengError && err.details?.fields && typeof err.details.fields === 'object') return err.details.fields as Record<string, string>;
  throw err;
}
const fieldError = (errors: Record<string, string>, name: string): SafeHtml | string =>
  errors[name] ? html`<small class="bad field-error" data-field="${name}">${errors[name]}</small>` : '';
const formOf = (req: Request): Form => Object.fromEntries(Object.entries(req.body ?? {}).map(([k, v]) => [k, String(v ?? '')]));
const yuanOrFieldError = (text: string, field: string): number | undefined => {
  if (!text.trim()) return undefined;
  try {
    return parseYuan(text, field);
  } catch {
    throw new ValidationError(`${field}: not an amount in yuan`, { fields: { [field]: 'an amount in yuan, at most 2 decimals' } });
  }
};

function subnav(t: T, active: 'resellers' | 'recharges' | 'users', res: Response): SafeHtml {
  const link = (href: string, key: 'resellersTitle' | 'rechargesTitle' | 'usersTitle', name: string) =>
    html`<a href="${href}" class="${active === name ? 'active' : ''}">${t(key)}</a>`;
  return html`<nav class="subnav">${link('/admin/resellers', 'resellersTitle', 'resellers')} · ${link('/finance/recharges', 'rechargesTitle', 'recharges')}${can(sessionOf(res), 'users') ? html` · ${link('/admin/users', 'usersTitle', 'users')}` : ''}</nav>`;
}

function send(req: Request, res: Response, lang: Lang, title: string, body: SafeHtml, status = 200): void {
  res.status(status).type('html').send(layout({ lang, title, active: 'admin-resellers', body, path: req.path, session: sessionOf(res) }).value);
}

/**
 * Issue 18 pages: /admin/resellers (onboard, rotate, suspend), /finance/recharges (record, approve,
 * reject, reverse) and /admin/users (disable, reset password, change role). Reading is for every
 * user (users: admins only); every POST is CSRF-checked (before this), role-checked and audited by
 * the domain service it calls; a refused form comes back with its field errors (422).
 */
export function mountResellerAdminPages(app: express.Express, deps: DashboardDeps): void {
  if (!deps.resellers) return;
  const registry = deps.resellers;
  const admin = new ResellerAdmin(deps.db, registry, {
    allowPrivateCallbacks: deps.config.fulfillment.allowPrivateCallbacks, secretOverlapMs: deps.config.resellers.secretOverlapMs,
  });
  const recharges = new Recharges(deps.db, deps.ledger, deps.config.resellers);

  // ---- resellers ----
  const resellersPage = async (req: Request, res: Response, extra: { form?: Form; errors?: Record<string, string>; shown?: SafeHtml; status?: number } = {}) => {
    const lang = langOf(req, res);
    const t = translator(lang);
    const p = pageOf(req, 50);
    const { rows, total } = await admin.overview({ limit: p.size, offset: p.offset });
    const mayAct = can(sessionOf(res), 'resellers');
    const f = extra.form ?? {};
    const e = extra.errors ?? {};
    const body = html`${subnav(t, 'resellers', res)}
      ${req.query.done ? html`<p class="notice" id="done">${t('done')}: ${String(req.query.done)}</p>` : ''}
      ${extra.shown ?? ''}
      <section><h2>${t('resellersTitle')}</h2>
      ${rows.length === 0 ? html`<p>${t('noData')}</p>` : html`<table id="resellers"><thead><tr><th>${t('resellerCode')}</th><th>${t('name')}</th><th>${t('contact')}</th><th>${t('tier')}</th><th>${t('status')}</th>
        <th class="num">${t('balance')}</th><th class="num">${t('lowBalance')}</th><th>${t('ipAllowlist')}</th><th>${t('oldSecretUntil')}</th>${mayAct ? html`<th></th>` : ''}</tr></thead>
        <tbody>${rows.map((r) => html`<tr data-code="${r.code}"><td>${r.code} <a class="portal-view" href="/portal/support/${r.code}">${t('portal_supportOpen')}</a></td><td>${r.name}</td><td>${r.contact}</td><td>${r.tier}</td>
          <td class="${r.status === 'suspended' ? 'bad' : ''}">${r.status === 'suspended' ? t('suspend') : t('active')}</td>
          <td class="num ${r.low ? 'bad' : ''}">${displayYuan(r.balanceFen)}${r.low ? html` <small>${t('lowBalanceFlag')}</small>` : ''}</td>
          <td class="num">${r.lowBalanceFen ? displayYuan(r.lowBalanceFen) : '-'}</td><td>${r.ipAllowlist.join(' ') || t('anyAddress')}</td>
          <td>${r.previousSecretUntil ? formatShanghai(r.previousSecretUntil) : '-'}</td>
          ${mayAct ? html`<td><form method="post" action="/admin/resellers/action" class="act">${csrfField(res)}<input type="hidden" name="code" value="${r.code}">
            <select name="action"><option value="rotate">${t('rotateSecret')}</option>${r.previousSecretUntil ? html`<option value="revoke">${t('revokeOldSecret')}</option>` : ''}
            ${r.status === 'active' ? html`<option value="suspend">${t('suspend')}</option>` : html`<option value="reactivate">${t('reactivate')}</option>`}</select>
            <input name="reason" placeholder="${t('reason')}" required minlength="3"><button type="submit">${t('submit')}</button></form></td>` : ''}</tr>`)}</tbody></table>`}
      ${pager(p, total, '/admin/resellers', t)}</section>
      ${mayAct ? html`<section><h2>${t('onboardReseller')}</h2>
        ${Object.keys(e).length ? html`<p class="error" id="form-error">${t('fixFields')}</p>` : ''}
        <form method="post" action="/admin/resellers" class="act" id="onboard">${csrfField(res)}
          <label>${t('resellerCode')} <input name="code" value="${f.code ?? ''}" required></label>${fieldError(e, 'code')}
          <label>${t('name')} <input name="name" value="${f.name ?? ''}" required></label>${fieldError(e, 'name')}
          <label>${t('contact')} <input name="contact" value="${f.contact ?? ''}"></label>${fieldError(e, 'contact')}
          <label>${t('tier')} <select name="tier">${TIERS.map((tier) => html`<option value="${tier}" ${f.tier === tier ? 'selected' : ''}>${tier}</option>`)}</select></label>${fieldError(e, 'tier')}
          <label>${t('callbackUrl')} <input name="callbackUrl" value="${f.callbackUrl ?? ''}" placeholder="https://"></label>${fieldError(e, 'callbackUrl')}
          <label>${t('ipAllowlist')} <input name="ipAllowlist" value="${f.ipAllowlist ?? ''}" placeholder="203.0.113.0/24, 2001:db8::/32"></label>${fieldError(e, 'ipAllowlist')}
          <label>${t('lowBalance')} <input name="lowBalance" value="${f.lowBalance ?? ''}" placeholder="1000.00"></label>${fieldError(e, 'lowBalanceFen')}
          <button type="submit">${t('submit')}</button>
        </form></section>` : ''}`;
    send(req, res, lang, t('resellersTitle'), body, extra.status);
  };

  const secretShown = (t: T, code: string, apiKey: string, apiSecret: string, note = '') => html`<section class="notice" id="secret-once">
    <p><strong>${t('secretShownOnce')}</strong></p>
    <p>${t('resellerCode')}: <code id="shown-code">${code}</code> · ${t('apiKey')}: <code id="shown-api-key">${apiKey}</code></p>
    <p>${t('apiSecret')}: <code id="shown-api-secret">${apiSecret}</code></p>
    <p>${t('rechargeReference')}: <code>${code}</code>${note ? html` · ${note}` : ''}</p></section>`;

  app.get('/admin/resellers', (req, res) => resellersPage(req, res));
  app.post('/admin/resellers', requirePermission('resellers'), async (req, res) => {
    const f = formOf(req);
    const t = translator(langOf(req, res));
    try {
      const { reseller, apiSecret } = await admin.onboard(actorOfRequest(res), {
        code: f.code ?? '', name: f.name ?? '', contact: f.contact, tier: f.tier, callbackUrl: f.callbackUrl, ipAllowlist: f.ipAllowlist,
        lowBalanceFen: yuanOrFieldError(f.lowBalance ?? '', 'lowBalanceFen'),
      });
      res.setHeader('Cache-Control', 'no-store');
      await resellersPage(req, res, { shown: secretShown(t, reseller.code, reseller.apiKey, apiSecret) });
    } catch (err) {
      await resellersPage(req, res, { form: f, errors: fieldErrorsOf(err), status: 422 });
    }
  });
  app.post('/admin/resellers/action', requirePermission('resellers'), async (req, res) => {
    const f = formOf(req);
    const t = translator(langOf(req, res));
    const code = f.code ?? '';
    if (!CODE.test(code)) throw new ValidationError('code: not a reseller code');
    const actor = actorOfRequest(res);
    const reason = f.reason ?? '';
    switch (f.action) {
      case 'rotate': {
        const rotated = await admin.rotateSecret(actor, code, reason);
        res.setHeader('Cache-Control', 'no-store');
        await resellersPage(req, res, { shown: secretShown(t, code, rotated.apiKey, rotated.apiSecret, `${t('oldSecretUntil')} ${formatShanghai(rotated.previousValidUntil)}`) });
        return;
      }
      case 'revoke':
        await admin.revokePreviousSecret(actor, code, reason);
        break;
      case 'suspend':
      case 'reactivate':
        await admin.setSuspended(actor, code, f.action === 'suspend', reason);
        break;
      default:
        throw new ValidationError('action: rotate, revoke, suspend or reactivate');
    }
    res.redirect(303, `/admin/resellers?done=${encodeURIComponent(`${code} ${f.action}`)}`);
  });

  // ---- recharges ----
  const rechargesPage = async (req: Request, res: Response, extra: { form?: Form; errors?: Record<string, string>; status?: number } = {}) => {
    const lang = langOf(req, res);
    const t = translator(lang);
    const p = pageOf(req, 50);
    const status = (['pending', 'credited', 'rejected', 'reversed'] as const).find((s) => s === req.query.status) as RechargeStatus | undefined;
    const { rows, total } = await recharges.list({ status, limit: p.size, offset: p.offset });
    const session = sessionOf(res);
    const mayAct = can(session, 'recharges');
    const f = extra.form ?? {};
    const e = extra.errors ?? {};
    const body = html`${subnav(t, 'recharges', res)}
      ${req.query.done ? html`<p class="notice" id="done">${t('done')}: ${String(req.query.done)}</p>` : ''}
      ${mayAct ? html`<section><h2>${t('recordRecharge')}</h2>
        <p>${t('approvalThreshold')}: ${displayYuan(deps.config.resellers.rechargeApprovalFen)} · ${t('importHint')}</p>
        <form id="recharge-import" class="act" data-csrf="${sessionOf(res)?.csrfToken ?? ''}">
          <label>${t('file')} (CSV/XLSX) <input type="file" name="file" accept=".csv,.xlsx" required></label>
          <select name="channel">${CHANNELS.map((c) => html`<option value="${c}">${CHANNEL_LABELS[c][lang]}</option>`)}</select>
          <button type="submit">${t('submit')}</button> <span id="recharge-import-result"></span>
        </form>
        <script src="/assets/recharge-import.js" defer></script>
        ${Object.keys(e).length ? html`<p class="error" id="form-error">${t('fixFields')}</p>` : ''}
        <form method="post" action="/finance/recharges" class="act" id="record-recharge">${csrfField(res)}
          <label>${t('resellerCode')} <input name="resellerCode" value="${f.resellerCode ?? ''}" required></label>${fieldError(e, 'resellerCode')}
          <label>${t('channel')} <select name="channel">${CHANNELS.map((c) => html`<option value="${c}" ${f.channel === c ? 'selected' : ''}>${CHANNEL_LABELS[c][lang]}</option>`)}</select></label>${fieldError(e, 'channel')}
          <label>${t('payer')} <input name="payer" value="${f.payer ?? ''}" required></label>${fieldError(e, 'payer')}
          <label>${t('amountYuan')} <input name="amount" value="${f.amount ?? ''}" required placeholder="5000.00"></label>${fieldError(e, 'amount')}
          <label>${t('channelReference')} <input name="reference" value="${f.reference ?? ''}" required></label>${fieldError(e, 'reference')}
          <label>${t('valueDate')} <input name="valueDate" type="date" value="${f.valueDate ?? businessDateOf(new Date())}" required></label>${fieldError(e, 'valueDate')}
          <button type="submit">${t('submit')}</button>
        </form></section>` : ''}
      <section><h2>${t('rechargesTitle')}</h2>
      <form method="get" action="/finance/recharges" class="act"><select name="status"><option value="">${t('all')}</option>
        ${(['pending', 'credited', 'rejected', 'reversed'] as const).map((s) => html`<option value="${s}" ${status === s ? 'selected' : ''}>${statusWord(t, s)}</option>`)}</select><button>${t('filter')}</button></form>
      ${rows.length === 0 ? html`<p>${t('noData')}</p>` : html`<table id="recharges"><thead><tr><th>#</th><th>${t('resellerCode')}</th><th class="num">${t('amount')}</th><th>${t('channel')}</th><th>${t('channelReference')}</th>
        <th>${t('payer')}</th><th>${t('valueDate')}</th><th>${t('status')}</th><th>${t('recordedBy')}</th><th>${t('approvedBy')}</th>${mayAct ? html`<th></th>` : ''}</tr></thead>
        <tbody>${rows.map((r) => html`<tr data-id="${r.id}" data-reference="${r.reference}"><td>${r.id}</td><td>${r.resellerCode}</td><td class="num">${displayYuan(r.amountFen)}</td><td>${CHANNEL_LABELS[r.channel][lang]}</td>
          <td>${r.reference}</td><td>${r.payer}</td><td>${r.valueDate}</td>
          <td class="status ${r.status === 'pending' ? 'warn' : r.status === 'credited' ? '' : 'bad'}" data-status="${r.status}">${statusWord(t, r.status)}${r.status === 'pending' ? html` <small>${t('pendingApproval')}</small>` : ''}${r.closeReason ? html` <small class="free-text">${r.closeReason}</small>` : ''}</td>
          <td>${r.recordedBy}</td><td>${r.approvedBy ?? ''}</td>
          ${mayAct ? html`<td>${r.status === 'pending' ? html`<form method="post" action="/finance/recharges/${r.id}/approve" class="act">${csrfField(res)}<button type="submit" ${session && session.user.username === r.recordedBy ? 'disabled' : ''}>${t('approve')}</button></form>
            <form method="post" action="/finance/recharges/${r.id}/reject" class="act">${csrfField(res)}<input name="reason" placeholder="${t('reason')}" required minlength="3"><button type="submit">${t('reject')}</button></form>`
            : r.status === 'credited' ? html`<form method="post" action="/finance/recharges/${r.id}/reverse" class="act">${csrfField(res)}<input name="reason" placeholder="${t('reason')}" required minlength="3"><button type="submit">${t('reverse')}</button></form>` : ''}</td>` : ''}
        </tr>`)}</tbody></table>`}
      ${pager(p, total, '/finance/recharges', t)}</section>`;
    send(req, res, lang, t('rechargesTitle'), body, extra.status);
  };
  app.get('/finance/recharges', (req, res) => rechargesPage(req, res));
  app.post('/finance/recharges', requirePermission('recharges'), async (req, res) => {
    const f = formOf(req);
    try {
      const r = await recharges.record(actorOfRequest(res), {
        resellerCode: f.resellerCode ?? '', channel: f.channel ?? '', payer: f.payer ?? '', amountFen: yuanOrFieldError(f.amount ?? '', 'amount') ?? 0,
        reference: f.reference ?? '', valueDate: f.valueDate ?? '',
      });
      res.redirect(303, `/finance/recharges?done=${encodeURIComponent(`#${r.id} ${r.resellerCode} ${formatYuan(r.amountFen)} ${r.status}`)}`);
    } catch (err) {
      await rechargesPage(req, res, { form: f, errors: fieldErrorsOf(err), status: 422 });
    }
  });
  // a bank statement file as the raw body (dashboard/static/recharge-import.js), capped on the bytes received
  app.post('/finance/recharges/import', requirePermission('recharges'), async (req, res) => {
    const name = typeof req.query.name === 'string' ? req.query.name : 'statement.csv';
    if (name.length > 200 || /[\\/\u0000-\u001f]/.test(name) || /^\.*$/.test(name)) throw new ValidationError("name: the file's own name (not a path), up to 200 characters");
    const channel = typeof req.query.channel === 'string' ? req.query.channel : 'bank';
    const limit = Math.min(deps.config.dashboard.uploadMaxBytes, 64 * 1024 * 1024);
    if (declaredTooLarge(req.get('content-length'), limit)) throw new BodyTooLargeError(limit);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-recharges-'));
    try {
      const file = path.join(dir, name.toLowerCase().endsWith('.xlsx') ? 'statement.xlsx' : 'statement.csv');
      await receiveBody(req, createWriteStream(file), limit);
      const outcome = await importRechargeFile(deps.db, recharges, actorOfRequest(res), { file, name, channel });
      res.json({
        recorded: outcome.recorded.length, alreadyRecorded: outcome.alreadyRecorded.length,
        message: `${outcome.recorded.length} 笔已登记 recorded (${outcome.recorded.filter((r) => r.status === 'pending').length} 待审批 pending), ${outcome.alreadyRecorded.length} 笔此前已登记 already recorded`,
      });
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
  app.post('/finance/recharges/:id/:step', requirePermission('recharges'), async (req, res) => {
    const id = Number(req.params.id);
    const actor = actorOfRequest(res);
    const reason = String(req.body?.reason ?? '');
    const step = req.params.step;
    const r = step === 'approve' ? await recharges.approve(actor, id)
      : step === 'reject' ? await recharges.reject(actor, id, reason)
        : step === 'reverse' ? await recharges.reverse(actor, id, reason)
          : undefined;
    if (!r) throw new ValidationError('step: approve, reject or reverse');
    res.redirect(303, `/finance/recharges?done=${encodeURIComponent(`#${r.id} ${r.status}`)}`);
  });

  // ---- users ----
  app.get('/admin/users', requirePermission('users'), async (req, res) => {
    const lang = langOf(req, res);
    const t = translator(lang);
    const users = await listUsers(deps.db, actorOfRequest(res));
    const shown = typeof res.locals.newPassword === 'string' ? html`<p class="notice" id="new-password">${t('newPassword')}: <code>${res.locals.newPassword}</code></p>` : '';
    const body = html`${subnav(t, 'users', res)}
      ${req.query.done ? html`<p class="notice" id="done">${t('done')}: ${String(req.query.done)}</p>` : ''}${shown}
      <section><h2>${t('usersTitle')}</h2><table id="users"><thead><tr><th>${t('username')}</th><th>${t('name')}</th><th>${t('role')}</th><th>${t('status')}</th><th class="num">${t('sessions')}</th><th></th></tr></thead>
      <tbody>${users.map((u) => html`<tr data-username="${u.username}"><td>${u.username}</td><td>${u.displayName}</td><td>${t(`role_${u.role}`)}</td>
        <td class="${u.disabled ? 'bad' : ''}">${u.disabled ? t('disabled') : t('active')}</td><td class="num">${u.sessions}</td>
        <td><form method="post" action="/admin/users/action" class="act">${csrfField(res)}<input type="hidden" name="username" value="${u.username}">
          <select name="action">${u.disabled ? html`<option value="enable">${t('enable')}</option>` : html`<option value="disable">${t('disable')}</option>`}
            <option value="reset">${t('resetPassword')}</option><option value="role">${t('changeRole')}</option></select>
          <select name="role">${ROLES.map((r) => html`<option value="${r}" ${u.role === r ? 'selected' : ''}>${t(`role_${r}`)}</option>`)}</select>
          <input name="reason" placeholder="${t('reason')}" required minlength="3"><button type="submit">${t('submit')}</button></form></td></tr>`)}</tbody></table></section>`;
    send(req, res, lang, t('usersTitle'), body);
  });
  app.post('/admin/users/action', requirePermission('users'), async (req, res) => {
    const f = formOf(req);
    const actor = actorOfRequest(res);
    const username = f.username ?? '';
    const reason = f.reason ?? '';
    if (f.action === 'disable' || f.action === 'enable') await setUserDisabled(deps.db, actor, { username, disabled: f.action === 'disable', reason });
    else if (f.action === 'role') await setRole(deps.db, actor, { username, role: f.role ?? '', reason });
    else if (f.action === 'reset') {
      const { password } = await resetPassword(deps.db, actor, { username, reason });
      res.setHeader('Cache-Control', 'no-store');
      const t = translator(langOf(req, res));
      send(req, res, langOf(req, res), t('usersTitle'), html`${subnav(t, 'users', res)}<p class="notice" id="new-password">${username} · ${t('newPassword')}: <code>${password}</code></p><p><a href="/admin/users">←</a></p>`);
      return;
    } else throw new ValidationError('action: disable, enable, reset or role');
    res.redirect(303, `/admin/users?done=${encodeURIComponent(`${username} ${f.action}`)}`);
  });
}
