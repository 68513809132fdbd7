import { hkdfSync, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../errors.ts';

/** Keys for separate purposes, derived from one master key so that only one secret is managed. */
export interface Keys {
  /** Seals card codes at rest. */
  cardCodes: Buffer;
  /** Keyed fingerprint of card codes, for dedup without decrypting. */
  cardFingerprint: Buffer;
  /** Seals reseller API secrets. */
  resellerSecrets: Buffer;
  /** Seals supplier API keys and callback secrets. */
  supplierSecrets: Buffer;
  /** Seals alert robot URLs and secrets (src/alerts). */
  alertSecrets: Buffer;
}

export function deriveKeys(master: Buffer): Keys {
  const derive = (purpose: string) => Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `kameng:${purpose}`, 32));
  return { cardCodes: derive('card-codes'), cardFingerprint: derive('card-fingerprint'), resellerSecrets: derive('reseller-secrets'),
    supplierSecrets: derive('supplier-secrets'), alertSecrets: derive('alert-secrets') };
}

/** KAMENG_MASTER_KEY: 32 bytes as 64 hex characters or base64. */
export function parseMasterKey(text: string): Buffer {
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length !== 32) throw new ConfigError(['KAMENG_MASTER_KEY: must be 32 bytes, as 64 hex characters or base64']);
  return key;
}

/**
 * The master key from KAMENG_MASTER_KEY, or, for a local install, from <dataDir>/master.key
 * (created once, readable by its owner only). Losing it makes sealed card codes unreadable.
 */
export async function loadMasterKey(configured: string | undefined, dataDir: string): Promise<Buffer> {
  if (configured) return parseMasterKey(configured);
  const file = path.join(dataDir, 'master.key');
  const existing = await fs.readFile(file, 'utf8').catch(() => undefined);
  if (existing) return parseMasterKey(existing.trim());
  await fs.mkdir(dataDir, { recursive: true });
  const key = randomBytes(32);
  await fs.writeFile(file, key.toString('hex'), { mode: 0o600, flag: 'wx' }).catch(async () => undefined);
  return parseMasterKey((await fs.readFile(file, 'utf8')).trim());
}
