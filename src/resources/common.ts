import type { Knex } from 'knex';
import { notFound, uniqueness } from '../scim/errors.js';
import { checkIfMatch } from '../scim/etag.js';
import type { ResourceTypeName } from '../scim/schema/urns.js';
import { removeFromAllGroups } from '../store/member-store.js';
import { bumpVersion, lockResource } from '../store/resource-store.js';
import type { ResourceRow } from '../store/rows.js';
import type { WriteContext } from '../write/write-path.js';

export interface Preconditions {
  ifMatch?: string | undefined;
}

/** Locks the row for this transaction (how strongly: lockResource) and checks If-Match against the version it holds. */
export async function lockForWrite(
  tx: Knex.Transaction,
  type: ResourceTypeName,
  id: string,
  preconditions: Preconditions,
  purpose: 'change' | 'delete' = 'change',
): Promise<ResourceRow> {
  const row = await lockResource(tx, type, id, purpose);
  if (!row) throw notFound(`${type} ${id} not found`);
  checkIfMatch(preconditions.ifMatch, row.version);
  return row;
}

const UNIQUE_INDEX_ATTRIBUTE: Record<string, string> = {
  users_user_name_unique: 'userName',
  groups_display_name_unique: 'displayName',
};

/** Maps a unique-index violation to 409 uniqueness naming the attribute; other errors pass through. */
export async function mapUniqueViolation<T>(work: () => Promise<T>, resource: Record<string, unknown>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const e = error as { code?: string; constraint?: string };
    const attribute = e.code === '23505' && e.constraint ? UNIQUE_INDEX_ATTRIBUTE[e.constraint] : undefined;
    if (attribute) {
      throw uniqueness(`${attribute} "${String(resource[attribute])}" is already in use (compared case-insensitively)`);
    }
    throw error;
  }
}

/**
 * A deleted user or group leaves every group it was in: each of those groups gets a new version
 * and a journal entry, so "who removed X from G" has an answer after X is gone.
 */
export async function leaveAllGroups(context: WriteContext, memberId: string, memberType: ResourceTypeName): Promise<void> {
  const groupIds = await removeFromAllGroups(context.tx, memberId);
  for (const groupId of groupIds) {
    await bumpVersion(context.tx, 'Group', groupId);
    context.changes.record({
      action: 'members.remove',
      resourceType: 'Group',
      resourceId: groupId,
      changes: { membersRemoved: [{ value: memberId, type: memberType }] },
      reason: { cause: 'member deleted' },
    });
  }
}
