/**
 * Roster's own access tokens (RFC 9068 JWTs, `typ: at+jwt`): short-lived, signed with the current
 * key from the SigningKeyStore, verified against any published key. A token of a revoked client
 * stops working within CLIENT_CACHE_MS in every process, not only when it expires.
 */
import { randomUUID } from 'node:crypto';
import { errors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import type { Knex } from 'knex';
import type { Verification } from '../auth/auth-failure.js';
import { jwtFailure } from '../auth/jwt-failures.js';
import { scopesFromClaims } from '../auth/jwt-scopes.js';
import type { Scope } from '../auth/scopes.js';
import { findActiveClient, type ClientRecord } from './client-store.js';
import { ROSTER_SIGNING_ALGORITHM, type RosterTokenIdentity } from './issuer.js';
import type { SigningKeyStore } from './signing-keys.js';

const CLIENT_CACHE_MS = 5_000;
/** Roster verifies its own tokens; the processes share one database clock within seconds. */
const OWN_CLOCK_SKEW_SECONDS = 5;
/** ROSTER_OAUTH_TOKEN_TTL_SECONDS's upper bound (src/config/env.ts). */
const MAX_TOKEN_TTL_SECONDS = 86_400;

export interface ClientPrincipal {
  name: string;
  subject: string;
  scopes: Scope[];
}

export class RosterAccessTokens {
  private readonly clients = new Map<string, { client: ClientRecord | undefined; until: number }>();

  constructor(
    private readonly db: Knex,
    private readonly keys: SigningKeyStore,
    readonly identity: RosterTokenIdentity,
    readonly ttlSeconds: number,
  ) {}

  async issue(client: ClientRecord, scopes: readonly string[]): Promise<string> {
    const { kid, key } = await this.keys.signingKey();
    return new SignJWT({ scope: scopes.join(' '), client_id: client.clientId })
      .setProtectedHeader({ alg: ROSTER_SIGNING_ALGORITHM, kid, typ: 'at+jwt' })
      .setIssuer(this.identity.issuer)
      .setAudience(this.identity.audience)
      .setSubject(client.clientId)
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .setJti(randomUUID())
      .sign(key);
  }

  async verify(token: string, claimed: Record<string, string>): Promise<Verification<ClientPrincipal>> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(
        token,
        async (header) => {
          const key = await this.keys.verificationKey(header.kid);
          if (!key) throw new errors.JWKSNoMatchingKey();
          return key;
        },
        {
          issuer: this.identity.issuer,
          audience: this.identity.audience,
          algorithms: [ROSTER_SIGNING_ALGORITHM],
          typ: 'at+jwt',
          clockTolerance: OWN_CLOCK_SKEW_SECONDS,
          // Makes jose check iat: one in the future (beyond the skew) is refused. No token of
          // Roster's lives longer than the largest TTL it can be configured with.
          maxTokenAge: MAX_TOKEN_TTL_SECONDS,
          requiredClaims: ['exp', 'sub'],
        },
      ));
    } catch (error) {
      const failure = jwtFailure(error, claimed);
      if (failure) return failure;
      throw error;
    }
    const client = await this.activeClient(String(payload.sub));
    if (!client) return { ok: false, reason: 'client_revoked', detail: 'The OAuth client of this token has been revoked', claimed };
    return { ok: true, principal: { name: client.name, subject: `client:${client.clientId}`, scopes: scopesFromClaims(payload) } };
  }

  private async activeClient(clientId: string): Promise<ClientRecord | undefined> {
    const now = Date.now();
    const cached = this.clients.get(clientId);
    if (cached && cached.until > now) return cached.client;
    const client = await findActiveClient(this.db, clientId);
    if (this.clients.size > 10_000) this.clients.clear();
    this.clients.set(clientId, { client, until: now + CLIENT_CACHE_MS });
    return client;
  }
}
