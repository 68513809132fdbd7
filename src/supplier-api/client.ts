import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { KamengError } from '../errors.ts';

/** The supplier did not answer usefully (timeout, 5xx, network): retrying may help. */
export class SupplierUnavailableError extends KamengError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('SUPPLIER_UNAVAILABLE', message, { retryable: true, details });
  }
}

/** The supplier said no (unknown product, no balance, bad request): retrying the same call will not help. */
export class SupplierRejectedError extends KamengError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('SUPPLIER_REJECTED', message, { details });
  }
}

export type SupplierOrderStatus = 'PROCESSING' | 'SUCCESS' | 'FAILED';

export interface SupplierOrder {
  supplierOrderId: string;
  requestId: string;
  status: SupplierOrderStatus;
  supplierTxnId?: string;
  failureReason?: string;
  completedAt?: string;
}

export interface PlaceOrderRequest {
  /** Our idempotency key: the same requestId never buys twice. */
  requestId: string;
  /** The supplier's own product code. */
  sku: string;
  kind: 'card_batch' | 'topup';
  quantity: number;
  /** Phone number or game account, for top-ups. */
  account?: string;
  callbackUrl?: string;
}

export interface DeliveredCode {
  serial: string;
  code: string;
  expiresAt: string;
}

export interface SupplierEndpoint {
  /** e.g. http://127.0.0.1:4100/suppliers/acme */
  baseUrl: string;
  apiKey: string;
  timeoutMs?: number;
}

/** HTTP client for an upstream supplier's order API. Every order carries our idempotency key. */
export class SupplierClient {
  /** Private (#): never shown when the client is inspected or logged, never in an error's details. */
  readonly #apiKey: string;
  private readonly endpoint: Omit<SupplierEndpoint, 'apiKey'>;

  constructor(endpoint: SupplierEndpoint) {
    const { apiKey, ...rest } = endpoint;
    this.#apiKey = apiKey;
    this.endpoint = rest;
  }

  placeOrder(request: PlaceOrderRequest): Promise<SupplierOrder> {
    return this.call('POST', '/orders', request);
  }

  orderByRequestId(requestId: string): Promise<SupplierOrder | undefined> {
    return this.call<SupplierOrder>('GET', `/orders/by-request/${encodeURIComponent(requestId)}`).catch((err) => {
      if (err instanceof SupplierRejectedError && err.details?.status === 404) return undefined;
      throw err;
    });
  }

  order(supplierOrderId: string): Promise<SupplierOrder> {
    return this.call('GET', `/orders/${encodeURIComponent(supplierOrderId)}`);
  }

  async deliveredCodes(supplierOrderId: string): Promise<DeliveredCode[]> {
    const body = await this.call<{ codes: DeliveredCode[] } | DeliveredCode[]>('GET', `/orders/${encodeURIComponent(supplierOrderId)}/codes`);
    return Array.isArray(body) ? body : body.codes;
  }

  /** After-sales: the supplier's check of a card code it sold us, by serial: valid, used or invalid. */
  async checkCode(input: { serial: string; sku?: string }): Promise<{ serial: string; verdict: 'valid' | 'used' | 'invalid'; usedAt?: string; detail?: string }> {
    return this.call('POST', '/codes/check', input);
  }

  /** After-sales: whether a top-up the supplier reported as done actually reached the account. */
  async topUpDelivery(requestId: string): Promise<{ requestId: string; delivery: 'delivered' | 'not_delivered'; detail?: string }> {
    return this.call('GET', `/orders/by-request/${encodeURIComponent(requestId)}/delivery`);
  }

  async balance(): Promise<number> {
    const body = await this.call<{ balanceFen: number }>('GET', '/balance');
    return body.balanceFen;
  }

  /** The supplier's daily statement file, as bytes (CSV, GBK CSV or XLSX). */
  async statement(date: string): Promise<{ body: Buffer; contentType: string }> {
    const response = await this.fetch('GET', `/statements/${date}`);
    return { body: Buffer.from(await response.arrayBuffer()), contentType: response.headers.get('content-type') ?? '' };
  }

  /**
   * Streams the day's statement to a file (never whole in memory). Undefined while the supplier
   * has not published it yet; written to `<file>.partial` first so a cut download leaves nothing.
   */
  async downloadStatement(date: string, file: string): Promise<{ bytes: number; contentType: string } | undefined> {
    let response: Response;
    try {
      response = await this.fetch('GET', `/statements/${date}`);
    } catch (err) {
      if (err instanceof SupplierRejectedError && err.details?.status === 404) return undefined;
      throw err;
    }
    const partial = `${file}.partial`;
    try {
      await pipeline(Readable.fromWeb(response.body as WebReadableStream), createWriteStream(partial));
    } catch (err) {
      await fs.rm(partial, { force: true });
      throw new SupplierUnavailableError(`statement download for ${date} was cut: ${(err as Error).message}`);
    }
    await fs.rename(partial, file);
    return { bytes: (await fs.stat(file)).size, contentType: response.headers.get('content-type') ?? '' };
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.fetch(method, path, body);
    return (await response.json()) as T;
  }

  private async fetch(method: string, path: string, body?: unknown): Promise<Response> {
    const url = `${this.endpoint.baseUrl}${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: { 'X-Api-Key': this.#apiKey, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.endpoint.timeoutMs ?? 10_000),
      });
    } catch (err) {
      const reason = (err as Error).name === 'TimeoutError' ? `timed out after ${this.endpoint.timeoutMs ?? 10_000} ms` : (err as Error).message;
      throw new SupplierUnavailableError(`${method} ${url}: ${reason}`, { url });
    }
    if (response.ok) return response;
    const text = await response.text().catch(() => '');
    let code = `HTTP_${response.status}`;
    let message = text.slice(0, 300);
    try {
      const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
      code = parsed.error?.code ?? code;
      message = parsed.error?.message ?? message;
    } catch {
      // not JSON: keep the raw text
    }
    const details = { url, status: response.status, supplierCode: code };
    if (response.status >= 500 || response.status === 429) {
      throw new SupplierUnavailableError(`${method} ${url}: ${response.status} ${code} ${message}`, details);
    }
    throw new SupplierRejectedError(`${method} ${url}: ${code}: ${message}`, details);
  }
}
