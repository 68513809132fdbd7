import path from 'node:path';
import { businessDateOf } from '../dates.ts';
import type { Db } from '../db/knex.ts';
import { KamengError } from '../errors.ts';
import { csvRows, xlsxRows, type Cell } from '../files/tabular.ts';
import { parseYuan } from '../money.ts';
import { assertMay, type Actor } from '../users/actor.ts';
import { CHANNELS, validateRecharge, type Recharge, type RechargeChannel, type Recharges } from './recharges.ts';

/** Column -> header names accepted (lower-cased), Chinese and English, as banks and Alipay/WeChat exports name them. */
export const BANK_FILE_HEADERS = {
  valueDate: ['交易日期', '日期', '入账日期', '记账日期', '交易时间', 'value date', 'date', 'value_date', 'transaction date'],
  payer: ['对方户名', '付款人', '付款方', '对方账户名称', '对方名称', 'payer', 'counterparty', 'payer name'],
  amount: ['金额', '收入金额', '贷方金额', '入账金额', '收入', 'amount', 'credit', 'credit amount'],
  memo: ['摘要', '附言', '用途', '备注', '交易附言', 'memo', 'remark', 'note', 'description'],
  reference: ['流水号', '交易流水号', '交易参考号', '交易单号', '商户单号', 'reference', 'ref', 'transaction id', 'serial'],
  channel: ['渠道', '支付渠道', 'channel'],
} as const;
type Column = keyof typeof BANK_FILE_HEADERS;
const REQUIRED: Column[] = ['valueDate', 'payer', 'amount', 'memo', 'reference'];

export interface ImportProblem { file: string; line: number; column?: string; message: string }

export class RechargeImportRejectedError extends KamengError {
  constructor(readonly problems: ImportProblem[]) {
    super('IMPORT_REJECTED', `recharge file refused, nothing recorded (${problems.length} problem(s)):\n${problems.slice(0, 50).map(formatProblem).join('\n')}`, { details: { problems: problems.slice(0, 200) } });
  }
}
export const formatProblem = (p: ImportProblem) => `${p.file}:${p.line}${p.column ? `:${p.column}` : ''}: ${p.message}`;

export interface ImportOutcome {
  recorded: Recharge[];
  /** Lines already recorded by an earlier import of the same payments (same channel, reference, reseller, amount). */
  alreadyRecorded: { line: number; rechargeId: number }[];
}

/**
 * Many recharges at once from a bank (or Alipay / WeChat) statement file, CSV (UTF-8 or GBK) or
 * XLSX. Each line is matched to a reseller by the recharge reference it quotes in its memo
 * (摘要/附言): the reseller's code, as its recharge instructions say. All or nothing: any problem
 * refuses the whole file with file:line:column errors. Importing the same file again records
 * nothing twice (the channel's reference is unique).
 */
