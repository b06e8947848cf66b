/**
 * What a journal entry is about, captured when it is appended so the journal answers questions
 * on its own after the resource is renamed or deleted: the resource's name (userName or group
 * displayName) and the ids a membership change touched.
 */
import type { Knex } from 'knex';
import type { JournalEntryInput } from './entry.js';

const NAME_ATTRIBUTE = { User: 'userName', Group: 'displayName' } as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function nameIn(document: unknown, attribute: string): string | undefined {
  if (document === null || typeof document !== 'object') return undefined;
  const value = (document as Record<string, unknown>)[attribute];
  return typeof value === 'string' ? value : undefined;
}

/**
 * One name per entry (undefined for entries about no resource). Taken from the entry (the name
 * its writer gave, else its after/before document), else read from the resource row inside the
 * transaction (membership-only changes carry no document).
 */
export async function resolveResourceNames(tx: Knex.Transaction, entries: readonly JournalEntryInput[]): Promise<Array<string | undefined>> {
  // Only Users and Groups have a name; other resource types (should the type widen) get none.
  const typeOf = (entry: JournalEntryInput) => (entry.resourceType === 'User' || entry.resourceType === 'Group' ? entry.resourceType : undefined);
  const names = entries.map((entry) => {
    const type = typeOf(entry);
    if (!type) return undefined;
    return entry.resourceName ?? nameIn(entry.after, NAME_ATTRIBUTE[type]) ?? nameIn(entry.before, NAME_ATTRIBUTE[type]);
  });
  const missing = { User: new Set<string>(), Group: new Set<string>() };
  entries.forEach((entry, i) => {
    const type = typeOf(entry);
    if (names[i] === undefined && type && entry.resourceId && UUID.test(entry.resourceId)) missing[type].add(entry.resourceId.toLowerCase());
  });
  const found = new Map<string, string>();
  for (const type of ['User', 'Group'] as const) {
    if (missing[type].size === 0) continue;
    const table = type === 'User' ? 'users' : 'groups';
    const { rows } = (await tx.raw(`SELECT id, resource->>? AS name FROM ${table} WHERE id = ANY(?::uuid[])`, [
      NAME_ATTRIBUTE[type],
      [...missing[type]],
    ])) as { rows: Array<{ id: string; name: string | null }> };
    for (const row of rows) if (row.name !== null) found.set(`${type}:${row.id}`, row.name);
  }
  return names.map((name, i) => name ?? found.get(`${entries[i]!.resourceType}:${entries[i]!.resourceId?.toLowerCase()}`));
}

/**
 * Ids of the users an entry is about besides its own resource (lowercase, distinct), or null: the
 * members a group entry added or removed, or the users a batch's entry lists (`changes.users`, e.g.
 * one policy `roles.update` for all users of an import batch).
 */
export function memberIdsOf(entry: JournalEntryInput): string[] | null {
  if (entry.changes === null || typeof entry.changes !== 'object' || Array.isArray(entry.changes)) return null;
  const changes = entry.changes as { membersAdded?: unknown; membersRemoved?: unknown; users?: unknown };
  const lists = entry.resourceType === 'Group' ? [changes.membersAdded, changes.membersRemoved] : entry.resourceId === undefined ? [changes.users] : [];
  const ids = new Set<string>();
  for (const list of lists) {
    if (!Array.isArray(list)) continue;
    for (const member of list) {
      const value = (member as { value?: unknown } | null)?.value;
      if (typeof value === 'string' && UUID.test(value)) ids.add(value.toLowerCase());
    }
  }
  return ids.size > 0 ? [...ids] : null;
}
