/** `ops:write`: an operator acting through the /ops API (the orphan ledger's actions, issue 17). */
export const SCOPES = ['scim:read', 'scim:write', 'ops:read', 'ops:write'] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/**
 * `scim:write` implies `scim:read`: an IdP that provisions must also look resources up. Likewise
 * `ops:write` implies `ops:read`: an operator acts on what they can see.
 */
export function grants(held: readonly string[], needed: Scope): boolean {
  if (held.includes(needed)) return true;
  return (needed === 'scim:read' && held.includes('scim:write')) || (needed === 'ops:read' && held.includes('ops:write'));
}
