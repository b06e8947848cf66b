/**
 * What the console's roles add to the Requests page (issue 17): with `read`, every request (by
 * status, newest first, paged by id like GET /ops/requests) and each one's own page with its
 * decisions; with `operate`, the form that files a request on someone's behalf. A sign-in linked
 * to no Roster person (a token, an operator's SSO account) sees these and nothing of its own.
 */
import type { Knex } from 'knex';
import { listRequests, REQUEST_STATUSES, type AccessRequest, type RequestStatus } from '../../governance/request-store.js';
import { appliedPolicy } from '../../policy/policy-state.js';
import { html, queryString, type Html } from '../html.js';
import { csrfField, notice, time } from '../layout.js';
import type { ConsoleSession } from '../session-store.js';
import { decisionsOf, entryOption, statusOf } from './requests.js';

const PAGE = 25;

export interface AllRequestsQuery {
  status?: RequestStatus | undefined;
  before?: number | undefined;
}

/** The list's filters from the query string; anything unrecognised is left out (the list is unfiltered). */
export function allRequestsQueryOf(query: Record<string, unknown>): AllRequestsQuery {
  const status = typeof query.status === 'string' && (REQUEST_STATUSES as readonly string[]).includes(query.status) ? (query.status as RequestStatus) : undefined;
  const before = typeof query.before === 'string' && /^\d{1,15}$/.test(query.before) ? Number(query.before) : undefined;
  return { status, before };
}

function onBehalfForm(session: ConsoleSession, entries: Html[]): Html {
  if (entries.length === 0) return notice('info', 'The policy in force has no catalog, so there is nothing to request (docs/policy.md#catalog).');
  return html`<form class="stack" method="post" action="/console/requests/on-behalf">${csrfField(session)}
    <label for="ob-entry">Access</label>
    <select id="ob-entry" name="entry" required>${entries}</select>
    <label for="ob-user">For (the person's userName)</label>
    <input id="ob-user" name="user" required autocomplete="off" class="wide">
    <label for="ob-justification">Justification</label>
    <textarea id="ob-justification" name="justification" rows="3" maxlength="1000" class="wide" aria-describedby="ob-justification-help"></textarea>
    <span id="ob-justification-help" class="muted">Required unless the entry says otherwise; the approvers read it. The request is filed in your name and journaled with it.</span>
    <label for="ob-days">For how many days (empty: the longest the entry allows)</label>
    <input id="ob-days" name="days" type="number" min="1" max="366" inputmode="numeric">
    <div><button type="submit">File the request</button></div>
  </form>`;
}

function requestsTable(items: AccessRequest[]): Html {
  return html`<table><caption class="visually-hidden">Access requests, newest first</caption>
    <thead><tr><th scope="col">Request</th><th scope="col">Access</th><th scope="col">For</th><th scope="col">Filed by</th><th scope="col">Status</th><th scope="col">Filed</th></tr></thead>
    <tbody>${items.map(
      (r) => html`<tr id="all-request-${r.id}"><th scope="row"><a href="/console/requests/${r.id}">#${r.id}</a></th><td>${r.entry}</td><td>${r.user.userName}</td><td>${r.requestedBy}</td><td>${statusOf(r)}</td><td>${time(r.createdAt)}</td></tr>`,
    )}</tbody></table>`;
}

/** The sections below a person's own requests: every request, and for an operator the on-behalf form. */
export async function staffSections(db: Knex, session: ConsoleSession, canOperate: boolean, query: AllRequestsQuery): Promise<Html> {
  const page = await listRequests(db, { status: query.status }, { before: query.before, limit: PAGE });
  const option = (value: string) => html`<option value="${value}"${value === (query.status ?? '') ? html` selected` : ''}>${value || 'any'}</option>`;
  const file = canOperate ? html`<section aria-labelledby="on-behalf"><h2 id="on-behalf">File a request on someone's behalf</h2>${onBehalfForm(session, ((await appliedPolicy(db))?.catalog ?? []).map(entryOption))}</section>` : '';
  return html`${file}<section aria-labelledby="all"><h2 id="all">All requests</h2>
    <form class="filters" method="get" action="/console/requests"><label>Status <select name="status">${['', ...REQUEST_STATUSES].map(option)}</select></label> <button type="submit">Filter</button></form>
    ${page.items.length ? requestsTable(page.items) : html`<p class="muted">No ${query.status ?? ''} requests${query.before ? ' older than these' : ''}.</p>`}
    ${page.next ? html`<nav class="pager" aria-label="Request pages"><a href="/console/requests${queryString({ status: query.status, before: page.next })}#all">Older requests</a></nav>` : ''}</section>`;
}

/** One request's own page: who asked, for whom, and every stage's decision. */
export function requestDetailBody(r: AccessRequest): Html {
  return html`<dl class="facts"><dt>Access</dt><dd>${r.entry}</dd><dt>For</dt><dd>${r.user.userName}</dd><dt>Filed by</dt><dd>${r.requestedBy}, ${time(r.createdAt)}</dd>
      <dt>Why</dt><dd>${r.justification ?? '(none given)'}</dd><dt>Status</dt><dd>${statusOf(r)}</dd>
      <dt>Duration</dt><dd>${r.grantedUntil ? html`granted until ${time(r.grantedUntil)}` : r.requestedUntil ? html`until ${time(r.requestedUntil)}` : `${r.durationDays ?? '?'} days from approval`}</dd>
      <dt>Expires undecided</dt><dd>${r.status === 'pending' ? time(r.expiresAt) : '—'}</dd><dt>Policy version</dt><dd>${r.policyVersion}</dd></dl>
    <h2>Decisions</h2>${decisionsOf(r)}
    <p><a href="/console/requests">All requests</a></p>`;
}
