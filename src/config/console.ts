/**
 * The ops console's settings (docs/console.md): who may sign in and how long a session lasts.
 * Read from the environment with the rest of the configuration in env.ts.
 */

/** Console roles (docs/decisions/0501-console-sign-in-and-sessions.md); a person may hold several. */
export const CONSOLE_ROLES = ['viewer', 'operator', 'auditor', 'requester'] as const;
export type ConsoleRole = (typeof CONSOLE_ROLES)[number];

export interface ConsoleOidcSettings {
  issuer: string;
  clientId: string;
  /** Unset: a public client (PKCE alone, no client authentication at the token endpoint). */
  clientSecret: string | undefined;
  redirectUri: string;
  scopes: string[];
  /** The ID token / userinfo claim holding the person's groups or roles (a string or a list). */
  rolesClaim: string;
  /** Claim value → console roles it gives. */
  roleMap: ReadonlyMap<string, readonly ConsoleRole[]>;
}

export interface ConsoleSettings {
  /** Undefined: no SSO sign-in is configured. */
  oidc: ConsoleOidcSettings | undefined;
  /** Sign-in with a Roster bearer token (the quick start). */
  tokenSignIn: boolean;
  idleMs: number;
  absoluteMs: number;
}

const isRole = (value: string): value is ConsoleRole => (CONSOLE_ROLES as readonly string[]).includes(value);

/**
 * "Roster-Operators=operator,Roster-Auditors=auditor,Staff=viewer": claim value = role, comma
 * separated; a value may appear more than once to give several roles. Returns the problem as text.
 */
export function parseRoleMap(text: string): Map<string, ConsoleRole[]> | string {
  const map = new Map<string, ConsoleRole[]>();
  for (const pair of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const at = pair.lastIndexOf('=');
    const value = at > 0 ? pair.slice(0, at).trim() : '';
    const role = at > 0 ? pair.slice(at + 1).trim().toLowerCase() : '';
    if (!value || !role) return `"${pair}" must be claim-value=role`;
    if (!isRole(role)) return `"${role}" in "${pair}" is not a console role; use ${CONSOLE_ROLES.join(', ')}`;
    const roles = map.get(value) ?? [];
    if (!roles.includes(role)) roles.push(role);
    map.set(value, roles);
  }
  if (map.size === 0) return 'maps no claim value to a role';
  return map;
}

/** The console roles a person's claim values give, in CONSOLE_ROLES order. */
export function rolesFromClaim(claim: unknown, roleMap: ReadonlyMap<string, readonly ConsoleRole[]>): ConsoleRole[] {
  const values = Array.isArray(claim) ? claim : typeof claim === 'string' ? claim.split(/[\s,]+/) : [];
  const held = new Set<ConsoleRole>();
  for (const value of values) if (typeof value === 'string') for (const role of roleMap.get(value) ?? []) held.add(role);
  return CONSOLE_ROLES.filter((r) => held.has(r));
}
