/**
 * Scopes of an OAuth 2.0 access token: RFC 8693/9068 `scope` (space-delimited string) or the
 * `scp` claim that Okta (array) and Entra ID (space-delimited string) use. Scopes Roster does not
 * know are dropped, so a token carrying `openid profile scim:write` grants exactly `scim:write`.
 */
import type { JWTPayload } from 'jose';
import { isScope, type Scope } from './scopes.js';

function asList(value: unknown): string[] {
  if (typeof value === 'string') return value.split(/\s+/).filter(Boolean);
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

export function scopesFromClaims(payload: JWTPayload): Scope[] {
  const all = [...asList(payload.scope), ...asList(payload.scp)];
  return [...new Set(all.filter(isScope))];
}
