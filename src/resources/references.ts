/**
 * Reference attributes must name existing resources (RFC 7643 §7: a reference's value is the id
 * of the resource it refers to). Group members are checked where membership is resolved
 * (groups.ts); the enterprise `manager.value` is checked here. Only a changed reference is
 * checked: a user whose manager was deleted later can still be updated in other attributes.
 */
import type { Knex } from 'knex';
import { invalidValue } from '../scim/errors.js';
import { ENTERPRISE_USER_SCHEMA } from '../scim/schema/urns.js';
import { resolveMemberTypes } from '../store/member-store.js';

function managerOf(resource: Record<string, unknown> | undefined): unknown {
  const extension = resource?.[ENTERPRISE_USER_SCHEMA] as Record<string, unknown> | undefined;
  const manager = extension?.manager as Record<string, unknown> | undefined;
  return manager?.value;
}

export async function assertManagerExists(db: Knex, next: Record<string, unknown>, before?: Record<string, unknown>): Promise<void> {
  const value = managerOf(next);
  if (typeof value !== 'string' || value === managerOf(before)) return;
  const found = await resolveMemberTypes(db, [value.toLowerCase()]);
  const type = found.get(value.toLowerCase());
  if (type === 'User') return;
  const what = type === 'Group' ? 'is a Group, not a User' : 'names no existing User';
  throw invalidValue(`"${ENTERPRISE_USER_SCHEMA}:manager.value" "${value}" ${what}; give the id of the manager's User`);
}
