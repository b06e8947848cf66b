/**
 * Separation of duties for an access request: the roles the catalog entry conflicts with (the
 * policy's `conflicts` for the roles granting the access, plus those the entry names) must not be
 * held by the person, by a rule (policy_roles) or in effect (a membership of a group such a role
 * grants, e.g. an exception or an earlier request). Checked when the request is made and again at
 * every approval, since the person's roles may have changed in between.
 */
import type { Knex } from 'knex';
import type { CatalogEntry } from '../policy/catalog.js';
import type { Policy } from '../policy/policy-file.js';

/** The conflicting roles the person holds, each with how: "rule" or the group that gives it. */
export async function conflictsHeld(db: Knex | Knex.Transaction, policy: Policy, entry: CatalogEntry, userId: string): Promise<string[]> {
  if (entry.conflictsWith.length === 0) return [];
  const roles = (await db('policy_roles').select('role').where({ user_id: userId }).whereIn('role', entry.conflictsWith)) as Array<{ role: string }>;
  const held = new Map<string, string>(roles.map((r) => [r.role, `${r.role} (by rule)`]));
  const granted = new Set(entry.grants.groups.map((g) => g.toLowerCase()));
  const groupsOfConflicts = new Map<string, string[]>();
  for (const role of policy.roles) {
    if (!entry.conflictsWith.includes(role.name) || held.has(role.name)) continue;
    for (const group of role.groups) if (!granted.has(group.toLowerCase())) groupsOfConflicts.set(group.toLowerCase(), [...(groupsOfConflicts.get(group.toLowerCase()) ?? []), role.name]);
  }
  if (groupsOfConflicts.size) {
    const { rows } = (await db.raw(
      `SELECT g.resource->>'displayName' AS name FROM group_members gm JOIN groups g ON g.id = gm.group_id
        WHERE gm.member_id = ? AND lower(g.resource->>'displayName') = ANY(?::text[])`,
      [userId, [...groupsOfConflicts.keys()]],
    )) as { rows: Array<{ name: string }> };
    for (const row of rows) for (const role of groupsOfConflicts.get(row.name.toLowerCase()) ?? []) if (!held.has(role)) held.set(role, `${role} (member of ${row.name})`);
  }
  return [...held.values()];
}
