/**
 * Managed groups: the groups a policy names are created and owned by Roster (groups.managed_by).
 * The policy engine writes their memberships itself (reconcile-user.ts), through the member store,
 * inside the write path; SCIM clients may read them but not change them (managed-group-guard.ts).
 * Groups the IdP pushes, and that no policy names, stay the IdP's.
 */
import path from 'node:path';
import type { Knex } from 'knex';
import type { Actor } from '../journal/entry.js';
import { createGroup } from '../resources/groups.js';
import { GROUP_SCHEMA } from '../scim/schema/urns.js';
import type { WritePath } from '../write/write-path.js';
import { rolesGranting, type Policy } from './policy-file.js';

export interface ManagedGroup {
  id: string;
  name: string;
}

/** Groups by lower-cased display name, for the names given; `managedBy` is the policy file's name, or null for an IdP group. */
export async function groupsByName(db: Knex | Knex.Transaction, names: readonly string[]): Promise<Map<string, ManagedGroup & { managedBy: string | null }>> {
  const found = new Map<string, ManagedGroup & { managedBy: string | null }>();
  if (names.length === 0) return found;
  const { rows } = (await db.raw(
    `SELECT id, resource->>'displayName' AS name, managed_by AS "managedBy" FROM groups
     WHERE lower(resource->>'displayName') = ANY(?::text[])`,
    [names.map((n) => n.toLowerCase())],
  )) as { rows: Array<{ id: string; name: string; managedBy: string | null }> };
  for (const row of rows) found.set(row.name.toLowerCase(), row);
  return found;
}

/**
 * Creates the policy's groups that do not exist and marks them all as managed, in one write-path
 * transaction (journaled as group creates and `group.managed`). Returns the groups by lower-cased name.
 * A group already managed under another file's name (the policy now comes from new.yaml, say) is
 * relabelled, so the 400 mutability answer and `explain` name the file in force, not the first one.
 */
export async function ensureManagedGroups(writePath: WritePath, policy: Policy, actor: Actor): Promise<Map<string, ManagedGroup>> {
  const label = path.basename(policy.sourceName);
  return writePath.run(actor, async (context) => {
    const existing = await groupsByName(context.tx, [...policy.groups.keys()]);
    const result = new Map<string, ManagedGroup>();
    for (const [key, name] of policy.groups) {
      let group = existing.get(key);
      if (!group) {
        const row = await createGroup(context, { schemas: [GROUP_SCHEMA], displayName: name });
        group = { id: row.id, name, managedBy: null };
      }
      if (group.managedBy !== label) {
        await context.tx('groups').where({ id: group.id }).update({ managed_by: label });
        context.changes.record({
          action: 'group.managed',
          resourceType: 'Group',
          resourceId: group.id,
          reason: {
            cause: 'policy',
            policyVersion: policy.version,
            policyFile: label,
            ...(group.managedBy ? { previousPolicyFile: group.managedBy } : {}),
            roles: rolesGranting(policy, name).map((r) => r.name),
          },
        });
      }
      result.set(key, { id: group.id, name: group.name });
    }
    return result;
  });
}

/** Hands groups the policy no longer names back to the IdP (their managed members are gone by then). */
export async function releaseUnnamedGroups(writePath: WritePath, policy: Policy, actor: Actor): Promise<number> {
  return writePath.run(actor, async (context) => {
    const { rows } = (await context.tx.raw(
      `UPDATE groups SET managed_by = NULL WHERE managed_by IS NOT NULL AND NOT (lower(resource->>'displayName') = ANY(?::text[]))
       RETURNING id, resource->>'displayName' AS name`,
      [[...policy.groups.keys()]],
    )) as { rows: Array<{ id: string; name: string }> };
    for (const row of rows) {
      context.changes.record({ action: 'group.released', resourceType: 'Group', resourceId: row.id, reason: { cause: 'policy', policyVersion: policy.version, note: 'no longer named by the policy' } });
    }
    return rows.length;
  });
}

/** How many groups a policy manages (partial index groups_managed). */
export async function countManagedGroups(db: Knex): Promise<number> {
  const { rows } = (await db.raw(`SELECT count(*)::int AS n FROM groups WHERE managed_by IS NOT NULL`)) as { rows: Array<{ n: number }> };
  return rows[0]?.n ?? 0;
}
