import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Reseller API request signing. The string to sign binds every part an attacker could change:
 *
 *   METHOD \n PATH \n TIMESTAMP \n NONCE \n hex(SHA-256(body))
 *
 * signed with HMAC-SHA256 under the reseller's secret, sent hex-encoded in X-Kameng-Signature,
 * with X-Kameng-Key (the reseller's key id), X-Kameng-Timestamp (Unix ms) and X-Kameng-Nonce.
 */
export const SIGNATURE_HEADERS = {
  key: 'x-kameng-key',
  timestamp: 'x-kameng-timestamp',
  nonce: 'x-kameng-nonce',
  signature: 'x-kameng-signature',
} as const;

/** Requests older (or further in the future) than this are refused. */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

export function stringToSign(method: string, path: string, timestamp: string, nonce: string, body: Buffer | string): string {
  const bodyHash = createHash('sha256').update(body).digest('hex');
  return `${method.toUpperCase()}\n${path}\n${timestamp}\n${nonce}\n${bodyHash}`;
}

export function sign(secret: string, method: string, path: string, timestamp: string, nonce: string, body: Buffer | string): string {
  return createHmac('sha256', secret).update(stringToSign(method, path, timestamp, nonce, body)).digest('hex');
}

export function signatureMatches(expectedHex: string, givenHex: string): boolean {
  // Buffer.from(hex) stops at the first non-hex character and drops an odd last digit: without
  // this check a signature with anything appended would still match.
  if (!/^[0-9a-f]{64}$/i.test(givenHex)) return false;
  const a = Buffer.from(expectedHex, 'hex');
  const b = Buffer.from(givenHex, 'hex');
  return a.length === b.length && a.length > 0 && timingSafeEqual(a, b);
}

/** Headers for a signed request: what a reseller's client (and our tests and benchmarks) send. */
export function signedHeaders(credentials: { apiKey: string; apiSecret: string }, method: string, path: string, body: string, now = Date.now(), nonce = cryptoNonce()): Record<string, string> {
  const timestamp = String(now);
  return {
    'content-type': 'application/json',
    [SIGNATURE_HEADERS.key]: credentials.apiKey,
    [SIGNATURE_HEADERS.timestamp]: timestamp,
    [SIGNATURE_HEADERS.nonce]: nonce,
    [SIGNATURE_HEADERS.signature]: sign(credentials.apiSecret, method, path, timestamp, nonce, body),
  };
}

function cryptoNonce(): string {
  return randomBytes(16).toString('hex');
}
