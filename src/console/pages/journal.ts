/**
 * Journal: every filter the ops API has (src/journal/filter.ts, one parser for API, CLI and
 * console), newest first with keyset paging on the id, exports with the same filters (auditors),
 * and one entry with its before/after diff (src/journal/present.ts).
 */
import type { Knex } from 'knex';
import { FILTER_PARAMETERS, JournalFilterError, parseJournalFilter, type FilterInput, type JournalFilter } from '../../journal/filter.js';
import { pathChanges } from '../../journal/present.js';
import { queryJournal, readJournalPage } from '../../journal/query.js';
import type { JournalRow } from '../../journal/row.js';
import { html, queryString, type Html } from '../html.js';
import { notice, time } from '../layout.js';
import { changesTable, entryLink, resourceLink, valueText } from './render.js';

const PAGE_SIZE = 50;
const LABELS: Record<keyof typeof FILTER_PARAMETERS, string> = {
  resourceType: 'Resource type',
  resourceId: 'Resource id',
  user: 'User (userName)',
  group: 'Group (displayName)',
  actor: 'Actor',
  source: 'Source(s)',
  action: 'Action(s)',
  requestId: 'Request id',
  since: 'Since',
  until: 'Until',
};
export const FILTER_KEYS = Object.keys(FILTER_PARAMETERS) as Array<keyof typeof FILTER_PARAMETERS>;

/** The filter fields of a query string; a parameter given twice counts as not given. */
export function filterInput(query: Record<string, unknown>): FilterInput {
  const input: FilterInput = {};
  for (const key of FILTER_KEYS) {
    const value = query[key];
    if (typeof value === 'string' && value.trim() !== '') input[key] = value;
  }
  return input;
}

/** The filter, or its problem as a message naming the field. */
export function parseFilterInput(input: FilterInput): JournalFilter | string {
  try {
    return parseJournalFilter(input, (key) => LABELS[key]);
  } catch (error) {
    if (error instanceof JournalFilterError) return error.message;
    throw error;
  }
}

function filterForm(input: FilterInput, canExport: boolean): Html {
  const field = (key: keyof typeof FILTER_PARAMETERS, placeholder: string) =>
    html`<label for="f-${key}">${LABELS[key]}<input id="f-${key}" name="${key}" value="${input[key] ?? ''}" placeholder="${placeholder}"></label>`;
  const exports = canExport
    ? html` <a href="/console/journal/export${queryString({ ...input, format: 'csv' })}">Export CSV</a> <a href="/console/journal/export${queryString({ ...input, format: 'ndjson' })}">Export NDJSON</a>`
    : '';
  return html`<form class="filters" method="get" action="/console/journal" aria-label="Journal filters">
    ${field('user', 'alice@example.com')}${field('group', 'Finance Reporting')}${field('resourceType', 'User or Group')}${field('resourceId', 'uuid')}
    ${field('actor', 'token or person')}${field('source', 'scim,policy,console')}${field('action', 'user.update')}${field('requestId', '')}
    ${field('since', '2026-12-01 or 7d')}${field('until', '')}
    <button type="submit">Filter</button>${exports} <a href="/console/journal/verify">Verification</a></form>`;
}

const entryRow = (e: JournalRow): Html =>
  html`<tr><td>${entryLink(e.id)}</td><td>${time(e.at)}</td><td>${e.action}</td><td>${resourceLink(e.resource_type, e.resource_id, e.resource_name)}</td><td>${e.actor}</td><td>${e.source}</td>
    <td>${e.request_id ? html`<a href="/console/journal?requestId=${encodeURIComponent(e.request_id)}">${e.request_id}</a>` : '—'}</td></tr>`;

export async function journalBody(db: Knex, query: Record<string, unknown>, canExport: boolean): Promise<{ body: Html; status: number }> {
  const input = filterInput(query);
  const form = filterForm(input, canExport);
  const filter = parseFilterInput(input);
  if (typeof filter === 'string') return { body: html`${form}${notice('error', filter)}`, status: 400 };
  const after = typeof query.after === 'string' && /^\d{1,15}$/.test(query.after) ? Number(query.after) : undefined;
  const page = await queryJournal(db, filter, { after, limit: PAGE_SIZE });
  const table = page.rows.length
    ? html`<table><caption>Journal entries, newest first</caption><thead><tr><th scope="col">Entry</th><th scope="col">At</th><th scope="col">Action</th><th scope="col">Resource</th><th scope="col">Actor</th><th scope="col">Source</th><th scope="col">Request</th></tr></thead><tbody>${page.rows.map(entryRow)}</tbody></table>`
    : html`<p>No entries match.</p>`;
  const next = page.next !== undefined ? html`<nav class="pager" aria-label="Pages"><a href="/console/journal${queryString({ ...input, after: page.next })}">Older entries</a></nav>` : '';
  return { body: html`${form}${table}${next}`, status: 200 };
}

export async function journalEntry(db: Knex, id: number): Promise<JournalRow | undefined> {
  const page = await readJournalPage(db, [{ sql: 'j.id = ?', bindings: [id], selective: true }], { order: 'newest', limit: 1 });
  return page.rows[0];
}

export function entryBody(row: JournalRow): Html {
  return html`<dl class="facts">
      <dt>At</dt><dd>${time(row.at)}</dd><dt>Action</dt><dd>${row.action}</dd>
      <dt>Resource</dt><dd>${resourceLink(row.resource_type, row.resource_id, row.resource_name)}</dd>
      <dt>Actor</dt><dd><a href="/console/journal?actor=${encodeURIComponent(row.actor)}">${row.actor}</a></dd><dt>Source</dt><dd>${row.source}</dd>
      <dt>Request id</dt><dd>${row.request_id ? html`<a href="/console/journal?requestId=${encodeURIComponent(row.request_id)}">${row.request_id}</a>` : '—'}</dd>
      <dt>Chain</dt><dd>seq ${row.seq ?? 'pending'} · hash <code>${row.hash ?? '—'}</code></dd></dl>
    <section aria-labelledby="diff"><h2 id="diff">What changed</h2>${changesTable(pathChanges(row), 'Before and after')}</section>
    ${row.reason !== null ? html`<section aria-labelledby="reason"><h2 id="reason">Reason</h2><pre>${JSON.stringify(row.reason, null, 2)}</pre></section>` : ''}
    ${row.changes !== null && !Array.isArray(row.changes) ? html`<details${pathChanges(row).length === 0 ? ' open' : ''}><summary>Recorded changes (raw)</summary><pre>${JSON.stringify(row.changes, null, 2)}</pre></details>` : ''}
    <p class="muted">Entry ${valueText(row.id)} of the tamper-evident journal (docs/operations-journal.md).</p>`;
}
