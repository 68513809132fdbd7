import { z } from 'zod';
import { ValidationError } from '../../errors.ts';
import { STATEMENT_FIELDS, type ColumnMapping, type StatementField } from './columns.ts';

/**
 * How one supplier's statements are read (issue 19): extra header aliases, the quantity of a line
 * when the file has no quantity column, its status words, what marks a footer (totals) row, the
 * time zone its times are in, the unit of its amounts, and how far down the header may be.
 * Everything has a default that reads the statements suppliers commonly send; a profile only says
 * where a supplier differs.
 */
export type LineStatus = 'success' | 'failed' | 'processing' | 'refund';

export const DEFAULT_STATUS_WORDS: Record<LineStatus, string[]> = {
  success: ['success', 'succeeded', 'successful', 'succeed', 'succ', 'ok', 'done', 'completed', 'complete', 'finished', 'paid', '充值完成', '交易完成', '已充值', '成功', '已完成', '完成', '交易成功', '充值成功', '支付成功', '已成功', '已支付',
    '已到账', '到账', '已发货', '发货成功', '订单完成', '成交'],
  failed: ['failed', 'fail', 'failure', 'error', 'closed', 'cancelled', 'canceled', 'rejected', '已拒绝', '拒绝', '失败', '交易失败', '充值失败', '支付失败', '交易关闭', '已关闭', '关闭', '已取消',
    '取消', '订单关闭', '已撤销', '撤销'],
  processing: ['processing', 'pending', 'in_progress', 'in progress', 'waiting', 'wait', 'submitted', 'accepted', '已提交', '已受理', '受理中', '充值处理中', '等待充值', '处理中', '充值中', '进行中', '待处理', '等待中', '待充值', '未完成', '待确认', '审核中',
    '交易中', '支付中', '发货中'],
  refund: ['refunded', 'refund', 'reversed', 'reversal', 'chargeback', '已退货', '退货', '已退款', '退款', '冲正', '已冲正', '退款成功', '部分退款', '冲账', '已冲账', '退回', '已退回'],
};

export const DEFAULT_FOOTER_MARKERS = ['合计', '总计', '小计', '共计', '汇总', '总金额', '总笔数', '总条数', '本页合计', '本页小计', 'total', 'totals', 'subtotal', 'grand total', 'sum'];

/** "共10笔", "共 10 条": a count of lines, which only a footer opens with. */
const COUNT_FOOTER = /^共\s*\d+\s*(笔|条|单|项|行)/;

const word = z.string().trim().min(1).max(40);
const aliases = z.array(z.string().trim().min(1).max(60)).max(20);

export const statementProfileSchema = z.object({
  /** Header aliases per field, tried before the defaults. */
  columns: z.object(Object.fromEntries(STATEMENT_FIELDS.map((f) => [f, aliases.optional()])) as Record<StatementField, z.ZodOptional<typeof aliases>>).partial().default({}),
  /** A line's quantity when the file has no quantity column (top-up statements: one line, one top-up). */
  quantityDefault: z.number().int().min(1).max(999_999).default(1),
  /** Status words, added to the defaults. */
  statusWords: z.object({
    success: z.array(word).max(40).default([]), failed: z.array(word).max(40).default([]),
    processing: z.array(word).max(40).default([]), refund: z.array(word).max(40).default([]),
  }).default({ success: [], failed: [], processing: [], refund: [] }),
  /** Footer (totals) row markers, added to the defaults: a row whose first cell starts with one is not a line. */
  footerMarkers: z.array(word).max(20).default([]),
  /** IANA time zone of times written without an offset. */
  timeZone: z.string().default('Asia/Shanghai').refine(validZone, { message: 'is not a time zone (e.g. Asia/Shanghai)' }),
  /** yuan (up to 2 decimals) or fen (whole numbers); a header such as 金额(分) says fen by itself. */
  amountUnit: z.enum(['yuan', 'fen']).default('yuan'),
  /** CSV separator; auto tries comma, tab and semicolon on the header. */
  delimiter: z.enum(['auto', ',', '\t', ';']).default('auto'),
  /** CSV text encoding; auto reads UTF-8 when the bytes are UTF-8, else GBK/GB18030. */
  encoding: z.enum(['auto', 'utf8', 'gbk']).default('auto'),
  /** When more than this share of a file's lines are unknown to us, the run stops as suspicious. */
  suspiciousShare: z.number().min(0.05).max(1).default(0.5),
}).strict();

