/**
 * SCIM clients may read a managed group but not change its members, rename or delete it: that
 * answers 400 mutability naming the policy and the roles behind the group. The composition root
 * (src/compose/write-path.ts) gives it to the write path as its `beforeGroupChange` guard, which the group
 * operations (src/resources/groups.ts) call before storing a change; the policy engine itself
 * writes memberships through the member store and never comes here.
 */
import type { Knex } from 'knex';
import { mutability } from '../scim/errors.js';
import type { ResourceRow } from '../store/rows.js';
import type { GroupChange } from '../write/write-path.js';
import { rolesGranting } from './policy-file.js';
import { appliedPolicy } from './policy-state.js';

/** A managed group refuses member changes, renames and deletes from SCIM clients with 400 mutability. */
export async function refuseManagedGroupChange(tx: Knex.Transaction, group: ResourceRow, change: GroupChange): Promise<void> {
  if (!change.membersChanged && !change.renamed && !change.deleting) return;
  const row = (await tx('groups').select('managed_by').where({ id: group.id }).first()) as { managed_by: string | null } | undefined;
  if (!row?.managed_by) return;
  const name = String(group.resource.displayName ?? group.id);
  const policy = await appliedPolicy(tx).catch(() => undefined);
  const roles = policy ? rolesGranting(policy, name).map((r) => r.name) : [];
  const what = change.deleting ? 'deleting it' : change.renamed ? 'renaming it' : 'changing its members';
  const rules = roles.length ? ` (roles: ${roles.join(', ')})` : '';
  throw mutability(
    `Group "${name}" is managed by the Roster policy ${row.managed_by}${policy ? ` version ${policy.version}` : ''}${rules}: its members follow the policy's rules, so ${what} is refused. ` +
      'Change the rules in the policy file, or give one person access with "roster grant".',
  );
}

