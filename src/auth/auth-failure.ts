/**
 * The vocabulary of authentication and authorization failures. Each carries a reason code (for
 * the journal and metrics), a detail a client developer can act on, and the RFC 6750 challenge.
 * Nothing here ever holds the presented secret; `claimed` is an unverified, non-secret hint
 * (a token's kid, iss or client id) so the journal can say who appeared to be knocking.
 */
import { ScimError } from '../scim/errors.js';

export type AuthFailureReason =
  | 'missing_credentials'
  | 'malformed_header'
  | 'unknown_token'
  | 'token_expired'
  | 'token_not_yet_valid'
  | 'wrong_audience'
  | 'wrong_issuer'
  | 'algorithm_not_allowed'
  | 'unknown_key'
  | 'bad_signature'
  | 'invalid_token'
  | 'client_revoked'
  | 'insufficient_scope';

export interface AuthFailureContext {
  /** Unverified, non-secret identity hints: issuer, subject, key id, client id. */
  claimed?: Record<string, string>;
  /** The principal's name, when the failure is a 403 for an authenticated caller. */
  principal?: string;
}

/** RFC 6750 §3: quoted-string values must not contain `"` or `\`. */
const quoted = (value: string) => value.replace(/["\\]/g, "'");

export class AuthFailure extends ScimError {
  override name = 'AuthFailure';

  constructor(
    status: 401 | 403,
    readonly reason: AuthFailureReason,
    detail: string,
    readonly context: AuthFailureContext = {},
    extra: { scope?: string } = {},
  ) {
    super(status, undefined, detail, { 'WWW-Authenticate': challenge(reason, detail, extra.scope) });
  }
}

function challenge(reason: AuthFailureReason, detail: string, scope: string | undefined): string {
  if (reason === 'missing_credentials') return 'Bearer realm="roster"';
  if (reason === 'malformed_header') return `Bearer realm="roster", error="invalid_request", error_description="${quoted(detail)}"`;
  if (reason === 'insufficient_scope') return `Bearer realm="roster", error="insufficient_scope", scope="${quoted(scope ?? '')}"`;
  return `Bearer realm="roster", error="invalid_token", error_description="${quoted(detail)}"`;
}

/** What a credential check returns instead of throwing: a principal, or why there is none. */
export type Verification<P> =
  | { ok: true; principal: P }
  | { ok: false; reason: Exclude<AuthFailureReason, 'insufficient_scope' | 'missing_credentials' | 'malformed_header'>; detail: string; claimed?: Record<string, string> };
