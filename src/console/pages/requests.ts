/**
 * The Requests page (issue 17): the signed-in person asks for access from the policy's catalog,
 * sees their own requests with each stage's decision (and withdraws a pending one), and, as an
 * approver, decides the requests waiting for them with a reason. Who the person is among Roster's
 * users comes from the session's email claim, else its subject, matched to userName or emails.
 */
import type { Knex } from 'knex';
import { describeStage, type CatalogEntry } from '../../policy/catalog.js';
import { appliedPolicy } from '../../policy/policy-state.js';
import { approverProfile, decidesStage } from '../../governance/request-approvers.js';
import { listRequests, pendingRequests, type AccessRequest } from '../../governance/request-store.js';
import { matchesFilter } from '../../scim/filter/match.js';
import { html, type Html } from '../html.js';
import { csrfField, notice, time } from '../layout.js';
import type { ConsoleSession, Person } from '../session-store.js';

/** Pending requests scanned for an approver's inbox (the oldest first). */
const INBOX_SCAN = 500;

export interface PersonUser {
  id: string;
  userName: string;
  resource: Record<string, unknown>;
}

const personOf = (row: { id: string; resource: Record<string, unknown> } | undefined): PersonUser | undefined =>
  row ? { id: row.id, userName: String(row.resource.userName), resource: row.resource } : undefined;

/** The Roster user a signed-in person is, if any. */
export async function personUser(db: Knex, person: Person): Promise<PersonUser | undefined> {
  const keys = [person.email, person.subject].filter((k): k is string => typeof k === 'string' && k.length > 0).map((k) => k.toLowerCase());
  // userName first (indexed); an email address only when no userName matches (a scan of users).
  for (const key of keys) {
    const row = personOf(await db('users').select('id', 'resource').whereRaw(`lower(resource->>'userName') = ?`, [key]).first());
    if (row) return row;
  }
  for (const key of keys) {
    const row = personOf(
      await db('users')
        .select('id', 'resource')
        .whereRaw(`EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(resource->'emails') = 'array' THEN resource->'emails' ELSE '[]'::jsonb END) e WHERE lower(e->>'value') = ?)`, [key])
        .first(),
    );
    if (row) return row;
  }
  return undefined;
}

const STATUS_TAG: Record<AccessRequest['status'], string> = { pending: 'warn', approved: 'good', denied: 'bad', withdrawn: '', expired: '' };

export function statusOf(r: AccessRequest): Html {
  const text = r.status === 'pending' ? `pending: stage ${r.stage + 1} of ${r.stageCount}` : r.status;
  return html`<span class="tag ${STATUS_TAG[r.status]}">${text}</span>`;
}

export function decisionsOf(r: AccessRequest): Html | string {
  if (r.decisions.length === 0) return r.status === 'pending' ? 'none yet' : (r.closedReason ?? '—');
  return html`<ol>${r.decisions.map((d) => html`<li>Stage ${d.stage}: ${d.decision === 'approve' ? 'approved' : 'denied'} by ${d.approver}, ${time(d.decidedAt)}: “${d.reason}”</li>`)}</ol>`;
}

export function entryOption(entry: CatalogEntry): Html {
  const approvers = entry.stages.map((s, i) => `${i + 1}. ${describeStage(s)}`).join(', then ');
  return html`<option value="${entry.name}">${entry.name}${entry.description ? ` — ${entry.description}` : ''} (up to ${entry.maxDays} days; approved by ${approvers})</option>`;
}

function requestForm(session: ConsoleSession, catalog: CatalogEntry[]): Html {
  if (catalog.length === 0) return notice('info', 'The policy in force offers you nothing to request (its catalog has no entry open to you).');
  return html`<form class="stack" method="post" action="/console/requests">${csrfField(session)}
    <label for="entry">Access</label>
    <select id="entry" name="entry" required>${catalog.map(entryOption)}</select>
    <label for="justification">Why you need it</label>
    <textarea id="justification" name="justification" rows="3" maxlength="1000" class="wide" aria-describedby="justification-help"></textarea>
    <span id="justification-help" class="muted">Required unless the entry says otherwise; your approvers read it.</span>
    <label for="days">For how many days (empty: the longest the entry allows)</label>
    <input id="days" name="days" type="number" min="1" max="366" inputmode="numeric">
    <div><button type="submit">Request access</button></div>
  </form>`;
}

