import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Fields } from '../admin/fields.ts';
import { recordAudit } from '../audit/audit-log.ts';
import { addDays, businessDateOf, type BusinessDate } from '../dates.ts';
import type { Db } from '../db/knex.ts';
import { KamengError, NotFoundError, ValidationError } from '../errors.ts';
import { assertMay, type Actor } from '../users/actor.ts';

export type DocumentKind = 'business_licence' | 'brand_authorisation' | 'other';
export const DOCUMENT_KINDS: readonly DocumentKind[] = ['business_licence', 'brand_authorisation', 'other'];
export type DocumentType = 'application/pdf' | 'image/jpeg' | 'image/png';
export type DocumentStatus = 'pending' | 'approved' | 'rejected';

/** The days before expiry at which the stock page warns (and `kameng compliance expiring`). */
export const EXPIRY_WARNING_DAYS = [30, 7, 1] as const;

export interface ComplianceDocument {
  id: number;
  supplierCode: string;
  supplierName: string;
  kind: DocumentKind;
  brand: string | null;
  documentNo: string;
  validFrom: BusinessDate;
  expiresOn: BusinessDate;
  status: DocumentStatus;
  sha256: string | null;
  fileName: string | null;
  type: DocumentType | null;
  bytes: number | null;
  uploadedBy: string | null;
  uploadedByUserId: number | null;
  uploadedAt: Date;
  reviewedBy: string | null;
  reviewedAt: Date | null;
  reviewReason: string | null;
}

/** A reviewer who is the uploader: four eyes on user ids. */
export class FourEyesError extends KamengError {
  constructor(message: string) {
    super('FOUR_EYES', message);
  }
}

/** The type of a file by its first bytes (never by its name or declared type), or undefined. */
export function sniffDocumentType(bytes: Buffer): DocumentType | undefined {
  if (bytes.length >= 5 && bytes.subarray(0, 5).toString('latin1') === '%PDF-') return 'application/pdf';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  return undefined;
}

const toDocument = (r: Record<string, any>): ComplianceDocument => ({
  id: Number(r.id), supplierCode: r.supplier_code, supplierName: r.supplier_name, kind: r.kind, brand: r.brand, documentNo: r.document_no,
  validFrom: r.valid_from, expiresOn: r.expires_on, status: r.status, sha256: r.document_sha256, fileName: r.document_name, type: r.document_type,
  bytes: r.document_bytes === null ? null : Number(r.document_bytes), uploadedBy: r.uploaded_by_name ?? null,
  uploadedByUserId: r.uploaded_by === null ? null : Number(r.uploaded_by), uploadedAt: r.created_at,
  reviewedBy: r.reviewed_by_name ?? null, reviewedAt: r.reviewed_at, reviewReason: r.review_reason,
});

/**
 * 资质 documents: uploaded (PDF, JPEG or PNG by content, size-capped), kept by SHA-256 in a directory
 * outside the database, pending until a user other than the uploader approves or rejects them with a
 * reason. Only an approved, unexpired business licence and brand authorisation make a supplier
 * usable for a brand (SupplierRegistry.qualifiedFor). Upload: `documents`; review: `compliance`.
 */
export class ComplianceDocuments {
  constructor(private readonly db: Db, private readonly settings: { documentDir: string; documentMaxBytes: number }) {}

  private query() {
    return this.db('supplier_qualifications as q').join('suppliers as s', 's.id', 'q.supplier_id')
      .leftJoin('dashboard_users as up', 'up.id', 'q.uploaded_by').leftJoin('dashboard_users as rv', 'rv.id', 'q.reviewed_by')
      .select('q.*', 's.code as supplier_code', 's.name as supplier_name', 'up.username as uploaded_by_name', 'rv.username as reviewed_by_name');
  }

  /** Where a document's bytes are: `<documentDir>/<sha256>`. */
  filePath(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new ValidationError('not a document hash');
    return path.join(this.settings.documentDir, sha256);
  }

  async upload(actor: Actor, input: {
    supplier: unknown; kind: unknown; brand?: unknown; documentNo: unknown; validFrom: unknown; expiresOn: unknown; fileName: unknown; bytes: Buffer | undefined; reason?: unknown;
  }): Promise<ComplianceDocument> {
    assertMay(actor, 'documents');
    const f = new Fields();
    const supplierCode = f.text('supplier', input.supplier, { max: 40 });
    const kind = f.oneOf('kind', input.kind, DOCUMENT_KINDS);
    const brand = f.text('brand', input.brand, { max: 50, optional: kind !== 'brand_authorisation' });
    if (kind !== 'brand_authorisation' && brand) f.fail('brand', 'only a brand authorisation names a brand');
    const documentNo = f.text('documentNo', input.documentNo, { max: 100 });
    const validFrom = f.date('validFrom', input.validFrom);
    const expiresOn = f.date('expiresOn', input.expiresOn);
    if (validFrom && expiresOn && expiresOn < validFrom) f.fail('expiresOn', 'before the start of validity');
    const fileName = f.text('file', input.fileName ?? 'document', { max: 200 });
    const bytes = input.bytes;
    let type: DocumentType | undefined;
    if (!bytes || bytes.length === 0) f.fail('file', 'required: a PDF, JPEG or PNG');
    else if (bytes.length > this.settings.documentMaxBytes) f.fail('file', `larger than ${this.settings.documentMaxBytes} bytes`);
    else if (!(type = sniffDocumentType(bytes))) f.fail('file', 'not a PDF, JPEG or PNG (checked by its content)');
    const supplier = supplierCode ? await this.db('suppliers').where({ code: supplierCode }).first('id', 'code') : undefined;
    if (supplierCode && !supplier) f.fail('supplier', `no supplier ${supplierCode}`);
    f.done();
    const sha256 = createHash('sha256').update(bytes!).digest('hex');
    await this.store(sha256, bytes!);
    const id = await this.db.transaction(async (trx) => {
      const [row] = await trx('supplier_qualifications').insert({
        supplier_id: supplier.id, kind, brand: kind === 'brand_authorisation' ? brand : null, document_no: documentNo, valid_from: validFrom, expires_on: expiresOn,
        status: 'pending', document_sha256: sha256, document_name: fileName, document_type: type, document_bytes: bytes!.length, uploaded_by: actor.userId,
      }).returning('id');
      await recordAudit(trx, {
        actor, action: 'compliance.upload', subjectType: 'qualification', subjectId: row.id, reason: String(input.reason ?? '').trim() || 'uploaded for review',
        details: { supplier: supplier.code, kind, brand: brand || null, documentNo, validFrom, expiresOn, sha256, fileName, type, bytes: bytes!.length },
      });
      return Number(row.id);
    });
    return this.get(id);
  }

