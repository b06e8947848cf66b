/**
 * Bearer JWTs issued by an external authorization server (ROSTER_JWT_ISSUER / _AUDIENCE /
 * ROSTER_JWKS_URL). The issuer's key set is fetched with jose's remote JWKS, cached, and fetched
 * again when a token names a kid that is not in the cache (the issuer rotated its keys), at most
 * once per cooldown so a stream of made-up kids cannot turn into a stream of fetches.
 */
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type RemoteJWKSet } from 'jose';
import type { Verification } from './auth-failure.js';
import { jwtFailure, KeySetUnavailable } from './jwt-failures.js';
import { scopesFromClaims } from './jwt-scopes.js';
import type { Scope } from './scopes.js';

export interface ExternalJwtSettings {
  issuer: string;
  audience: string;
  jwksUrl: string;
  algorithms: string[];
  clockSkewSeconds: number;
  /** After a fetch, how long an unknown kid waits before it may trigger the next fetch. */
  jwksRefreshCooldownSeconds?: number;
}

export interface ExternalPrincipal {
  name: string;
  subject: string;
  scopes: Scope[];
}

/** Claims that name the calling application, in the order identity providers fill them. */
const CLIENT_NAME_CLAIMS = ['client_id', 'azp', 'appid', 'cid', 'sub'] as const;

export class ExternalJwtVerifier {
  private readonly keys: RemoteJWKSet;

  constructor(
    readonly settings: ExternalJwtSettings,
    options: { cacheMaxAgeMs?: number; timeoutMs?: number } = {},
  ) {
    this.keys = createRemoteJWKSet(new URL(settings.jwksUrl), {
      cooldownDuration: (settings.jwksRefreshCooldownSeconds ?? 30) * 1000,
      cacheMaxAge: options.cacheMaxAgeMs ?? 600_000,
      timeoutDuration: options.timeoutMs ?? 5_000,
    });
  }

  async verify(token: string, claimed: Record<string, string>): Promise<Verification<ExternalPrincipal>> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        algorithms: this.settings.algorithms,
        clockTolerance: this.settings.clockSkewSeconds,
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      const failure = jwtFailure(error, claimed);
      if (failure) return failure;
      throw new KeySetUnavailable(`The key set at ${this.settings.jwksUrl} could not be used: ${(error as Error).message}`);
    }
    // jose checks iat only when given a maximum token age, and an external issuer's token lifetime
    // is its own business; a token issued in the future (beyond the skew) still means broken clocks
    // or a forged claim, so it is refused like a future nbf.
    if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + this.settings.clockSkewSeconds) {
      return { ok: false, reason: 'token_not_yet_valid', detail: 'The token was issued in the future (iat); check the clocks', claimed };
    }
    const name = CLIENT_NAME_CLAIMS.map((claim) => payload[claim]).find((value): value is string => typeof value === 'string' && value !== '') ?? 'jwt';
    return { ok: true, principal: { name, subject: `jwt:${payload.iss}:${payload.sub ?? name}`, scopes: scopesFromClaims(payload) } };
  }
}
