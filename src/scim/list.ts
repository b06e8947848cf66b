/**
 * Lists and searches run entirely in SQL: the filter becomes a WHERE clause, sorting and paging
 * are ORDER BY with LIMIT/OFFSET (index paging) or a keyset condition (cursor paging), and only
 * the rows of the page are read. Members and groups are read only when the response includes them.
 */
import type { Knex } from 'knex';
import { countAll } from '../store/resource-store.js';
import { groupsOf, membersOf } from '../store/member-store.js';
import { TABLE_BY_TYPE, type ResourceRow } from '../store/rows.js';
import { decodeCursor, encodeCursor, queryFingerprint } from './cursor.js';
import { filterToSql, sortKeySql, type SqlFragment } from './filter/sql.js';
import type { ListQuery } from './list-query.js';
import { applySelection, parseSelection, selectionNeeds, type Selection } from './projection.js';
import { renderResource } from './render.js';
import { LIST_RESPONSE_SCHEMA, type ResourceTypeName } from './schema/urns.js';

export interface ListResponseBody {
  schemas: string[];
  totalResults: number;
  itemsPerPage: number;
  startIndex?: number;
  nextCursor?: string;
  Resources: Record<string, unknown>[];
}

const ALIAS = 'r';
const TRUE: SqlFragment = { sql: 'TRUE', bindings: [] };

export function whereClause(type: ResourceTypeName, query: ListQuery): SqlFragment {
  return query.filter ? filterToSql(query.filter, type, ALIAS) : TRUE;
}

export async function countMatching(db: Knex, type: ResourceTypeName, where: SqlFragment): Promise<number> {
  if (where === TRUE) return countAll(db, type);
  const { rows } = (await db.raw(`SELECT count(*)::bigint AS n FROM ${TABLE_BY_TYPE[type]} ${ALIAS} WHERE ${where.sql}`, where.bindings as Knex.RawBinding[])) as {
    rows: Array<{ n: number }>;
  };
  return Number(rows[0]?.n ?? 0);
}

/** Renders rows, reading members/groups for the whole page in one query when the selection needs them. */
export async function renderRows(db: Knex, type: ResourceTypeName, rows: ResourceRow[], selection: Selection, baseUrl: string): Promise<Record<string, unknown>[]> {
  const ids = rows.map((row) => row.id);
  const members = type === 'Group' && selectionNeeds(selection, 'members') ? await membersOf(db, ids) : undefined;
  const groups = type === 'User' && selectionNeeds(selection, 'groups') ? await groupsOf(db, ids) : undefined;
  return rows.map((row) =>
    applySelection(renderResource(type, row, { members: members?.get(row.id), groups: groups?.get(row.id) }, baseUrl), selection),
  );
}

interface PageQuery {
  where: SqlFragment;
  sortKey: SqlFragment;
  /** The sort key is a NOT NULL column: the keyset is a plain row comparison the index can seek to. */
  sortKeyNotNull: boolean;
  descending: boolean;
  limit: number;
  offset?: number;
  after?: { key: unknown; id: string };
}

