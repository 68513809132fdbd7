import { ValidationError } from '../errors.ts';
import { assertBusinessDate, type BusinessDate } from '../dates.ts';
import { parseYuan, type Fen } from '../money.ts';

/**
 * Field errors of an administration form (dashboard or CLI): every wrong field is named, nothing
 * changes. `done()` throws one ValidationError whose details.fields maps each field to its problem.
 */
export class Fields {
  readonly errors: Record<string, string> = {};

  fail(field: string, message: string): void {
    this.errors[field] ??= message;
  }

  text(field: string, value: unknown, options: { max?: number; pattern?: RegExp; hint?: string; optional?: boolean } = {}): string {
    const text = typeof value === 'string' ? value.trim() : value === undefined || value === null ? '' : String(value).trim();
    if (text === '') {
      if (!options.optional) this.fail(field, 'required');
      return '';
    }
    if (text.length > (options.max ?? 200)) this.fail(field, `at most ${options.max ?? 200} characters`);
    else if (/[\u0000-\u001f\u007f]/.test(text)) this.fail(field, 'control characters are not allowed');
    else if (options.pattern && !options.pattern.test(text)) this.fail(field, options.hint ?? 'wrong form');
    return text;
  }

  int(field: string, value: unknown, options: { min?: number; max?: number; fallback?: number } = {}): number {
    if ((value === undefined || value === null || value === '') && options.fallback !== undefined) return options.fallback;
    const text = String(value ?? '').trim();
    if (!/^-?\d{1,9}$/.test(text)) {
      this.fail(field, 'a whole number');
      return 0;
    }
    const n = Number(text);
    if (options.min !== undefined && n < options.min) this.fail(field, `at least ${options.min}`);
    if (options.max !== undefined && n > options.max) this.fail(field, `at most ${options.max}`);
    return n;
  }

  /** Yuan as typed (`94.00`), or fen already (a number), to positive fen. */
  yuan(field: string, value: unknown): Fen {
    try {
      const fen = typeof value === 'number' ? value : parseYuan(String(value ?? '').trim(), field);
      if (!Number.isSafeInteger(fen) || fen <= 0) this.fail(field, 'a positive amount in yuan, e.g. 94.00');
      return fen;
    } catch {
      this.fail(field, 'a positive amount in yuan, e.g. 94.00');
      return 0;
    }
  }

  date(field: string, value: unknown): BusinessDate {
    try {
      return assertBusinessDate(String(value ?? '').trim(), field);
    } catch {
      this.fail(field, 'a date YYYY-MM-DD');
      return '';
    }
  }

  oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
    if (!allowed.includes(value as T)) this.fail(field, `one of ${allowed.join(', ')}`);
    return value as T;
  }

  reason(value: unknown, field = 'reason'): string {
    return this.text(field, value, { max: 500 });
  }

  done(): void {
    const entries = Object.entries(this.errors);
    if (entries.length > 0) throw new ValidationError(entries.map(([f, m]) => `${f}: ${m}`).join('; '), { fields: { ...this.errors } });
  }
}

/** The field errors of a ValidationError from Fields, for a form to show beside its inputs. */
export const fieldErrorsOf = (err: unknown): Record<string, string> | undefined =>
  err instanceof ValidationError ? ((err.details?.fields as Record<string, string> | undefined) ?? { _: err.message }) : undefined;
