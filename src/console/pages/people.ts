/**
 * People: search by plain text or by a SCIM filter (the same filter → SQL translation and keyset
 * cursor the SCIM API uses, src/scim/list.ts), and a person's page: attributes (HR ones marked),
 * roles and every group with why (src/policy/explain.ts, as `roster explain` and
 * GET /ops/users/{id}/access), remote accounts per connector, and the history timeline.
 */
import type { Knex } from 'knex';
import { resourceHistory } from '../../journal/history.js';
import { explainAccess, type AccessEntry } from '../../policy/explain.js';
import { ScimError } from '../../scim/errors.js';
import { parseFilter } from '../../scim/filter/parse.js';
import { listResources } from '../../scim/list.js';
import { ENTERPRISE_USER_SCHEMA, ROSTER_HR_SCHEMA } from '../../scim/schema/urns.js';
import { countAll, findResource } from '../../store/resource-store.js';
import { COUNT_LIMIT, searchPeople } from '../../store/people-search.js';
import { linksOf } from '../../sync/links.js';
import { activeConnectors } from '../../sync/registry.js';
import { html, queryString, type Html } from '../html.js';
import { notice, time } from '../layout.js';
import { asOfForm } from './person-evidence.js';
import { changesTable, entryLink, shortPath, tag, valueText } from './render.js';

const PAGE_SIZE = 50;
const LIST_ATTRIBUTES = `userName,displayName,active,title,${ENTERPRISE_USER_SCHEMA}:department`;

interface SearchInput {
  q?: string | undefined;
  filter?: string | undefined;
  cursor?: string | undefined;
}

/** The people table, for a SCIM filter's page and a text search's page alike. */
function peopleTable(rows: ReadonlyArray<Record<string, unknown>>, matches: number | undefined, described: Html | string, next: string | undefined): Html {
  const department = (r: Record<string, unknown>) => valueText((r[ENTERPRISE_USER_SCHEMA] as Record<string, unknown> | undefined)?.department);
  const count =
    matches === undefined
      ? `People${next ? ` (${rows.length} on this page, more on the next)` : ''}`
      : matches > COUNT_LIMIT
        ? `More than ${COUNT_LIMIT.toLocaleString('en')} people`
        : `${matches.toLocaleString('en')} ${matches === 1 ? 'person' : 'people'}`;
  return html`<table><caption>${count}${described}</caption>
    <thead><tr><th scope="col">userName</th><th scope="col">Name</th><th scope="col">Title</th><th scope="col">Department</th><th scope="col">Status</th></tr></thead><tbody>${rows.map(
      (r) => html`<tr><td><a href="/console/people/${String(r.id)}">${valueText(r.userName)}</a></td><td>${valueText(r.displayName)}</td><td>${valueText(r.title)}</td><td>${department(r)}</td>
        <td>${r.active === false ? tag('deactivated', 'bad') : tag('active', 'good')}</td></tr>`,
    )}</tbody></table>${next ? html`<nav class="pager" aria-label="Pages"><a href="${next}">Next page</a></nav>` : ''}`;
}