export type StatementProfile = z.output<typeof statementProfileSchema>;
export type StatementProfileInput = z.input<typeof statementProfileSchema>;

export const DEFAULT_PROFILE: StatementProfile = statementProfileSchema.parse({});

function validZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** A profile from what a person or the database gave; field errors name the field (ValidationError). */
export function parseProfile(input: unknown, legacyColumns: Partial<ColumnMapping> = {}): StatementProfile {
  const parsed = statementProfileSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const fields = Object.fromEntries(parsed.error.issues.map((i) => [i.path.join('.') || '(profile)', i.message]));
    throw new ValidationError(`the statement profile is not valid: ${Object.entries(fields).map(([f, m]) => `${f}: ${m}`).join('; ')}`, { fields });
  }
  const profile = parsed.data;
  // the older per-supplier column mapping (suppliers.statement_columns) still counts, after the profile's
  for (const [field, names] of Object.entries(legacyColumns) as [StatementField, string[]][]) {
    if (names?.length) profile.columns[field] = [...(profile.columns[field] ?? []), ...names];
  }
  return profile;
}

/** What a status word means under a profile; undefined for any other text. */
export function statusReader(profile: StatementProfile): (text: string) => LineStatus | undefined {
  const words = new Map<string, LineStatus>();
  for (const status of ['success', 'failed', 'processing', 'refund'] as LineStatus[]) {
    for (const w of [...profile.statusWords[status], ...DEFAULT_STATUS_WORDS[status]]) {
      const key = normaliseWord(w);
      if (!words.has(key)) words.set(key, status);
    }
  }
  return (text) => words.get(normaliseWord(text));
}

const normaliseWord = (text: string) => text.normalize('NFKC').trim().toLowerCase().replace(/[\s_-]+/g, ' ');

/** Whether a row is a footer (totals) row: its first non-empty cell starts with a marker. */
export function footerReader(profile: StatementProfile): (cells: unknown[]) => boolean {
  const markers = [...profile.footerMarkers, ...DEFAULT_FOOTER_MARKERS].map((m) => m.normalize('NFKC').trim().toLowerCase());
  return (cells) => {
    const first = cells.find((c) => c !== null && c !== undefined && String(c).trim() !== '');
    if (typeof first !== 'string') return false;
    const text = first.normalize('NFKC').trim().toLowerCase();
    // a Latin marker is a word of its own: "Total: 12" is a footer, a SKU like SUM-0 or TOTAL-50 is not
    return markers.some((m) => text.startsWith(m) && !(/^[a-z]/.test(m) ? /^[a-z0-9_./-]/ : /^[a-z0-9_]/).test(text.slice(m.length))) || COUNT_FOOTER.test(text);
  };
}

/**
 * An amount as suppliers write it: ¥/￥ or 元 or RMB, thousands separators, full-width digits and
 * punctuation, negative as -1.00 or (1.00). Yuan with at most two decimals, or whole fen when the
 * unit says so. NaN when it is not an amount.
 */