async function selectPage(db: Knex, type: ResourceTypeName, page: PageQuery): Promise<Array<ResourceRow & { sort_key: unknown }>> {
  const dir = page.descending ? 'DESC' : 'ASC';
  const s = page.sortKey.sql;
  const cursorMode = page.offset === undefined;
  const bindings: unknown[] = [...(cursorMode ? page.sortKey.bindings : []), ...page.where.bindings];
  let keyset = '';
  // Missing values sort as if greater than any value (RFC 7644 §3.4.2.3): last when ascending,
  // first when descending, which is PostgreSQL's default for ASC/DESC. The keyset follows suit.
  if (page.after && page.sortKeyNotNull) {
    keyset = ` AND ((${s}), ${ALIAS}.id) ${page.descending ? '<' : '>'} (?, ?)`;
    bindings.push(...page.sortKey.bindings, page.after.key, page.after.id);
  } else if (page.after) {
    const afterNull = page.after.key === null || page.after.key === undefined;
    if (!page.descending && afterNull) {
      keyset = ` AND (${s}) IS NULL AND ${ALIAS}.id > ?`;
      bindings.push(...page.sortKey.bindings, page.after.id);
    } else if (!page.descending) {
      keyset = ` AND ((${s}) > ? OR ((${s}) = ? AND ${ALIAS}.id > ?) OR (${s}) IS NULL)`;
      bindings.push(...page.sortKey.bindings, page.after.key, ...page.sortKey.bindings, page.after.key, page.after.id, ...page.sortKey.bindings);
    } else if (afterNull) {
      keyset = ` AND (((${s}) IS NULL AND ${ALIAS}.id < ?) OR (${s}) IS NOT NULL)`;
      bindings.push(...page.sortKey.bindings, page.after.id, ...page.sortKey.bindings);
    } else {
      keyset = ` AND ((${s}) < ? OR ((${s}) = ? AND ${ALIAS}.id < ?))`;
      bindings.push(...page.sortKey.bindings, page.after.key, ...page.sortKey.bindings, page.after.key, page.after.id);
    }
  }
  bindings.push(...page.sortKey.bindings, page.limit, page.offset ?? 0);
  const sql =
    // The sort key is read back only to build the next cursor; index paging does not pay for it.
    `SELECT ${ALIAS}.id, ${ALIAS}.resource, ${ALIAS}.version, ${ALIAS}.created_at, ${ALIAS}.updated_at${cursorMode ? `, (${s}) AS sort_key` : ''} ` +
    `FROM ${TABLE_BY_TYPE[type]} ${ALIAS} WHERE (${page.where.sql})${keyset} ` +
    `ORDER BY (${s}) ${dir}, ${ALIAS}.id ${dir} LIMIT ? OFFSET ?`;
  const { rows } = (await db.raw(sql, bindings as Knex.RawBinding[])) as { rows: Array<ResourceRow & { sort_key: unknown }> };
  return rows;
}

/** `knownTotal`: a count the caller already made for this filter (root search counts every type first). */
export async function listResources(db: Knex, type: ResourceTypeName, query: ListQuery, baseUrl: string, knownTotal?: number): Promise<ListResponseBody> {
  const selection = parseSelection(type, query.attributes, query.excludedAttributes);
  const where = whereClause(type, query);
  const sortKey = query.sortBy ? sortKeySql(query.sortBy, type, ALIAS) : { sql: `${ALIAS}.created_at`, bindings: [] };
  const sortKeyNotNull = !query.sortBy;
  const descending = query.sortOrder === 'descending';
  const totalResults = knownTotal ?? (await countMatching(db, type, where));
  const base = { schemas: [LIST_RESPONSE_SCHEMA], totalResults };
  if (query.count === 0) return { ...base, itemsPerPage: 0, ...(query.cursor === undefined ? { startIndex: query.startIndex } : {}), Resources: [] };

  if (query.cursor !== undefined) {
    const fingerprint = queryFingerprint([type, query.filterText ?? '', query.sortBy ?? '', query.sortOrder]);
    const after = query.cursor === '' ? undefined : decodeCursor(query.cursor, fingerprint);
    const rows = await selectPage(db, type, { where, sortKey, sortKeyNotNull, descending, limit: query.count + 1, ...(after ? { after } : {}) });
    const page = rows.slice(0, query.count);
    const last = page[page.length - 1];
    const nextCursor = rows.length > query.count && last ? encodeCursor({ key: last.sort_key, id: last.id }, fingerprint) : undefined;
    const Resources = await renderRows(db, type, page, selection, baseUrl);
    return { ...base, itemsPerPage: Resources.length, ...(nextCursor ? { nextCursor } : {}), Resources };
  }

  const rows = await selectPage(db, type, { where, sortKey, sortKeyNotNull, descending, limit: query.count, offset: query.startIndex - 1 });
  const Resources = await renderRows(db, type, rows, selection, baseUrl);
  return { ...base, itemsPerPage: Resources.length, startIndex: query.startIndex, Resources };
}
