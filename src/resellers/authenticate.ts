import type { Db } from '../db/knex.ts';
import { runPrepared } from '../db/prepared.ts';
import type { SqlPart } from '../db/sql-part.ts';
import { allowlistMatcher } from './admin.ts';
import { ApiAuthError } from './errors.ts';
import { toReseller, type Reseller, type ResellerRegistry } from './registry.ts';
import { MAX_CLOCK_SKEW_MS, SIGNATURE_HEADERS, sign, signatureMatches } from './signature.ts';

export interface IncomingRequest {
  method: string;
  /** Path with query string, exactly as sent. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  rawBody: Buffer;
  /** The client's address (checked against the reseller's IP allowlist, when it has one). */
  remoteAddress?: string;
}

const header = (req: IncomingRequest, name: string) => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * Who a request acts for. Its nonce is claimed (recorded as used) and the reseller read as it is
 * now either by claim(), or inside the statement that does the work, through claimCtes(): a card
 * order then costs one round trip in all.
 */
export interface Caller {
  resellerId: number;
  /** Claims the nonce once and returns the reseller; a replayed nonce or a suspended reseller throws. */
  claim(): Promise<Reseller>;
  /**
   * The claim as CTEs for the statement that acts on it: `nonce (reseller_id)` has a row if the nonce
   * was fresh, `claimant (id, tier)` if also the reseller is active. Bindings included.
   */
  claimCtes(): SqlPart;
  /** After a statement with claimCtes() that did nothing: the reseller, or why the claim failed. */
  claimedBy(nonceWasFresh: boolean): Promise<Reseller>;
}

/**
 * Verifies a signed reseller request: known key, fresh timestamp, valid signature, then (when the
 * caller is claimed) unused nonce and active reseller, in that order. The nonce is recorded only for
 * a correctly signed request, so a forger cannot burn a reseller's nonces.
 */
export class RequestAuthenticator {
  /**
   * API key -> reseller id, secrets and allowlist, kept at most CREDENTIALS_KEPT_MS: a rotation, a
   * revoked old secret or a new allowlist reach every API host within that. A signature that matches
   * no kept secret is checked once more against the database (a secret rotated a moment ago).
   */
  private readonly secrets = new Map<string, KeptCredentials>();

  constructor(private readonly db: Db, private readonly resellers: ResellerRegistry, private readonly now = () => Date.now()) {}

  private async secretFor(apiKey: string, fresh = false): Promise<KeptCredentials | undefined> {
    const known = this.secrets.get(apiKey);
    if (known && !fresh && this.now() - known.fetchedAt < CREDENTIALS_KEPT_MS) return known;
    const credentials = await this.resellers.credentialsFor(apiKey);
    if (!credentials) return undefined;
    const entry: KeptCredentials = {
      id: credentials.reseller.id, apiSecret: credentials.apiSecret, previousSecret: credentials.previousSecret,
      previousSecretUntil: credentials.previousSecretUntil, allows: allowlistMatcher(credentials.reseller.ipAllowlist), fetchedAt: this.now(),
    };
    if (this.secrets.size > 50_000) this.secrets.clear();
    this.secrets.set(apiKey, entry);
    return entry;
  }

  /** The current secret, or the previous one while its overlap window lasts. */
  private signedWith(credentials: KeptCredentials, expected: (secret: string) => string, signature: string): boolean {
    if (signatureMatches(expected(credentials.apiSecret), signature)) return true;
    return credentials.previousSecret !== undefined && (credentials.previousSecretUntil ?? 0) > this.now()
      && signatureMatches(expected(credentials.previousSecret), signature);
  }

  /** Verifies and claims at once: what every endpoint but card orders uses. */
  async authenticate(req: IncomingRequest): Promise<Reseller> {
    return (await this.verify(req)).claim();
  }

  /** Checks the signature (no write); the returned caller claims the nonce when asked. */
  async verify(req: IncomingRequest): Promise<Caller> {
    const apiKey = header(req, SIGNATURE_HEADERS.key);
    const timestamp = header(req, SIGNATURE_HEADERS.timestamp);
    const nonce = header(req, SIGNATURE_HEADERS.nonce);
    const signature = header(req, SIGNATURE_HEADERS.signature);
    const missing = Object.entries({ [SIGNATURE_HEADERS.key]: apiKey, [SIGNATURE_HEADERS.timestamp]: timestamp, [SIGNATURE_HEADERS.nonce]: nonce, [SIGNATURE_HEADERS.signature]: signature })
      .filter(([, v]) => !v)
      .map(([k]) => k);
    if (missing.length) throw new ApiAuthError('MISSING_SIGNATURE', `missing header(s): ${missing.join(', ')}`);
    if (!/^[A-Za-z0-9_-]{8,64}$/.test(nonce!)) throw new ApiAuthError('MISSING_SIGNATURE', `${SIGNATURE_HEADERS.nonce} must be 8-64 letters, digits, _ or -`);

    const ts = Number(timestamp);
    if (!Number.isSafeInteger(ts) || Math.abs(this.now() - ts) > MAX_CLOCK_SKEW_MS) {
      throw new ApiAuthError('STALE_TIMESTAMP', `${SIGNATURE_HEADERS.timestamp} must be Unix milliseconds within 5 minutes of server time (server time ${this.now()})`);
    }
    let credentials = await this.secretFor(apiKey!);
    if (!credentials) throw new ApiAuthError('UNKNOWN_API_KEY', 'unknown API key');
    const expected = (secret: string) => sign(secret, req.method, req.path, timestamp!, nonce!, req.rawBody);
    // read again at most once a second per key: a flood of bad signatures does not become a flood of reads
    if (!this.signedWith(credentials, expected, signature!)) {
      if (this.now() - credentials.fetchedAt >= 1000) credentials = await this.secretFor(apiKey!, true);
      if (!credentials || !this.signedWith(credentials, expected, signature!)) {
        throw new ApiAuthError('BAD_SIGNATURE', 'signature does not match: sign METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nhex(sha256(body)) with HMAC-SHA256 and your secret (a secret replaced by a rotation is accepted only during its overlap window)');
      }
    }
    if (credentials.allows && !(req.remoteAddress && credentials.allows(req.remoteAddress))) {
      throw new ApiAuthError('IP_NOT_ALLOWED', `requests for this API key are accepted only from its IP allowlist; this one came from ${req.remoteAddress ?? 'an unknown address'}`);
    }
    return this.signedCaller(credentials.id, nonce!);
  }