function mineTable(session: ConsoleSession, mine: AccessRequest[]): Html {
  if (mine.length === 0) return html`<p class="muted">You have no requests yet.</p>`;
  return html`<table><caption class="visually-hidden">Your requests, newest first</caption>
    <thead><tr><th scope="col">Request</th><th scope="col">Access</th><th scope="col">For</th><th scope="col">Status</th><th scope="col">Decisions</th><th scope="col">Until</th><th scope="col">Action</th></tr></thead>
    <tbody>${mine.map(
      (r) => html`<tr id="request-${r.id}"><td>#${r.id}</td><td>${r.entry}</td><td>${r.user.userName}</td><td>${statusOf(r)}</td><td>${decisionsOf(r)}</td>
        <td>${r.grantedUntil ? time(r.grantedUntil) : r.status === 'pending' ? html`expires ${time(r.expiresAt)}` : '—'}</td>
        <td>${r.status === 'pending' ? html`<form method="post" action="/console/requests/${r.id}/withdraw">${csrfField(session)}<button type="submit" class="secondary" aria-label="Withdraw request #${r.id}">Withdraw</button></form>` : ''}</td></tr>`,
    )}</tbody></table>`;
}

function inboxItem(session: ConsoleSession, r: AccessRequest, stageText: string): Html {
  return html`<li id="request-${r.id}"><h3>#${r.id}: ${r.user.userName} asks for ${r.entry}</h3>
    <dl class="facts"><dt>Why</dt><dd>${r.justification ?? '(none given)'}</dd><dt>Filed by</dt><dd>${r.requestedBy}, ${time(r.createdAt)}</dd>
      <dt>Stage</dt><dd>${r.stage + 1} of ${r.stageCount}, decided by ${stageText}</dd><dt>Duration</dt><dd>${r.requestedUntil ? html`until ${time(r.requestedUntil)}` : `${r.durationDays} days from approval`}</dd>
      <dt>Earlier stages</dt><dd>${decisionsOf(r)}</dd><dt>Expires undecided</dt><dd>${time(r.expiresAt)}</dd></dl>
    <form class="stack" method="post" action="/console/requests/${r.id}/decide">${csrfField(session)}
      <label for="reason-${r.id}">Reason (shown to the requester and kept in the journal)</label>
      <input id="reason-${r.id}" name="reason" required minlength="3" maxlength="1000" class="wide">
      <div><button type="submit" name="decision" value="approve">Approve #${r.id}</button> <button type="submit" name="decision" value="deny" class="secondary">Deny #${r.id}</button></div>
    </form></li>`;
}

/**
 * The page for the signed-in person; `staff` is what the console's roles add below it (every
 * request, filing on someone's behalf: requests-all.ts), shown also to a sign-in linked to nobody.
 */
export async function requestsBody(db: Knex, session: ConsoleSession, done?: string, staff?: Html): Promise<Html> {
  const user = await personUser(db, session);
  const doneNotice = done ? notice('ok', done) : '';
  if (!user) {
    const unlinked = `Your sign-in (${session.email ?? session.subject}) is not linked to a person in Roster, so you cannot request or approve access for yourself here. Requests are made by people whose email or userName matches a Roster user; an operator can file one for you (roster request create, or this page's on-behalf form, shown to operators).`;
    return html`${doneNotice}${notice('info', unlinked)}${staff ?? ''}`;
  }
  const policy = await appliedPolicy(db);
  const catalog = policy?.catalog ?? [];
  const [mine, pending] = await Promise.all([listRequests(db, { involving: user.id }, { limit: 100 }), pendingRequests(db, INBOX_SCAN)]);
  const me = await approverProfile(db, user.id);
  const waiting = pending.filter((r) => r.user.id !== user.id && r.requesterUserId !== user.id);
  // One read of the people concerned, then each request is checked in memory.
  const subjects = new Map(
    ((await db('users').select('id', 'resource').whereIn('id', [...new Set(waiting.map((r) => r.user.id))])) as Array<{ id: string; resource: Record<string, unknown> }>).map((u) => [u.id, u.resource]),
  );
  const inbox: Html[] = [];
  for (const r of waiting) {
    const stage = catalog.find((e) => e.name === r.entry)?.stages[r.stage];
    const subject = subjects.get(r.user.id);
    if (stage && subject && me && decidesStage(stage, subject, me)) inbox.push(inboxItem(session, r, describeStage(stage)));
  }
  return html`${doneNotice}<p class="muted">Signed in as ${user.userName}.</p>
    <section aria-labelledby="ask"><h2 id="ask">Request access</h2>${requestForm(session, catalog.filter((e) => !e.requesters || matchesFilter(e.requesters.filter, user.resource, { type: 'User' })))}</section>
    <section aria-labelledby="inbox"><h2 id="inbox">Waiting for your decision (${inbox.length})</h2>${inbox.length ? html`<ul class="inbox">${inbox}</ul>` : html`<p class="muted">Nothing waits for you.</p>`}</section>
    <section aria-labelledby="mine"><h2 id="mine">Your requests</h2>${mineTable(session, mine.items)}</section>${staff ?? ''}`;
}
