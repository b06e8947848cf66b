/**
 * One resource's timeline, oldest first: every entry about it, each with the attribute paths that
 * changed and their before/after values. A user's timeline also shows the group membership
 * changes that added or removed it (as `groups[value eq "…"]`), since those live on group entries,
 * and its part of entries about several users (a batch's role changes, as `roles[value eq "…"]`).
 */
import type { Knex } from 'knex';
import type { AttributeChange } from '../lib/document-diff.js';
import type { EntryHeader } from './hash.js';
import { membershipChangesFor, pathChanges, reasonFor, userChangesFor } from './present.js';
import { readJournalPage, type Condition } from './query.js';
import { entryHeader, type JournalRow } from './row.js';

/** resourceType/Id/Name name this resource, or (for a user) the group whose membership changed. */
export interface HistoryEntry extends EntryHeader {
  id: number;
  seq: number | null;
  changes: AttributeChange[];
  reason: unknown;
}

export interface History {
  entries: HistoryEntry[];
  next: number | undefined;
}

export function historyEntry(row: JournalRow, type: 'User' | 'Group', id: string): HistoryEntry {
  const own = row.resource_type === type && row.resource_id === id;
  return {
    id: row.id,
    seq: row.seq,
    ...entryHeader(row),
    changes: own ? pathChanges(row) : row.resource_type === 'Group' ? membershipChangesFor(row, id) : userChangesFor(row, id),
    reason: own ? row.reason : reasonFor(row, id),
  };
}

/** Entries about the resource, and (for a user) entries whose membership or role changes touched it. */
export function aboutResource(type: 'User' | 'Group', id: string): Condition {
  // A group's own entries only: one range of journal_resource (type, id, entry id), read in order
  // and stopped at the page's end. Not marked selective, which would fetch and sort every entry
  // first: a 100,000-member group has 100,000 of them (bench/console.ts).
  if (type === 'Group') return { sql: `(j.resource_type = 'Group' AND j.resource_id = ?)`, bindings: [id] };
  return { sql: `((j.resource_type = 'User' AND j.resource_id = ?) OR j.member_ids @> ARRAY[?]::uuid[])`, bindings: [id, id], selective: true };
}

export async function resourceHistory(db: Knex, type: 'User' | 'Group', id: string, options: { after?: number | undefined; limit: number }): Promise<History> {
  const page = await readJournalPage(db, [aboutResource(type, id)], { order: 'oldest', after: options.after, limit: options.limit });
  return { entries: page.rows.map((row) => historyEntry(row, type, id)), next: page.next };
}

/** Whether the resource exists now (a resource with no journal entries and no row is unknown). */
export async function resourceExists(db: Knex, type: 'User' | 'Group', id: string): Promise<boolean> {
  const { rows } = (await db.raw(`SELECT 1 FROM ${type === 'User' ? 'users' : 'groups'} WHERE id = ?`, [id])) as { rows: unknown[] };
  return rows.length > 0;
}