  private signedCaller(resellerId: number, nonce: string): Caller {
    let claimed: Promise<Reseller> | undefined;
    return {
      resellerId,
      // One round trip: record the nonce and read the reseller as it is now (status, tier).
      claim: () => (claimed ??= runPrepared(this.db,
        `WITH fresh AS (INSERT INTO api_nonces (reseller_id, nonce) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING 1)
         SELECT r.*, (SELECT count(*) FROM fresh)::int AS fresh FROM resellers r WHERE r.id = ?`,
        [resellerId, nonce, resellerId],
      ).then(({ rows: [row] }) => admitted(row, row?.fresh === 1, nonce))),
      claimCtes: () => (claimed ? knownClaimantCtes(resellerId) : {
        sql: `nonce AS (INSERT INTO api_nonces (reseller_id, nonce) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING reseller_id),
              claimant AS MATERIALIZED (SELECT r.id, r.tier FROM resellers r JOIN nonce n ON n.reseller_id = r.id WHERE r.status = 'active')`,
        bindings: [resellerId, nonce],
      }),
      claimedBy: (fresh) => (claimed ??= resellerNow(this.db, resellerId).then((row) => admitted(row, fresh, nonce))),
    };
  }

  /** See pruneNonces(). */
  async pruneNonces(): Promise<number> {
    return pruneNonces(this.db);
  }
}

/** How long an API host keeps a reseller's credentials before reading them again. */
export const CREDENTIALS_KEPT_MS = 60_000;

interface KeptCredentials {
  id: number;
  apiSecret: string;
  previousSecret?: string;
  previousSecretUntil?: number;
  allows?: (address: string) => boolean;
  fetchedAt: number;
}

/**
 * A nonce first seen at S came with a timestamp within the window of S, so a replay of it is refused
 * for its timestamp from S + 2 windows on: from then the row is not needed. One more minute for the
 * clocks of several API hosts; the database's clock on both sides (seen_at is its now()). Deleted in
 * batches, so a backlog never holds long locks. Run by the housekeeping schedule.
 */
export const NONCE_KEPT_MS = 2 * MAX_CLOCK_SKEW_MS + 60_000;
export async function pruneNonces(db: Db, batch = 10_000): Promise<number> {
  let pruned = 0;
  for (;;) {
    const { rowCount } = await db.raw(
      `DELETE FROM api_nonces WHERE ctid = ANY (ARRAY(
         SELECT ctid FROM api_nonces WHERE seen_at < now() - make_interval(secs => ?) LIMIT ?))`,
      [NONCE_KEPT_MS / 1000, batch],
    );
    pruned += rowCount ?? 0;
    if ((rowCount ?? 0) < batch) return pruned;
  }
}

/** A reseller acting without a signed request (the demo, the CLI): nothing to claim. */
export function trustedCaller(db: Db, reseller: Reseller): Caller {
  return {
    resellerId: reseller.id,
    claim: async () => reseller,
    claimCtes: () => knownClaimantCtes(reseller.id),
    claimedBy: async () => admitted(await resellerNow(db, reseller.id), true, ''),
  };
}

const resellerNow = (db: Db, id: number): Promise<Record<string, any> | undefined> => db('resellers').where({ id }).first();

/** A claim's outcome: the reseller as it is now, or why the request is refused. */
function admitted(row: Record<string, any> | undefined, fresh: boolean, nonce: string): Reseller {
  if (!row) throw new ApiAuthError('UNKNOWN_API_KEY', 'unknown API key');
  if (!fresh) throw new ApiAuthError('REPLAYED_NONCE', `nonce ${nonce} was already used: every request needs a new one`);
  if (row.status !== 'active') throw new ApiAuthError('RESELLER_SUSPENDED', 'this reseller account is suspended');
  return toReseller(row);
}

/** The claim CTEs for a reseller already admitted: nothing to record, only its status to check. */
const knownClaimantCtes = (resellerId: number): SqlPart => ({
  sql: `nonce AS (SELECT ?::bigint AS reseller_id),
        claimant AS MATERIALIZED (SELECT r.id, r.tier FROM resellers r WHERE r.id = ? AND r.status = 'active')`,
  bindings: [resellerId, resellerId],
});