/** A text search's keyset in the URL: lower(userName) and id. */
const encodeAfter = (after: { userName: string; id: string }) => Buffer.from(JSON.stringify([after.userName, after.id])).toString('base64url');
function decodeAfter(text: string | undefined): { userName: string; id: string } | undefined {
  if (!text) return undefined;
  try {
    const [userName, id] = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown[];
    return typeof userName === 'string' && typeof id === 'string' && UUID.test(id) ? { userName, id } : undefined;
  } catch {
    return undefined;
  }
}
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function peopleBody(db: Knex, input: SearchInput): Promise<{ body: Html; status: number }> {
  const form = html`<form class="filters" method="get" action="/console/people" role="search">
    <label for="q">Name, userName, email or id contains<input id="q" name="q" type="search" value="${input.q ?? ''}"></label>
    <label for="filter">or a SCIM filter<input id="filter" name="filter" class="wide" value="${input.filter ?? ''}" placeholder='title eq "Engineer" and active eq true'></label>
    <button type="submit">Search</button></form>`;
  const filterText = input.filter?.trim() || undefined;
  const text = filterText ? undefined : input.q?.trim() || undefined;
  if (text) {
    // Plain text: the trigram-indexed search over the names people search by (src/store/people-search.ts).
    const found = await searchPeople(db, text, { after: decodeAfter(input.cursor), limit: PAGE_SIZE });
    const rows = found.rows.map((r) => ({ ...r.resource, id: r.id }));
    const next = found.next ? `/console/people${queryString({ q: input.q, cursor: encodeAfter(found.next) })}` : undefined;
    return { body: html`${form}${peopleTable(rows, found.matches, html` whose names contain “${text}”`, next)}`, status: 200 };
  }
  let list;
  // A filter's matches are not counted: any filter over an attribute without an index would read
  // every person to count them, where the first page (in userName order) stops after 50 matches.
  const matches = filterText ? undefined : await countAll(db, 'User');
  try {
    const query = { ...(filterText ? { filter: parseFilter(filterText), filterText } : {}), sortBy: 'userName', sortOrder: 'ascending' as const, startIndex: 1, count: PAGE_SIZE, cursor: input.cursor ?? '', attributes: LIST_ATTRIBUTES };
    // -1: not counted (a filter's total is not shown).
    list = await listResources(db, 'User', query, '', matches ?? -1);
  } catch (error) {
    if (error instanceof ScimError && error.status === 400) return { body: html`${form}${notice('error', `That search is not valid: ${error.message}`)}`, status: 400 };
    throw error;
  }
  const rows = list.Resources as Array<Record<string, unknown>>;
  const next = list.nextCursor ? `/console/people${queryString({ filter: input.filter, cursor: list.nextCursor })}` : undefined;
  return { body: html`${form}${peopleTable(rows, matches, filterText ? html` matching <code>${filterText}</code>` : '', next)}`, status: 200 };
}

function why(entry: AccessEntry): Html {
  const reasons = entry.because.map((b) => {
    if (b.kind === 'rule') {
      const values = Object.entries(b.attributes).map(([k, v]) => html`<code>${shortPath(k)}</code> = ${v === null || v === undefined ? html`<em>not set</em>` : valueText(v)}`);
      return html`<li><span class="lineage"><span>attributes: ${values.length ? values.map((v, i) => html`${i ? ', ' : ''}${v}`) : '—'}</span><span>rule <code>${b.when}</code></span><span>role <strong>${b.role}</strong> (since ${time(b.roleSince)})</span><span>group <strong>${entry.group.displayName}</strong></span></span></li>`;
    }
    if (b.kind === 'exception') {
      const request = b.accessRequest === null ? '' : ` (granted by access request #${b.accessRequest})`;
      return html`<li>Exception by ${b.grantedBy} on ${time(b.grantedAt)}${request}, expires ${time(b.expiresAt)}: “${b.reason}”</li>`;
    }
    return html`<li>Pushed by ${b.actor ?? 'unknown (no journal entry)'}${b.source ? ` via ${b.source}` : ''}</li>`;
  });
  if (entry.group.managedBy && entry.because.length === 0) reasons.push(html`<li>No rule or exception grants it any more; the next evaluation removes it</li>`);
  return html`<ul class="why">${reasons}</ul>`;
}

const HR_LABEL = html` ${tag('HR')}`;

function attributes(resource: Record<string, unknown>): Html {
  const core = Object.entries(resource).filter(([k]) => !k.startsWith('urn:') && !['schemas', 'meta', 'groups', 'id'].includes(k));
  const ext = (schema: string) => Object.entries((resource[schema] as Record<string, unknown> | undefined) ?? {});
  const row = (k: string, v: unknown, hr = false) => html`<dt>${k}${hr ? HR_LABEL : ''}</dt><dd>${valueText(v)}</dd>`;
  const hr = ext(ROSTER_HR_SCHEMA);
  // The legend only where it explains something: a person the IdP alone provisioned has no HR attributes.
  return html`<dl class="facts">${core.map(([k, v]) => row(k, v))}${ext(ENTERPRISE_USER_SCHEMA).map(([k, v]) => row(k, v))}${hr.map(([k, v]) => row(k, v, true))}</dl>
    ${hr.length ? html`<p class="muted">${tag('HR')} marks attributes of the Roster HR extension (${ROSTER_HR_SCHEMA}), written by the HR import.</p>` : ''}`;
}

