/**
 * Resolves a bearer token to a principal. Verified tokens are cached for a few seconds so that a
 * read does not cost an extra database round trip; a revocation therefore takes effect within
 * TOKEN_CACHE_MS in every process (no correctness depends on this cache beyond that delay).
 */
import { timingSafeEqual } from 'node:crypto';
import type { Knex } from 'knex';
import { SCOPES } from './scopes.js';
import { findActiveToken, hashToken, touchToken } from './token-store.js';

export interface Principal {
  name: string;
  scopes: readonly string[];
  tokenId?: string;
}

const TOKEN_CACHE_MS = 5_000;
const TOUCH_INTERVAL_MS = 60_000;

export class Authenticator {
  private readonly cache = new Map<string, { principal: Principal | undefined; until: number }>();
  private readonly lastTouched = new Map<string, number>();
  private readonly bootstrapHash: Buffer | undefined;

  constructor(
    private readonly db: Knex,
    bootstrapToken: string | undefined,
  ) {
    this.bootstrapHash = bootstrapToken ? Buffer.from(hashToken(bootstrapToken), 'hex') : undefined;
  }

  async authenticate(token: string): Promise<Principal | undefined> {
    if (this.bootstrapHash && timingSafeEqual(Buffer.from(hashToken(token), 'hex'), this.bootstrapHash)) {
      return { name: 'bootstrap', scopes: SCOPES };
    }
    const key = hashToken(token);
    const now = Date.now();
    const cached = this.cache.get(key);
    if (cached && cached.until > now) return cached.principal;
    const record = await findActiveToken(this.db, token);
    const principal = record ? { name: record.name, scopes: record.scopes, tokenId: record.id } : undefined;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(key, { principal, until: now + TOKEN_CACHE_MS });
    if (record && now - (this.lastTouched.get(record.id) ?? 0) > TOUCH_INTERVAL_MS) {
      this.lastTouched.set(record.id, now);
      void touchToken(this.db, record.id).catch(() => undefined);
    }
    return principal;
  }
}