export function parseAmount(text: string, unit: 'yuan' | 'fen'): number {
  let t = text.normalize('NFKC').trim().replace(/^\u2212/, '-').replace(/^([(]?[-+]?)\s*([¥￥])\s*/, '$1$2');
  let negative = false;
  if (/^\(.*\)$/.test(t)) {
    negative = true;
    t = t.slice(1, -1);
  }
  t = t.replace(/^(?:rmb|cny)\s*/i, '').replace(/\s*(?:元|rmb|cny)$/i, '');
  if (t.startsWith('-')) {
    negative = !negative;
    t = t.slice(1);
  } else if (t.startsWith('+')) t = t.slice(1);
  t = t.replace(/^[¥￥]/, '');
  if (t.startsWith('-') && !negative) {
    negative = true;
    t = t.slice(1);
  }
  if (t.includes(',')) {
    if (!/^\d{1,3}(,\d{3})+(\.\d*)?$/.test(t)) return NaN;
    t = t.replaceAll(',', '');
  }
  let fen: number;
  if (unit === 'fen') {
    if (!/^\d{1,15}$/.test(t)) return NaN;
    fen = Number(t);
  } else {
    // zeros past the fen change nothing (48.5000, as a decimal(10,4) column exports it)
    const m = /^(\d{1,13})(?:\.(\d{1,2})0*)?$/.exec(t);
    if (!m) return NaN;
    fen = Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
  }
  return negative ? -fen : fen;
}

const offsetCache = new Map<string, Intl.DateTimeFormat>();

/** Milliseconds a zone is ahead of UTC at an instant. */
function zoneOffset(tz: string, utcMs: number): number {
  let format = offsetCache.get(tz);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    offsetCache.set(tz, format);
  }
  const parts: Record<string, number> = {};
  for (const p of format.formatToParts(new Date(utcMs))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return wall - Math.floor(utcMs / 1000) * 1000;
}

/** A wall-clock time (as if UTC, epoch ms) in a zone, as the instant it is. */
export function wallClockToInstant(wallMs: number, tz: string): number {
  if (tz === 'Asia/Shanghai') return wallMs - 8 * 3600_000;
  const guess = wallMs - zoneOffset(tz, wallMs);
  return wallMs - zoneOffset(tz, guess);
}

/** An Excel serial day number (1900 date system) as a wall-clock epoch ms. */
export const excelSerialToWall = (serial: number) => Math.round((serial - 25569) * 86_400_000 / 1000) * 1000;

const DATE = String.raw`(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?`;
const TIME = String.raw`(\d{1,2})\s*[:时]\s*(\d{1,2})(?:\s*[:分]\s*(\d{1,2})(\.\d+)?\s*秒?)?`;
const OFFSET = String.raw`(Z|[+-]\d{2}:?\d{2})?`;
const DATE_TIME = new RegExp(`^${DATE}(?:[ T]+|\\s*)${TIME}\\s*${OFFSET}$`, 'i');
const COMPACT = /^(\d{4})(\d{2})(\d{2})[ T]?(\d{2}):?(\d{2}):?(\d{2})$/;
const DATE_ONLY = new RegExp(`^${DATE}$`);
const TIME_ONLY = new RegExp(`^${TIME}$`);

/** Wall-clock parts to epoch ms (as if UTC); NaN when the date or time does not exist. */
function wall(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): number {
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return NaN;
  const date = new Date(Date.UTC(2000, mo - 1, d, h, mi, s, ms));
  date.setUTCFullYear(y, mo - 1, d);
  if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return NaN;
  return date.getTime();
}

/**
 * A statement time: "2026/11/23 9:05:01", "2026-11-23 09:05", "2026年11月23日 9时05分", ISO 8601
 * with an offset, "20261123090501", or an Excel serial number (46349.378). Without an offset, it is
 * wall-clock time in tz. Undefined when it is not a time.
 */
export function parseTime(text: string, tz: string): Date | undefined {
  let t = text.normalize('NFKC').trim();
  // 上午/下午 or AM/PM (Excel's Chinese and English locales): a 24-hour time
  const meridiem = /(上午|下午|(?<![a-z])[ap]\.?m\.?(?![a-z]))/i.exec(t);
  if (meridiem) {
    const rest = `${t.slice(0, meridiem.index)} ${t.slice(meridiem.index + meridiem[0].length)}`.replace(/\s+/g, ' ').trim();
    const hm = /(\d{1,2})(\s*[:时]\s*\d{1,2}(?:\s*[:分]\s*\d{1,2}(?:\.\d+)?\s*秒?)?)$/.exec(rest);
    if (!hm || Number(hm[1]) < 1 || Number(hm[1]) > 12) return undefined;
    const pm = /下午|p/i.test(meridiem[0]);
    t = `${rest.slice(0, hm.index)}${(Number(hm[1]) % 12) + (pm ? 12 : 0)}${hm[2]}`;
  }
  // seconds or milliseconds since 1970 (a system's export): 10 or 13 digits
  if (/^\d{10}$/.test(t)) return new Date(Number(t) * 1000);
  if (/^\d{13}$/.test(t)) return new Date(Number(t));
  let m = DATE_TIME.exec(t);
  if (m) {
    const [, y, mo, d, h, mi, s, fraction, offset] = m;
    const ms = wall(Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s ?? 0), Math.floor(Number(`0${fraction ?? ''}`) * 1000));
    if (Number.isNaN(ms)) return undefined;
    if (!offset) return new Date(wallClockToInstant(ms, tz));
    if (offset.toUpperCase() === 'Z') return new Date(ms);
    const digits = offset.slice(1).replace(':', '');
    const hours = Number(digits.slice(0, 2));
    const minutes = Number(digits.slice(2));
    if (hours > 15 || minutes > 59) return undefined;
    return new Date(ms - (offset.startsWith('-') ? -1 : 1) * (hours * 60 + minutes) * 60_000);
  }
  m = COMPACT.exec(t);
  if (m) {
    const ms = wall(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), 0);
    return Number.isNaN(ms) ? undefined : new Date(wallClockToInstant(ms, tz));
  }
  if (/^\d{5}(\.\d+)?$/.test(t)) return serialTime(Number(t), tz);
  return undefined;
}

