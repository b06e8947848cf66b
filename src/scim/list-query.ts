/**
 * The query parameters of a list or search request (RFC 7644 §3.4.2, RFC 9865 cursors), read from
 * a GET query string or a POST /.search body and checked before anything touches the database.
 */
import { invalidSyntax, invalidValue } from './errors.js';
import { SEARCH_REQUEST_SCHEMA } from './schema/urns.js';
import type { FilterNode } from './filter/ast.js';
import { parseFilter } from './filter/parse.js';

export interface ListQuery {
  filter?: FilterNode;
  filterText?: string;
  sortBy?: string;
  sortOrder: 'ascending' | 'descending';
  startIndex: number;
  count: number;
  /** Set when the client asked for cursor paging: '' for the first page. */
  cursor?: string;
  attributes?: string;
  excludedAttributes?: string;
}

export interface PagingLimits {
  defaultPageSize: number;
  maxPageSize: number;
}

type Source = Record<string, unknown>;

function text(source: Source, name: string): string | undefined {
  const value = source[name];
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v === 'string')) return value.join(',');
    throw invalidValue(`"${name}" must be a string`);
  }
  if (typeof value !== 'string') throw invalidValue(`"${name}" must be a string`);
  return value;
}

function integer(source: Source, name: string): number | undefined {
  const value = source[name];
  if (value === undefined || value === null || value === '') return undefined;
  const number = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(number)) throw invalidValue(`"${name}" must be an integer, got ${JSON.stringify(value)}`);
  return number;
}

export function readListQuery(source: Source, limits: PagingLimits): ListQuery {
  const filterText = text(source, 'filter');
  const sortOrderText = text(source, 'sortOrder')?.toLowerCase();
  if (sortOrderText !== undefined && sortOrderText !== 'ascending' && sortOrderText !== 'descending') {
    throw invalidValue('"sortOrder" must be "ascending" or "descending"');
  }
  // RFC 7644 §3.4.2.4: startIndex < 1 is read as 1; a negative count as 0; a count over the maximum is capped.
  const startIndex = Math.max(1, integer(source, 'startIndex') ?? 1);
  const count = Math.min(limits.maxPageSize, Math.max(0, integer(source, 'count') ?? limits.defaultPageSize));
  const cursor = text(source, 'cursor');
  if (cursor !== undefined && source.startIndex !== undefined) {
    throw invalidValue('Use either "cursor" or "startIndex" paging, not both');
  }
  const sortBy = text(source, 'sortBy');
  const attributes = text(source, 'attributes');
  const excludedAttributes = text(source, 'excludedAttributes');
  return {
    ...(filterText !== undefined && filterText.trim() !== '' ? { filter: parseFilter(filterText), filterText } : {}),
    ...(sortBy ? { sortBy } : {}),
    sortOrder: sortOrderText === 'descending' ? 'descending' : 'ascending',
    startIndex,
    count,
    ...(cursor !== undefined ? { cursor } : {}),
    ...(attributes !== undefined ? { attributes } : {}),
    ...(excludedAttributes !== undefined ? { excludedAttributes } : {}),
  };
}

/**
 * The body of POST /.search and POST /{type}/.search: a SearchRequest (RFC 7644 §3.4.3), a JSON
 * object whose "schemas" lists the SearchRequest URN. null, a number, {} or no body answered the
 * unfiltered list before; a client that sent one meant something else.
 */
export function searchRequestOf(body: unknown): Source {
  const isObject = typeof body === 'object' && body !== null && !Array.isArray(body);
  const schemas = isObject ? (body as Source).schemas : undefined;
  if (!isObject || !Array.isArray(schemas) || !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === SEARCH_REQUEST_SCHEMA.toLowerCase())) {
    throw invalidSyntax(`A .search request body must be a SearchRequest: a JSON object whose "schemas" lists "${SEARCH_REQUEST_SCHEMA}" (RFC 7644 §3.4.3)`);
  }
  return body as Source;
}
