/**
 * Who Roster is when it issues access tokens. The issuer is ROSTER_PUBLIC_URL when set (what
 * RFC 8414 metadata expects), otherwise a fixed URN so every process of one deployment agrees
 * without configuration. The audience names the SCIM API these tokens are good for.
 */
export interface RosterTokenIdentity {
  issuer: string;
  audience: string;
}

export function rosterTokenIdentity(publicUrl: string | undefined): RosterTokenIdentity {
  return { issuer: publicUrl ?? 'urn:roster', audience: 'urn:roster:scim' };
}

/** The JWS algorithm of Roster's own keys: P-256 ECDSA, small and fast to verify. */
export const ROSTER_SIGNING_ALGORITHM = 'ES256';