/** An Excel serial date-time (a number cell, or its text) in tz; undefined outside 1970-2200. */
export function serialTime(serial: number, tz: string): Date | undefined {
  if (!(serial >= 25569 && serial < 109575)) return undefined;
  return new Date(wallClockToInstant(excelSerialToWall(serial), tz));
}

/** A date cell and a time cell ("2026/11/23" and "9:05:01"), or a full time in either, as one time. */
export function parseDateAndTime(date: string, time: string, tz: string): Date | undefined {
  const full = parseTime(time, tz);
  if (full && !TIME_ONLY.test(time.normalize('NFKC').trim())) return full;
  const d = DATE_ONLY.exec(date.normalize('NFKC').trim());
  const serialDate = /^\d{5}$/.test(date.trim()) ? excelSerialToWall(Number(date.trim())) : NaN;
  const tm = TIME_ONLY.exec(time.normalize('NFKC').trim());
  let timeMs: number;
  if (tm) {
    const [, h, mi, s, fraction] = tm;
    if (Number(h) > 23 || Number(mi) > 59 || Number(s ?? 0) > 59) return undefined;
    timeMs = ((Number(h) * 60 + Number(mi)) * 60 + Number(s ?? 0)) * 1000 + Math.floor(Number(`0${fraction ?? ''}`) * 1000);
  } else if (/^0?\.\d+$/.test(time.trim())) {
    timeMs = Math.round(Number(time.trim()) * 86_400) * 1000; // an Excel time of day
  } else return undefined;
  let dayMs: number;
  if (d) dayMs = wall(Number(d[1]), Number(d[2]), Number(d[3]), 0, 0, 0, 0);
  else if (!Number.isNaN(serialDate)) dayMs = serialDate;
  else return undefined;
  if (Number.isNaN(dayMs)) return undefined;
  return new Date(wallClockToInstant(dayMs + timeMs, tz));
}