export async function importRechargeFile(
  db: Db, recharges: Recharges, actor: Actor,
  input: { file: string; name?: string; channel?: string },
): Promise<ImportOutcome> {
  assertMay(actor, 'recharges');
  const name = input.name ?? path.basename(input.file);
  const problems: ImportProblem[] = [];
  const defaultChannel = (input.channel ?? 'bank') as RechargeChannel;
  if (!CHANNELS.includes(defaultChannel)) throw new RechargeImportRejectedError([{ file: name, line: 0, message: `channel must be one of ${CHANNELS.join(', ')}` }]);
  const resellers = await db('resellers').select('id', 'code');
  const byCode = new Map(resellers.map((r) => [String(r.code).toLowerCase(), { id: Number(r.id), code: String(r.code) }]));
  const today = businessDateOf(new Date());
  const rows = input.file.toLowerCase().endsWith('.xlsx') ? xlsxRows(input.file, name) : csvRows(input.file, 'auto', name);
  let index: Record<Column, number> | undefined;
  let headerCells: string[] = [];
  const lines: { line: number; clean: ReturnType<typeof validateRecharge> }[] = [];
  const seen = new Map<string, number>();
  for await (const { cells, line } of rows) {
    if (!index) {
      headerCells = cells.map((c) => cellText(c).replace(/^\uFEFF/, '').trim());
      const lower = headerCells.map((h) => h.toLowerCase());
      index = Object.fromEntries(Object.entries(BANK_FILE_HEADERS).map(([k, aliases]) => [k, lower.findIndex((h) => (aliases as readonly string[]).includes(h))])) as Record<Column, number>;
      const missing = REQUIRED.filter((k) => index![k] === -1).map((k) => BANK_FILE_HEADERS[k].slice(0, 2).join('/'));
      if (missing.length) throw new RechargeImportRejectedError([{ file: name, line, message: `header is missing column(s): ${missing.join(', ')}` }]);
      continue;
    }
    if (cells.every((c) => cellText(c) === '')) continue;
    const at = (k: Column) => cellText(cells[index![k]]).trim();
    const col = (k: Column) => columnName(index![k], headerCells);
    const problem = (k: Column, message: string) => problems.push({ file: name, line, column: col(k), message });
    let amountFen = 0;
    try {
      amountFen = parseYuan(at('amount'));
      if (amountFen <= 0) problem('amount', `"${at('amount')}": only money received (a positive amount) is a recharge`);
    } catch {
      problem('amount', `"${at('amount')}" is not an amount in yuan with at most two decimals`);
    }
    const valueDate = normaliseDate(cells[index.valueDate]);
    if (!valueDate) problem('valueDate', `"${at('valueDate')}" is not a date (YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD)`);
    const memo = at('memo');
    const matched = [...new Set(memo.split(/[^A-Za-z0-9_-]+/).map((t) => t.toLowerCase()).filter((t) => byCode.has(t)))];
    if (matched.length === 0) problem('memo', `"${memo}" quotes no reseller's recharge reference (its code)`);
    if (matched.length > 1) problem('memo', `"${memo}" quotes several resellers: ${matched.join(', ')}`);
    const channel = index.channel >= 0 && at('channel') ? at('channel').toLowerCase() : defaultChannel;
    if (!CHANNELS.includes(channel as RechargeChannel)) problem('channel', `"${at('channel')}": one of ${CHANNELS.join(', ')}`);
    const reference = at('reference');
    const key = `${channel}\u0000${reference}`;
    if (reference && seen.has(key)) problem('reference', `${reference} is also on line ${seen.get(key)}`);
    seen.set(key, line);
    if (problems.some((p) => p.line === line)) continue;
    try {
      const clean = validateRecharge({ resellerCode: byCode.get(matched[0]!)!.code, channel, payer: at('payer'), amountFen, reference, valueDate: valueDate!, source: `${name}:${line}` }, today);
      lines.push({ line, clean });
    } catch (err) {
      const fields = ((err as KamengError).details?.fields ?? {}) as Record<string, string>;
      const columnOf: Record<string, Column> = { payer: 'payer', amount: 'amount', reference: 'reference', valueDate: 'valueDate', channel: 'channel', resellerCode: 'memo' };
      for (const [field, message] of Object.entries(fields)) problem(columnOf[field] ?? 'memo', message);
    }
  }
  if (!index) throw new RechargeImportRejectedError([{ file: name, line: 1, message: 'the file is empty: expected a header line' }]);

  // already recorded: the same payment again is skipped; another payment under the same reference is a problem
  const existing = lines.length ? await db('wallet_recharges as w').join('resellers as r', 'r.id', 'w.reseller_id')
    .whereIn(db.raw('(w.channel, w.reference)') as any, lines.map((l) => [l.clean.channel, l.clean.reference]) as any)
    .select('w.id', 'w.channel', 'w.reference', 'w.amount_fen', 'r.code') : [];
  const known = new Map(existing.map((e) => [`${e.channel}\u0000${e.reference}`, e]));
  const alreadyRecorded: ImportOutcome['alreadyRecorded'] = [];
  const fresh = lines.filter(({ line, clean }) => {
    const e = known.get(`${clean.channel}\u0000${clean.reference}`);
    if (!e) return true;
    if (Number(e.amount_fen) === clean.amountFen && e.code === clean.resellerCode) alreadyRecorded.push({ line, rechargeId: Number(e.id) });
    else problems.push({ file: name, line, column: columnName(index!.reference, headerCells), message: `${clean.channel} reference ${clean.reference} is already recorded as recharge #${e.id} for ${e.code}, ${Number(e.amount_fen)} fen: not this payment` });
    return false;
  });
  if (problems.length) throw new RechargeImportRejectedError(problems.sort((a, b) => a.line - b.line));
  const recorded = await db.transaction(async (trx) => {
    const out: Recharge[] = [];
    for (const { clean } of fresh) out.push(await recharges.record(actor, clean, trx));
    return out;
  });
  return { recorded, alreadyRecorded };
}

/** A column as a person finds it: its spreadsheet letter and header, e.g. C(金额). */
function columnName(i: number, header: string[]): string {
  let n = i + 1;
  let letters = '';
  while (n > 0) {
    letters = String.fromCharCode(65 + ((n - 1) % 26)) + letters;
    n = Math.floor((n - 1) / 26);
  }
  return `${letters}(${header[i] ?? ''})`;
}

function cellText(cell: Cell): string {
  if (cell === null || cell === undefined) return '';
  if (cell instanceof Date) return cell.toISOString().slice(0, 10);
  if (typeof cell === 'object') return `=${cell.formula}`;
  if (typeof cell === 'number') return Number.isInteger(cell) ? String(cell) : cell.toFixed(2);
  return String(cell);
}

function normaliseDate(cell: Cell): string | undefined {
  if (cell instanceof Date) return cell.toISOString().slice(0, 10);
  const text = cellText(cell).trim();
  const m = /^(\d{4})[-/.年]?(\d{1,2})[-/.月]?(\d{1,2})日?(?:[ T].*)?$/.exec(text);
  if (!m) return undefined;
  const iso = `${m[1]}-${m[2]!.padStart(2, '0')}-${m[3]!.padStart(2, '0')}`;
  const time = Date.parse(`${iso}T00:00:00Z`);
  return !Number.isNaN(time) && new Date(time).toISOString().slice(0, 10) === iso ? iso : undefined;
}
