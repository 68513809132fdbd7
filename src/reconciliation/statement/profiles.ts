import { recordAudit } from '../../audit/audit-log.ts';
import type { Db } from '../../db/knex.ts';
import { NotFoundError } from '../../errors.ts';
import { assertMay, type Actor } from '../../users/actor.ts';
import { FIELD_LABELS, STATEMENT_FIELDS, type ColumnIndex, type StatementField } from './columns.ts';
import { StatementFormatError, type StatementProblem } from './errors.ts';
import { DEFAULT_PROFILE, parseProfile, type StatementProfile } from './profile.ts';
import { readStatement } from './read.ts';
import type { StatementFinding, StatementLine } from './rows.ts';

/**
 * Each supplier's statement profile, as saved (table supplier_statement_profiles). A supplier
 * without one reads by the defaults, plus its older column mapping (suppliers.statement_columns).
 */
export async function loadProfile(db: Db, supplierId: number): Promise<StatementProfile> {
  const [row, supplier] = await Promise.all([
    db('supplier_statement_profiles').where({ supplier_id: supplierId }).first(),
    db('suppliers').where({ id: supplierId }).first('statement_columns'),
  ]);
  return parseProfile(row?.profile ?? {}, supplier?.statement_columns ?? {});
}

/** The profile as saved (without the older mapping merged in), and who saved it. */
export async function savedProfile(db: Db, supplierId: number): Promise<{ profile: StatementProfile; updatedBy?: string; updatedAt?: Date }> {
  const row = await db('supplier_statement_profiles').where({ supplier_id: supplierId }).first();
  return row ? { profile: parseProfile(row.profile), updatedBy: row.updated_by, updatedAt: row.updated_at } : { profile: DEFAULT_PROFILE };
}

/** Validates (field errors as ValidationError) and saves a supplier's profile, audited. */
export async function saveProfile(db: Db, actor: Actor, supplierCode: string, input: unknown, reason = 'statement profile saved'): Promise<StatementProfile> {
  assertMay(actor, 'reconciliation');
  const profile = parseProfile(input);
  await db.transaction(async (trx) => {
    const supplier = await trx('suppliers').where({ code: supplierCode }).first('id');
    if (!supplier) throw new NotFoundError('supplier', supplierCode);
    const before = await trx('supplier_statement_profiles').where({ supplier_id: supplier.id }).first('profile');
    await trx('supplier_statement_profiles').insert({
      supplier_id: supplier.id, profile: JSON.stringify(profile), updated_by: actor.username, updated_by_user_id: actor.userId, updated_at: trx.fn.now(),
    }).onConflict('supplier_id').merge();
    await recordAudit(trx, {
      actor, action: 'recon.statement_profile', subjectType: 'supplier', subjectId: supplierCode, reason,
      details: { before: before?.profile ?? null, after: profile },
    });
  });
  return profile;
}

/** One parsed line of a preview, with the column each field came from. */
export interface PreviewLine { line: StatementLine }

export interface Preview {
  /** The header as found, and which column each field came from (absent: the default applies). */
  header: string[];
  headerLine: number;
  columns: Partial<Record<StatementField, { column: string; columnNumber: number }>>;
  delimiter?: string;
  encoding?: string;
  lines: StatementLine[];
  /** Lines read in all (the preview reads the whole file, so its problems and totals are the file's). */
  totalLines: number;
  problems: StatementProblem[];
  totalProblems: number;
  findings: StatementFinding[];
}

/**
 * A sample statement read by a profile, as finance sees it before saving: the first `limit` lines,
 * the column each field came from, every problem (file:line:column) and finding (preamble, footers,
 * control totals). Nothing is written.
 */
export async function previewStatement(file: string, name: string, profile: StatementProfile, limit = 20): Promise<Preview> {
  const preview: Preview = { header: [], headerLine: 0, columns: {}, lines: [], totalLines: 0, problems: [], totalProblems: 0, findings: [] };
  try {
    for await (const line of readStatement({
      path: file, name, profile,
      onHeader: (h) => {
        preview.header = h.header;
        preview.headerLine = h.line;
        preview.delimiter = h.delimiter;
        preview.encoding = h.encoding;
        preview.columns = columnsOf(h.header, h.index);
      },
      onFindings: (f) => { preview.findings = f; },
    })) {
      preview.totalLines++;
      if (preview.lines.length < limit) preview.lines.push(line);
    }
  } catch (err) {
    if (!(err instanceof StatementFormatError)) throw err;
    preview.problems = err.problems;
    preview.totalProblems = err.totalProblems;
  }
  return preview;
}

function columnsOf(header: string[], index: ColumnIndex): Preview['columns'] {
  const out: Preview['columns'] = {};
  for (const f of STATEMENT_FIELDS) if (index[f] >= 0) out[f] = { column: header[index[f]]!, columnNumber: index[f] + 1 };
  return out;
}

/** Where a field's value came from, for people: its column, or the default that applied. */
export function sourceOf(preview: Preview, field: StatementField, profile: StatementProfile): string {
  const c = preview.columns[field];
  if (c) return `${c.column} (#${c.columnNumber})`;
  if (field === 'quantity') return `default ${profile.quantityDefault}`;
  if (field === 'status') return 'default 成功 success';
  if (field === 'supplierTxnId') return `= ${FIELD_LABELS.merchantOrderNo}`;
  if (field === 'merchantOrderNo') return `= ${FIELD_LABELS.supplierTxnId}`;
  if (field === 'sku') return '—';
  return '—';
}
