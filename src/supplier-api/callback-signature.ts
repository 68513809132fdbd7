import { createHmac } from 'node:crypto';

/**
 * How a supplier signs the result callbacks it POSTs to /callbacks/suppliers/:code (what we ask
 * every supplier to implement, and what the simulator does):
 *
 *   X-Timestamp: Unix milliseconds when the callback was signed
 *   X-Signature: hex(HMAC-SHA256(callback secret, TIMESTAMP + "\n" + body))
 *
 * The timestamp is signed, so it cannot be moved; a callback signed longer ago (or further ahead)
 * than the window is refused, and one accepted within the window is remembered by its signature,
 * so the same signed callback sent again changes nothing.
 */
export const SUPPLIER_CALLBACK_HEADERS = { timestamp: 'x-timestamp', signature: 'x-signature' } as const;

export const SUPPLIER_CALLBACK_WINDOW_MS = 5 * 60 * 1000;

export function supplierCallbackSignature(secret: string, timestamp: string, body: Buffer | string): string {
  return createHmac('sha256', secret).update(`${timestamp}\n`).update(body).digest('hex');
}
