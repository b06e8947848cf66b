/**
 * Journal queries in SQL: the filter becomes WHERE conditions, paging is keyset on the id (newest
 * first for the journal, oldest first for a resource's history), and exports read in batches, so
 * memory stays flat however many rows match. The indexes behind each filter are named beside it.
 */
import type { Knex } from 'knex';
import type { JournalFilter } from './filter.js';
import { JOURNAL_COLUMNS, type JournalRow } from './row.js';

export interface Condition {
  sql: string;
  bindings: unknown[];
  /** Matches one resource's entries or one request's: few rows, found through their own index. */
  selective?: boolean;
}

const COLUMNS = JOURNAL_COLUMNS.map((c) => `j.${c}`).join(', ');

// Ids a userName / displayName has had: from the journal (so deleted and renamed resources still
// match; index journal_resource_name) and from the live table (unique lower(name) index).
const USER_IDS = `ARRAY(SELECT resource_id FROM journal WHERE resource_type = 'User' AND lower(resource_name) = lower(?) AND resource_id IS NOT NULL
  UNION SELECT id FROM users WHERE lower(resource->>'userName') = lower(?))`;
const GROUP_IDS = `ARRAY(SELECT resource_id FROM journal WHERE resource_type = 'Group' AND lower(resource_name) = lower(?) AND resource_id IS NOT NULL
  UNION SELECT id FROM groups WHERE lower(resource->>'displayName') = lower(?))`;

export function filterConditions(filter: JournalFilter): Condition[] {
  const conditions: Condition[] = [];
  if (filter.resourceType) conditions.push({ sql: 'j.resource_type = ?', bindings: [filter.resourceType] });
  if (filter.resourceId) conditions.push({ sql: 'j.resource_id = ?', bindings: [filter.resourceId], selective: true });
  if (filter.user) {
    // Entries about the user (journal_resource) or group entries whose membership change touched
    // it (GIN journal_member_ids).
    conditions.push({
      sql: `((j.resource_type = 'User' AND j.resource_id = ANY(${USER_IDS})) OR j.member_ids && ${USER_IDS})`,
      bindings: [filter.user, filter.user, filter.user, filter.user],
      selective: true,
    });
  }
  if (filter.group) {
    conditions.push({ sql: `(j.resource_type = 'Group' AND j.resource_id = ANY(${GROUP_IDS}))`, bindings: [filter.group, filter.group], selective: true });
  }
  if (filter.actor) conditions.push({ sql: 'j.actor = ?', bindings: [filter.actor] }); // journal_actor
  if (filter.source?.length) conditions.push({ sql: 'j.source = ANY(?)', bindings: [filter.source] });
  if (filter.action?.length) conditions.push({ sql: 'j.action = ANY(?)', bindings: [filter.action] });
  if (filter.requestId) conditions.push({ sql: 'j.request_id = ?', bindings: [filter.requestId], selective: true }); // journal_request
  if (filter.since) conditions.push({ sql: 'j.at >= ?', bindings: [filter.since] }); // journal_at
  if (filter.until) conditions.push({ sql: 'j.at < ?', bindings: [filter.until] });
  return conditions;
}

export type Order = 'newest' | 'oldest';

function selectSql(conditions: Condition[], order: Order, after: number | undefined, limit: number): Condition {
  const all = [...conditions];
  if (after !== undefined) all.push({ sql: order === 'newest' ? 'j.id < ?' : 'j.id > ?', bindings: [after] });
  const where = all.length ? `WHERE ${all.map((c) => c.sql).join(' AND ')}` : '';
  // With a selective filter, the planner may still walk the primary key in id order hoping to
  // meet matching rows early, which reads the whole journal when they are old. Ordering by the
  // expression `id + 0` rules that plan out: it fetches the few matching rows through their own
  // indexes and sorts them (bench/journal.ts measures this at 1,000,000 rows).
  const key = conditions.some((c) => c.selective) ? '(j.id + 0)' : 'j.id';
  return {
    sql: `SELECT ${COLUMNS} FROM journal j ${where} ORDER BY ${key} ${order === 'newest' ? 'DESC' : 'ASC'} LIMIT ?`,
    bindings: [...all.flatMap((c) => c.bindings), limit],
  };
}

export interface JournalPage {
  rows: JournalRow[];
  /** The id to continue after, when there are more rows. */
  next: number | undefined;
}

/** One page; `after` is the id the previous page ended at. */
export async function readJournalPage(db: Knex, conditions: Condition[], options: { order: Order; after?: number | undefined; limit: number }): Promise<JournalPage> {
  const query = selectSql(conditions, options.order, options.after, options.limit + 1);
  const { rows } = (await db.raw(query.sql, query.bindings as Knex.RawBinding[])) as { rows: JournalRow[] };
  const more = rows.length > options.limit;
  if (more) rows.length = options.limit;
  return { rows, next: more ? rows[rows.length - 1]!.id : undefined };
}

export function queryJournal(db: Knex, filter: JournalFilter, options: { after?: number | undefined; limit: number }): Promise<JournalPage> {
  return readJournalPage(db, filterConditions(filter), { order: 'newest', ...options });
}

/** Every matching row, newest first, a batch at a time (for exports). */
export async function* streamJournal(db: Knex, filter: JournalFilter, options: { batchSize?: number; order?: Order } = {}): AsyncGenerator<JournalRow[]> {
  const conditions = filterConditions(filter);
  let after: number | undefined;
  for (;;) {
    const page = await readJournalPage(db, conditions, { order: options.order ?? 'newest', after, limit: options.batchSize ?? 1000 });
    if (page.rows.length) yield page.rows;
    if (page.next === undefined) return;
    after = page.next;
  }
}

/** Entries after `afterId`, oldest first (for --follow). */
export function readJournalSince(db: Knex, filter: JournalFilter, afterId: number, limit: number): Promise<JournalPage> {
  return readJournalPage(db, filterConditions(filter), { order: 'oldest', after: afterId, limit });
}

export async function countJournal(db: Knex, filter: JournalFilter): Promise<number> {
  const conditions = filterConditions(filter);
  const where = conditions.length ? `WHERE ${conditions.map((c) => c.sql).join(' AND ')}` : '';
  const { rows } = (await db.raw(`SELECT count(*)::bigint AS n FROM journal j ${where}`, conditions.flatMap((c) => c.bindings) as Knex.RawBinding[])) as { rows: Array<{ n: number }> };
  return rows[0]?.n ?? 0;
}

export async function newestJournalId(db: Knex): Promise<number> {
  const { rows } = (await db.raw(`SELECT coalesce(max(id), 0) AS id FROM journal`)) as { rows: Array<{ id: number }> };
  return rows[0]?.id ?? 0;
}
