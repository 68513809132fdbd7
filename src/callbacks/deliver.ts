import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net, { type LookupFunction } from 'node:net';
import { createHmac } from 'node:crypto';
import { KamengError } from '../errors.ts';
import { refusalReason } from './address-policy.ts';

/** The URL itself is unacceptable (private address, bad scheme): retrying will not help. */
export class CallbackRefusedError extends KamengError {
  constructor(message: string) {
    super('CALLBACK_REFUSED', message);
  }
}

/** The receiver did not take it (timeout, non-2xx): try again later. */
export class CallbackFailedError extends KamengError {
  constructor(message: string, readonly statusCode?: number) {
    super('CALLBACK_FAILED', message, { retryable: true, details: { statusCode } });
  }
}

export interface CallbackRequest {
  url: string;
  /** JSON text, signed as sent. */
  body: string;
  secret: string;
  allowPrivateAddresses: boolean;
  timeoutMs?: number;
}

export const CALLBACK_SIGNATURE_HEADER = 'x-kameng-signature';
export const CALLBACK_TIMESTAMP_HEADER = 'x-kameng-timestamp';

/** What the receiver recomputes: HMAC-SHA256(secret, timestamp + "\n" + body), hex. */
export function callbackSignature(secret: string, timestamp: string, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}\n${body}`).digest('hex');
}

/** POSTs a signed JSON callback; resolves with the status code of a 2xx answer, throws otherwise. */
export function deliverCallback(request: CallbackRequest): Promise<{ statusCode: number; durationMs: number }> {
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    return Promise.reject(new CallbackRefusedError(`callback URL "${request.url}" is not a URL`));
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return Promise.reject(new CallbackRefusedError(`callback URL must be http(s), not ${url.protocol}`));
  }
  // An IP literal never goes through lookup, so check it here.
  const literal = url.hostname.replace(/^\[|\]$/g, '');
  const literalReason = net.isIP(literal) ? refusalReason(literal) : undefined;
  if (literalReason && !request.allowPrivateAddresses) {
    return Promise.reject(new CallbackRefusedError(`callback host ${literal} is a private or loopback address (${literalReason})`));
  }
  const guardedLookup: LookupFunction = (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 4);
      const list = addresses as dns.LookupAddress[];
      const refused = request.allowPrivateAddresses ? undefined : list.find((a) => refusalReason(a.address));
      if (refused) {
        return callback(new CallbackRefusedError(`callback host ${hostname} resolves to ${refused.address}, a private or loopback address (${refusalReason(refused.address)})`), '', 4);
      }
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
  };
  const timestamp = String(Date.now());
  const started = Date.now();
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(url, {
      method: 'POST',
      lookup: guardedLookup,
      timeout: request.timeoutMs ?? 10_000,
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(request.body),
        [CALLBACK_TIMESTAMP_HEADER]: timestamp,
        [CALLBACK_SIGNATURE_HEADER]: callbackSignature(request.secret, timestamp, request.body),
      },
    }, (res) => {
      res.resume();
      res.on('end', () => {
        const statusCode = res.statusCode ?? 0;
        if (statusCode >= 200 && statusCode < 300) resolve({ statusCode, durationMs: Date.now() - started });
        else reject(new CallbackFailedError(`callback to ${url.host} answered ${statusCode}`, statusCode));
      });
    });
    req.on('timeout', () => req.destroy(new CallbackFailedError(`callback to ${url.host} timed out after ${request.timeoutMs ?? 10_000} ms`)));
    req.on('error', (err) => reject(err instanceof KamengError ? err : new CallbackFailedError(`callback to ${url.host} failed: ${err.message}`)));
    req.end(request.body);
  });
}