export async function personBody(db: Knex, id: string, historyAfter?: number): Promise<{ title: string; body: Html } | undefined> {
  const [row, access] = await Promise.all([findResource(db, 'User', id), explainAccess(db, id)]);
  if (!row || !access) return undefined;
  const resource = row.resource as Record<string, unknown>;
  const connectors = activeConnectors().list.map((c) => c.name);
  const [links, history] = await Promise.all([linksOf(db, connectors, 'User', id), resourceHistory(db, 'User', id, { after: historyAfter, limit: 50 })]);

  const roles = access.roles.length
    ? html`<ul>${access.roles.map((r) => html`<li><strong>${r.role}</strong> since ${time(r.since)}</li>`)}</ul>`
    : html`<p>No roles (policy version ${access.policyVersion ?? 'none applied'}).</p>`;
  const groups = access.groups.length
    ? html`<table><caption>Groups, and why (policy version ${access.policyVersion ?? 'none applied'})</caption><thead><tr><th scope="col">Group</th><th scope="col">Owner</th><th scope="col">Member since</th><th scope="col">Why</th><th scope="col">Journal</th></tr></thead><tbody>${access.groups.map(
        (g) => html`<tr><th scope="row"><a href="/console/groups/${g.group.id}">${g.group.displayName}</a></th><td>${g.group.managedBy ? `policy ${g.group.managedBy}` : 'IdP'}</td><td>${time(g.since)}</td><td>${why(g)}</td>
          <td>${g.journalEntry ? html`${entryLink(g.journalEntry.id)} <span class="muted">${g.journalEntry.action} by ${g.journalEntry.actor}</span>` : 'none found'}</td></tr>`,
      )}</tbody></table>`
    : html`<p>Not a member of any group.</p>`;
  const violations = access.violations.map((v) => notice('error', `Separation-of-duties conflict ${v.conflict.join(' / ')} since ${v.since}`));
  const remote = connectors.length
    ? html`<table><caption>Accounts in downstream apps</caption><thead><tr><th scope="col">Connector</th><th scope="col">Remote id</th><th scope="col">State</th><th scope="col">Acknowledged</th><th scope="col">Updated</th></tr></thead><tbody>${
        links.length
          ? links.map((l) => html`<tr><td><a href="/console/connectors/${encodeURIComponent(l.connector)}">${l.connector}</a></td><td><code>${l.remoteId ?? '—'}</code></td><td>${l.state}${l.adopted ? ' (adopted)' : ''}</td><td><details><summary>What the target confirmed</summary><pre>${JSON.stringify(l.acknowledged, null, 2)}</pre></details></td><td>${time(l.updatedAt)}</td></tr>`)
          : html`<tr><td colspan="5">No account in any connector yet.</td></tr>`
      }</tbody></table>`
    : '';
  const timeline = html`<ol class="timeline">${history.entries.map(
    (e) => html`<li><p>${time(e.at)} · <strong>${e.action}</strong> by ${e.actor} <span class="muted">(${e.source}${e.requestId ? html`, request <a href="/console/journal?requestId=${encodeURIComponent(e.requestId)}">${e.requestId}</a>` : ''})</span> · ${entryLink(e.id)}</p>
      ${e.changes.length ? changesTable(e.changes, `Changes in entry #${e.id}`) : ''}</li>`,
  )}</ol>${history.next !== undefined ? html`<nav class="pager" aria-label="History pages"><a href="/console/people/${id}?historyAfter=${history.next}">Later entries</a></nav>` : ''}`;
  const name = valueText(resource.displayName) || access.user.userName;
  return {
    title: name,
    body: html`<p>${access.user.userName} · <code>${id}</code> · ${access.user.active ? tag('active', 'good') : html`${tag('deactivated', 'bad')} · <a href="/console/people/${id}/receipt">Leaver receipt</a>`}</p>${violations}
      ${asOfForm(id)}
      <section aria-labelledby="attrs"><h2 id="attrs">Attributes</h2>${attributes(resource)}</section>
      <section aria-labelledby="roles"><h2 id="roles">Roles</h2>${roles}</section>
      <section aria-labelledby="groups"><h2 id="groups">Groups</h2>${groups}</section>
      ${remote ? html`<section aria-labelledby="remote"><h2 id="remote">Downstream accounts</h2>${remote}</section>` : ''}
      <section aria-labelledby="history"><h2 id="history">History</h2>${timeline}</section>`,
  };
}
