import { KamengError } from '../errors.ts';

/** Why a reseller API request was refused before it did anything. Codes are part of the API. */
export type ApiAuthCode =
  | 'MISSING_SIGNATURE'
  | 'UNKNOWN_API_KEY'
  | 'STALE_TIMESTAMP'
  | 'BAD_SIGNATURE'
  | 'REPLAYED_NONCE'
  | 'RESELLER_SUSPENDED'
  | 'IP_NOT_ALLOWED';

export class ApiAuthError extends KamengError {
  constructor(code: ApiAuthCode, message: string) {
    super(code, message);
  }
}
