export const SCOPES = ['scim:read', 'scim:write', 'ops:read'] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/** `scim:write` implies `scim:read`: an IdP that provisions must also look resources up. */
export function grants(held: readonly string[], needed: Scope): boolean {
  if (held.includes(needed)) return true;
  return needed === 'scim:read' && held.includes('scim:write');
}