  /** Writes the bytes once under their hash (a temporary file renamed into place: never half a file). */
  private async store(sha256: string, bytes: Buffer): Promise<void> {
    const file = this.filePath(sha256);
    await fs.mkdir(this.settings.documentDir, { recursive: true, mode: 0o700 });
    if (await fs.stat(file).then(() => true, () => false)) return;
    const temp = `${file}.${randomBytes(6).toString('hex')}.part`;
    await fs.writeFile(temp, bytes, { mode: 0o600 });
    await fs.rename(temp, file);
  }

  /** Approves or rejects a pending document: by a `compliance` user (or admin) other than its uploader, with a reason. */
  async review(actor: Actor, id: number, input: { decision: unknown; reason: unknown }): Promise<ComplianceDocument> {
    assertMay(actor, 'compliance');
    const f = new Fields();
    const decision = f.oneOf('decision', input.decision, ['approve', 'reject'] as const);
    const reason = f.text('reason', input.reason, { max: 500, optional: decision === 'approve' }) || 'approved';
    f.done();
    await this.db.transaction(async (trx) => {
      const row = await trx('supplier_qualifications').where({ id }).forUpdate().first('id', 'status', 'uploaded_by');
      if (!row) throw new NotFoundError('document', id);
      if (row.uploaded_by === null) throw new ValidationError(`document ${id} has no file and was never up for review`, { fields: { _: 'not reviewable' } });
      if (row.status !== 'pending') throw new ValidationError(`document ${id} is ${row.status} already`, { fields: { _: `already ${row.status}` } });
      if (Number(row.uploaded_by) === actor.userId) throw new FourEyesError(`${actor.username} uploaded document ${id}: another user must review it (four eyes)`);
      await trx('supplier_qualifications').where({ id }).update({
        status: decision === 'approve' ? 'approved' : 'rejected', reviewed_by: actor.userId, reviewed_at: new Date(), review_reason: reason,
      });
      await recordAudit(trx, { actor, action: decision === 'approve' ? 'compliance.approve' : 'compliance.reject', subjectType: 'qualification', subjectId: id, reason });
    });
    return this.get(id);
  }

  async get(id: number): Promise<ComplianceDocument> {
    const row = await this.query().where('q.id', id).first();
    if (!row) throw new NotFoundError('document', id);
    return toDocument(row);
  }

  async list(options: { status?: DocumentStatus; supplier?: string } = {}): Promise<ComplianceDocument[]> {
    const q = this.query().orderBy('q.created_at', 'desc').orderBy('q.id', 'desc').limit(500);
    if (options.status) q.where('q.status', options.status);
    if (options.supplier) q.where('s.code', options.supplier);
    return (await q).map(toDocument);
  }

  /** A document's bytes for a logged-in user (the caller checks the session), with its type. */
  async read(id: number): Promise<{ document: ComplianceDocument; bytes: Buffer }> {
    const document = await this.get(id);
    if (!document.sha256) throw new NotFoundError('document file', id);
    return { document, bytes: await fs.readFile(this.filePath(document.sha256)) };
  }

  /**
   * Approved documents whose expiry warnings are due: the latest of each (supplier, kind, brand),
   * expiring within 30 days; `level` is the tightest threshold reached (30, 7 or 1 day; 0 if expired).
   */
  async expiryWarnings(today: BusinessDate = businessDateOf(new Date())): Promise<(ComplianceDocument & { daysLeft: number; level: number })[]> {
    const until = addDays(today, EXPIRY_WARNING_DAYS[0]);
    const { rows } = await this.db.raw(
      `SELECT * FROM (
         SELECT DISTINCT ON (q.supplier_id, q.kind, q.brand) q.*, s.code AS supplier_code, s.name AS supplier_name, (q.expires_on - ?::date) AS days_left
           FROM supplier_qualifications q JOIN suppliers s ON s.id = q.supplier_id AND s.active
          WHERE q.status = 'approved'
          ORDER BY q.supplier_id, q.kind, q.brand, q.expires_on DESC) latest
        WHERE expires_on <= ?::date ORDER BY expires_on, supplier_code`,
      [today, until],
    );
    return rows.map((r: Record<string, any>) => {
      const daysLeft = Number(r.days_left);
      const level = daysLeft < 0 ? 0 : [...EXPIRY_WARNING_DAYS].reverse().find((d) => daysLeft <= d) ?? EXPIRY_WARNING_DAYS[0];
      return { ...toDocument(r), daysLeft, level };
    });
  }
}
