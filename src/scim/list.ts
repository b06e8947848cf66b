/**
 * Lists and searches run entirely in SQL: the filter becomes a WHERE clause, sorting and paging
 * are ORDER BY with LIMIT/OFFSET (index paging) or a keyset condition (cursor paging), and only
 * the rows of the page are read. Members and groups are read only when the response includes them.
 */
import type { Knex } from 'knex';
import { queryByShape } from '../db/prepared.js';
import { countAll, documentTextColumns } from '../store/resource-store.js';
import { groupsJsonSql, membersOf } from '../store/member-store.js';
import { TABLE_BY_TYPE, type ReadRow, type ResourceTextRow } from '../store/rows.js';
import { decodeCursor, encodeCursor, queryFingerprint } from './cursor.js';
import { filterToSql, sortKeySql, type SqlFragment } from './filter/sql.js';
import type { ListQuery } from './list-query.js';
import { applySelection, keepsWholeDocument, parseSelection, selectionNeeds, type Selection } from './projection.js';
import { renderResource, renderResourceText, type JsonText } from './render.js';
import { LIST_RESPONSE_SCHEMA, type ResourceTypeName } from './schema/urns.js';

export interface ListResponseBody {
  schemas: string[];
  totalResults: number;
  itemsPerPage: number;
  startIndex?: number;
  nextCursor?: string;
  Resources: Array<Record<string, unknown> | JsonText>;
}

const ALIAS = 'r';
const TRUE: SqlFragment = { sql: 'TRUE', bindings: [] };

export function whereClause(type: ResourceTypeName, query: ListQuery): SqlFragment {
  return query.filter ? filterToSql(query.filter, type, ALIAS) : TRUE;
}

export async function countMatching(db: Knex, type: ResourceTypeName, where: SqlFragment): Promise<number> {
  if (where === TRUE) return countAll(db, type);
  const rows = await queryByShape<{ n: number }>(db, `SELECT count(*)::bigint AS n FROM ${TABLE_BY_TYPE[type]} ${ALIAS} WHERE ${where.sql}`, where.bindings);
  return Number(rows[0]?.n ?? 0);
}

/** Whether a read for this selection must bring each user's groups (read in the same statement). */
export const readsGroups = (type: ResourceTypeName, selection: Selection): boolean => type === 'User' && selectionNeeds(selection, 'groups');


const isTextRow = (row: ReadRow): row is ResourceTextRow => 'resource_text' in row;

/** The document columns a read for this selection takes: as text when the response keeps it whole. */
export function documentColumns(type: ResourceTypeName, selection: Selection, alias: string): string {
  return keepsWholeDocument(selection) ? documentTextColumns(type, alias) : `${alias}.resource`;
}

/**
 * Renders rows. A user's groups come with its row when the read asked for them (`row.groups`);
 * a page of groups' members is read here in one query, only when the selection needs them.
 */
export async function renderRows(db: Knex, type: ResourceTypeName, rows: ReadRow[], selection: Selection, baseUrl: string): Promise<Array<Record<string, unknown> | JsonText>> {
  const members = type === 'Group' && selectionNeeds(selection, 'members') ? await membersOf(db, rows.map((row) => row.id)) : undefined;
  return rows.map((row) => {
    const related = { members: members?.get(row.id), groups: row.groups };
    return isTextRow(row) ? renderResourceText(type, row, related, baseUrl) : applySelection(renderResource(type, row, related, baseUrl), selection);
  });
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
  /** Read each user's groups in the same statement (see groupsJsonSql). */
  withGroups: boolean;
  /** The document column(s): see documentColumns. */
  documentColumns: string;
}

type PageRow = ReadRow & { sort_key: unknown };

async function selectPage(db: Knex, type: ResourceTypeName, page: PageQuery): Promise<PageRow[]> {
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
    `SELECT ${ALIAS}.id, ${page.documentColumns}, ${ALIAS}.version, ${ALIAS}.created_at, ${ALIAS}.updated_at` +
    `${cursorMode ? `, (${s}) AS sort_key` : ''}${page.withGroups ? `, ${groupsJsonSql(ALIAS)} AS groups` : ''} ` +
    `FROM ${TABLE_BY_TYPE[type]} ${ALIAS} WHERE (${page.where.sql})${keyset} ` +
    `ORDER BY (${s}) ${dir}, ${ALIAS}.id ${dir} LIMIT ? OFFSET ?`;
  // A named prepared statement per SQL shape (bounded, see queryByShape): PostgreSQL plans each
  // shape once per connection; planning was about a third of the database time of a page of 100.
  return queryByShape<PageRow>(db, sql, bindings);
}

/** `knownTotal`: a count the caller already made for this filter (root search counts every type first). */
export async function listResources(db: Knex, type: ResourceTypeName, query: ListQuery, baseUrl: string, knownTotal?: number): Promise<ListResponseBody> {
  const selection = parseSelection(type, query.attributes, query.excludedAttributes);
  const where = whereClause(type, query);
  const sortKey = query.sortBy ? sortKeySql(query.sortBy, type, ALIAS) : { sql: `${ALIAS}.created_at`, bindings: [] };
  const sortKeyNotNull = !query.sortBy;
  const descending = query.sortOrder === 'descending';
  const withGroups = readsGroups(type, selection);
  const columns = documentColumns(type, selection, ALIAS);
  // A first page that is not full holds every match, so its length is the total and the count
  // statement is saved: a lookup such as `userName eq "x"` costs one statement instead of two
  // (issue 18). Only a full page, or a later one, needs the count.
  const total = async (firstPageMatches: number | undefined): Promise<number> => knownTotal ?? firstPageMatches ?? (await countMatching(db, type, where));
  if (query.count === 0) {
    const base = { schemas: [LIST_RESPONSE_SCHEMA], totalResults: await total(undefined) };
    return { ...base, itemsPerPage: 0, ...(query.cursor === undefined ? { startIndex: query.startIndex } : {}), Resources: [] };
  }

  if (query.cursor !== undefined) {
    const fingerprint = queryFingerprint([type, query.filterText ?? '', query.sortBy ?? '', query.sortOrder]);
    const after = query.cursor === '' ? undefined : decodeCursor(query.cursor, fingerprint);
    const rows = await selectPage(db, type, { where, sortKey, sortKeyNotNull, descending, limit: query.count + 1, withGroups, documentColumns: columns, ...(after ? { after } : {}) });
    const base = { schemas: [LIST_RESPONSE_SCHEMA], totalResults: await total(!after && rows.length <= query.count ? rows.length : undefined) };
    const page = rows.slice(0, query.count);
    const last = page[page.length - 1];
    const nextCursor = rows.length > query.count && last ? encodeCursor({ key: last.sort_key, id: last.id }, fingerprint) : undefined;
    const Resources = await renderRows(db, type, page, selection, baseUrl);
    return { ...base, itemsPerPage: Resources.length, ...(nextCursor ? { nextCursor } : {}), Resources };
  }

  const rows = await selectPage(db, type, { where, sortKey, sortKeyNotNull, descending, limit: query.count, offset: query.startIndex - 1, withGroups, documentColumns: columns });
  const base = { schemas: [LIST_RESPONSE_SCHEMA], totalResults: await total(query.startIndex === 1 && rows.length < query.count ? rows.length : undefined) };
  const Resources = await renderRows(db, type, rows, selection, baseUrl);
  return { ...base, itemsPerPage: Resources.length, startIndex: query.startIndex, Resources };
}
