/**
 * The ops journal API (scope ops:read):
 *   GET /ops/journal                          filtered, newest first, cursor paging; JSON, or the
 *                                             whole match streamed as NDJSON or CSV
 *   GET /ops/resources/{type}/{id}/history    one resource's timeline with changed paths
 * Filters and their meaning: src/journal/filter.ts; reference: docs/journal.md.
 */
import { Router, type Request, type RequestHandler } from 'express';
import type { Knex } from 'knex';
import { requireScope } from '../http/auth.js';
import { FILTER_PARAMETERS, JournalFilterError, parseJournalFilter, resourceTypeOf, type FilterInput } from '../journal/filter.js';
import { entryView } from '../journal/present.js';
import { queryJournal } from '../journal/query.js';
import { resourceExists, resourceHistory } from '../journal/history.js';
import { invalidValue, notFound } from '../scim/errors.js';
import { decodeJournalCursor, encodeJournalCursor } from './journal-cursor.js';
import { streamJournalExport, type ExportFormat } from './journal-export.js';

export interface JournalOpsOptions {
  db: Knex;
  /** The authentication (and rate limit) middleware the rest of the app uses. */
  authenticated: RequestHandler[];
  defaultPageSize?: number;
  maxPageSize?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const KNOWN_PARAMETERS = new Set<string>([...Object.keys(FILTER_PARAMETERS), 'count', 'cursor', 'format']);

function single(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidValue(`Give ${name} once, as a single value`);
  return value;
}

function pageSize(req: Request, fallback: number, max: number): number {
  const raw = single(req, 'count');
  if (raw === undefined) return fallback;
  if (!/^\d{1,6}$/.test(raw) || Number(raw) < 1) throw invalidValue(`count must be a whole number from 1 to ${max}, not "${raw}"`);
  return Math.min(Number(raw), max);
}

/** format=json|ndjson|csv, else the Accept header, else JSON. */
function formatOf(req: Request): 'json' | ExportFormat {
  const format = single(req, 'format');
  if (format !== undefined) {
    const f = format.toLowerCase();
    if (f === 'json' || f === 'ndjson' || f === 'csv') return f;
    throw invalidValue(`format must be json, ndjson or csv, not "${format}"`);
  }
  const accepted = req.accepts(['application/json', 'application/x-ndjson', 'application/ndjson', 'text/csv']);
  if (accepted === 'application/x-ndjson' || accepted === 'application/ndjson') return 'ndjson';
  return accepted === 'text/csv' ? 'csv' : 'json';
}

function filterOf(req: Request) {
  const unknown = Object.keys(req.query).filter((k) => !KNOWN_PARAMETERS.has(k));
  if (unknown.length) throw invalidValue(`Unknown parameter ${unknown.join(', ')}; journal filters are ${Object.keys(FILTER_PARAMETERS).join(', ')}`);
  const input: FilterInput = {};
  for (const key of Object.keys(FILTER_PARAMETERS) as Array<keyof typeof FILTER_PARAMETERS>) input[key] = single(req, key);
  try {
    return parseJournalFilter(input);
  } catch (error) {
    if (error instanceof JournalFilterError) throw invalidValue(error.message);
    throw error;
  }
}

export function journalOpsRouter({ db, authenticated, defaultPageSize = 100, maxPageSize = 1000 }: JournalOpsOptions): Router {
  const router = Router();
  const guard = [...authenticated, requireScope('ops:read')];

  router.get('/ops/journal', ...guard, async (req, res) => {
    const filter = filterOf(req);
    const format = formatOf(req);
    if (format !== 'json') return streamJournalExport(db, filter, format, res);
    const limit = pageSize(req, defaultPageSize, maxPageSize);
    const page = await queryJournal(db, filter, { after: decodeJournalCursor(single(req, 'cursor')), limit });
    res.setHeader('Cache-Control', 'no-store');
    res.json({ entries: page.rows.map(entryView), count: page.rows.length, nextCursor: page.next === undefined ? null : encodeJournalCursor(page.next) });
  });

  router.get('/ops/resources/:type/:id/history', ...guard, async (req, res) => {
    const type = resourceTypeOf(String(req.params.type));
    if (!type) throw notFound(`No resource type "${String(req.params.type)}"; use User or Group`);
    const id = String(req.params.id);
    if (!UUID.test(id)) throw invalidValue(`"${id}" is not a resource id (a UUID)`);
    const unknown = Object.keys(req.query).filter((k) => k !== 'count' && k !== 'cursor');
    if (unknown.length) throw invalidValue(`Unknown parameter ${unknown.join(', ')}; history takes count and cursor`);
    const after = decodeJournalCursor(single(req, 'cursor'));
    const history = await resourceHistory(db, type, id.toLowerCase(), { after, limit: pageSize(req, defaultPageSize, maxPageSize) });
    if (history.entries.length === 0 && after === undefined && !(await resourceExists(db, type, id.toLowerCase()))) {
      throw notFound(`No ${type} ${id} and no journal entries about it`);
    }
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      resourceType: type,
      id: id.toLowerCase(),
      entries: history.entries,
      count: history.entries.length,
      nextCursor: history.next === undefined ? null : encodeJournalCursor(history.next),
    });
  });
  return router;
}
