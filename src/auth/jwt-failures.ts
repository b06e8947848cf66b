/**
 * Turns jose's verification errors into Roster's failure reasons with a detail a client developer
 * can act on. Errors that are not the token's fault (the issuer's key set cannot be fetched) are
 * returned as `undefined` so the caller can answer 503 instead of blaming the client.
 */
import { errors } from 'jose';
import type { Verification } from './auth-failure.js';

type Failure = Extract<Verification<never>, { ok: false }>;

export function jwtFailure(error: unknown, claimed: Record<string, string>): Failure | undefined {
  const fail = (reason: Failure['reason'], detail: string): Failure => ({ ok: false, reason, detail, claimed });
  if (error instanceof errors.JWTExpired) return fail('token_expired', 'The token has expired; request a new one');
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return fail('token_not_yet_valid', 'The token is not valid yet (nbf is in the future); check the clocks');
    if (error.claim === 'aud') return fail('wrong_audience', 'The token was issued for another audience');
    if (error.claim === 'iss') return fail('wrong_issuer', 'The token was issued by an issuer this server does not accept');
    if (error.claim === 'iat') return fail('token_not_yet_valid', 'The token was issued in the future; check the clocks');
    return fail('invalid_token', `The token's "${error.claim}" claim is not acceptable`);
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return fail('algorithm_not_allowed', 'The token is signed with an algorithm this server does not accept');
  if (error instanceof errors.JWKSNoMatchingKey) return fail('unknown_key', 'The token is signed with a key the issuer does not publish');
  if (error instanceof errors.JWKSMultipleMatchingKeys) return fail('unknown_key', 'The token does not name its key (kid) and the issuer publishes several');
  if (error instanceof errors.JWSSignatureVerificationFailed) return fail('bad_signature', 'The token signature is not valid');
  if (error instanceof errors.JWTInvalid || error instanceof errors.JWSInvalid || error instanceof errors.JOSENotSupported) {
    return fail('invalid_token', 'The token is not a well-formed signed JWT');
  }
  return undefined;
}

/** The key set of an external issuer could not be fetched or parsed: not the client's fault. */
export class KeySetUnavailable extends Error {
  override name = 'KeySetUnavailable';
}
