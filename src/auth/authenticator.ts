/**
 * Resolves a bearer credential to a principal. Three kinds are accepted:
 * - static tokens (`token create`, or ROSTER_BOOTSTRAP_TOKEN), stored hashed;
 * - Roster's own access tokens from POST /oauth/token (JWTs whose `iss` is Roster);
 * - JWTs from an external authorization server (ROSTER_JWT_ISSUER / _AUDIENCE / ROSTER_JWKS_URL).
 * A JWT is routed by its (unverified) `iss` only to choose the verifier; the verifier then checks
 * issuer, audience, algorithm, signature and times itself.
 * Verified static tokens are cached for a few seconds so that a read does not cost an extra
 * database round trip; a revocation therefore takes effect within TOKEN_CACHE_MS in every process
 * (no correctness depends on this cache beyond that delay).
 */
import { timingSafeEqual } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { Knex } from 'knex';
import type { Verification } from './auth-failure.js';
import type { ExternalJwtVerifier } from './external-jwt.js';
import { SCOPES } from './scopes.js';
import { findActiveToken, hashToken, touchToken } from './token-store.js';

export interface Principal {
  name: string;
  scopes: readonly string[];
  tokenId?: string;
  /** Stable identity of the credential (token id, OAuth client id, issuer + subject): the rate-limit key. */
  subject?: string;
}

/**
 * Verifies the access tokens one issuer signs: Roster's own client-credentials tokens
 * (src/oauth/access-tokens.ts implements it; the OAuth issuer sits above authentication).
 */
export interface IssuerTokenVerifier {
  readonly identity: { issuer: string };
  verify(token: string, claimed: Record<string, string>): Promise<Verification<Principal>>;
}

export interface AuthenticatorOptions {
  /** Verifies Roster's own client-credentials access tokens. */
  rosterTokens?: IssuerTokenVerifier | undefined;
  /** Verifies JWTs from an external authorization server. */
  externalJwt?: ExternalJwtVerifier | undefined;
}

const TOKEN_CACHE_MS = 5_000;
const TOUCH_INTERVAL_MS = 60_000;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Unverified claims worth journaling: they identify the caller and are never secret. */
function claimedIdentity(token: string): Record<string, string> | undefined {
  try {
    const header = decodeProtectedHeader(token);
    const payload = decodeJwt(token);
    const hints: Record<string, unknown> = { iss: payload.iss, sub: payload.sub, client_id: payload.client_id, kid: header.kid, alg: header.alg };
    return Object.fromEntries(Object.entries(hints).filter((e): e is [string, string] => typeof e[1] === 'string').map(([k, v]) => [k, v.slice(0, 200)]));
  } catch {
    return undefined;
  }
}

export class Authenticator {
  private readonly cache = new Map<string, { principal: Principal | undefined; until: number }>();
  private readonly lastTouched = new Map<string, number>();
  private readonly bootstrapHash: Buffer | undefined;

  constructor(
    private readonly db: Knex,
    bootstrapToken: string | undefined,
    private readonly options: AuthenticatorOptions = {},
  ) {
    this.bootstrapHash = bootstrapToken ? Buffer.from(hashToken(bootstrapToken), 'hex') : undefined;
  }

  /** The principal, or undefined for any credential that is not accepted. */
  async authenticate(token: string): Promise<Principal | undefined> {
    const result = await this.verify(token);
    return result.ok ? result.principal : undefined;
  }

  /** The principal, or the reason the credential is not accepted. */
  async verify(token: string): Promise<Verification<Principal>> {
    if (this.bootstrapHash && timingSafeEqual(Buffer.from(hashToken(token), 'hex'), this.bootstrapHash)) {
      return { ok: true, principal: { name: 'bootstrap', scopes: SCOPES, subject: 'bootstrap' } };
    }
    if (JWT_SHAPE.test(token)) return this.verifyJwt(token);
    const principal = await this.staticToken(token);
    return principal ? { ok: true, principal } : { ok: false, reason: 'unknown_token', detail: 'The bearer token is not valid or has been revoked' };
  }

  private async verifyJwt(token: string): Promise<Verification<Principal>> {
    const claimed = claimedIdentity(token);
    if (!claimed) return { ok: false, reason: 'invalid_token', detail: 'The bearer token looks like a JWT but cannot be decoded' };
    const { rosterTokens, externalJwt } = this.options;
    if (rosterTokens && claimed.iss === rosterTokens.identity.issuer) return rosterTokens.verify(token, claimed);
    if (externalJwt) return externalJwt.verify(token, claimed);
    return { ok: false, reason: 'wrong_issuer', detail: 'This server accepts JWTs only from its own token endpoint (/oauth/token)', claimed };
  }

  private async staticToken(token: string): Promise<Principal | undefined> {
    const key = hashToken(token);
    const now = Date.now();
    const cached = this.cache.get(key);
    if (cached && cached.until > now) return cached.principal;
    const record = await findActiveToken(this.db, token);
    const principal = record ? { name: record.name, scopes: record.scopes, tokenId: record.id, subject: `token:${record.id}` } : undefined;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(key, { principal, until: now + TOKEN_CACHE_MS });
    if (record && now - (this.lastTouched.get(record.id) ?? 0) > TOUCH_INTERVAL_MS) {
      this.lastTouched.set(record.id, now);
      void touchToken(this.db, record.id).catch(() => undefined);
    }
    return principal;
  }
}
