import type { Knex } from 'knex';
import { notFound, uniqueness } from '../scim/errors.js';
import { checkIfMatch } from '../scim/etag.js';
import type { ResourceTypeName } from '../scim/schema/urns.js';
import { lockResource } from '../store/resource-store.js';
import type { ResourceRow } from '../store/rows.js';

export interface Preconditions {
  ifMatch?: string | undefined;
}

/** Locks the row for this transaction and checks If-Match against the version it holds. */
export async function lockForWrite(
  tx: Knex.Transaction,
  type: ResourceTypeName,
  id: string,
  preconditions: Preconditions,
): Promise<ResourceRow> {
  const row = await lockResource(tx, type, id);
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
