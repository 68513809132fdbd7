import type { NextFunction, Request, Response } from 'express';
import { KamengError } from '../errors.ts';
import { logger } from '../observability/log.ts';

const httpLog = logger('http');

/** A request whose body is over the size its route accepts, counted on the bytes received. */
export class BodyTooLargeError extends KamengError {
  constructor(limitBytes: number) {
    super('BODY_TOO_LARGE', `the request body is larger than the ${limitBytes} bytes this endpoint accepts`, { details: { limitBytes } });
  }
}

/** A parameter PostgreSQL could not even compare: refused before it reaches a query. */
export class BadParameterError extends KamengError {
  constructor(where: string, name: string) {
    super('BAD_PARAMETER', `${where} parameter "${name}" contains a NUL character`, { details: { where, name } });
  }
}

export interface HttpRefusal {
  status: number;
  code: string;
  message: string;
}

/**
 * What Express refuses while reading a request, before our code sees it: a body too large, in an
 * unknown content encoding or not decodable in its own, a path that is not valid percent-encoding.
 */
export function unreadableRequest(err: unknown): HttpRefusal | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { type, status, message, limit } = err as { type?: string; status?: number; message?: string; limit?: number };
  if (type === 'entity.too.large') return { status: 413, code: 'BODY_TOO_LARGE', message: `request body is larger than ${limit ? `${Math.round(limit / 1024)} KB` : 'this endpoint accepts'}` };
  if (type === 'encoding.unsupported') return { status: 415, code: 'UNSUPPORTED_ENCODING', message: `${message}: send the body as is, or gzip, deflate or br` };
  if (type === 'charset.unsupported') return { status: 415, code: 'UNSUPPORTED_CHARSET', message: `${message}: send UTF-8` };
  if (typeof status === 'number' && status >= 400 && status < 500) return { status: 400, code: 'MALFORMED_REQUEST', message: `the request could not be read: ${message}` };
  return undefined;
}

/** A BodyTooLargeError counted by our own streams answers like the parsers' own refusal. */
export function refusalOf(err: unknown): HttpRefusal | undefined {
  if (err instanceof BodyTooLargeError) return { status: 413, code: err.code, message: err.message };
  if (err instanceof BadParameterError) return { status: 400, code: err.code, message: err.message };
  return unreadableRequest(err);
}

const hasNul = (value: unknown): boolean =>
  typeof value === 'string' ? value.includes('\u0000') : Array.isArray(value) ? value.some(hasNul) : false;

/**
 * PostgreSQL text cannot hold NUL: a query with one fails inside the driver. Refuse it at the door,
 * for the whole class of parameters (path, query and form fields), instead of route by route.
 */
export function refuseNulParameters(req: Request, _res: Response, next: NextFunction): void {
  if (/%00/i.test(req.path)) {
    next(new BadParameterError('path', req.path.replace(/%00/gi, '\\0')));
    return;
  }
  const sources: [string, unknown][] = [['query', req.query], ['form', req.body]];
  for (const [where, values] of sources) {
    if (!values || typeof values !== 'object' || Buffer.isBuffer(values)) continue;
    for (const [name, value] of Object.entries(values as Record<string, unknown>)) {
      if (hasNul(value) || name.includes('\u0000')) {
        next(new BadParameterError(where, name.replace(/\u0000/g, '\\0')));
        return;
      }
    }
  }
  next();
}

/** A refusal before the body was read through: answer, then close, rather than read the rest. */
export function closeIfUnread(req: Request, res: Response): void {
  if (!req.complete) res.setHeader('Connection', 'close');
}

/**
 * The last error handler of a machine-facing mount: always JSON with a stable code, never a stack
 * trace; a refusal of the request itself is a 4xx, anything else is logged here and answers 500.
 */
export function jsonErrorHandler(label: string, statusOf: (err: KamengError) => number = () => 422) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    closeIfUnread(req, res);
    const refusal = refusalOf(err);
    if (refusal) {
      res.status(refusal.status).json({ error: { code: refusal.code, message: refusal.message } });
      return;
    }
    if (err instanceof KamengError) {
      res.status(statusOf(err)).json({ error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } });
      return;
    }
    httpLog.error({ err, handler: label }, 'unexpected error');
    res.status(500).json({ error: { code: 'INTERNAL', message: 'internal error; it has been logged' } });
  };
}
