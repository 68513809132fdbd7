import { KamengError } from '../errors.ts';

export class UnknownSkuError extends KamengError {
  constructor(sku: string) {
    super('UNKNOWN_SKU', `unknown SKU "${sku}"`, { details: { sku } });
  }
}

export class NoPriceError extends KamengError {
  constructor(sku: string, tier: string) {
    super('NO_PRICE', `SKU ${sku} has no price for tier ${tier}`, { details: { sku, tier } });
  }
}
