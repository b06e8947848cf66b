/**
 * A person's evidence pages, from the journal: access as of a past moment (src/journal/as-of.ts)
 * and, for a leaver, the receipt (src/journal/leaver-receipt.ts), printable and exportable as JSON.
 */
import type { Knex } from 'knex';
import { accessAsOf } from '../../journal/as-of.js';
import type { LeaverReceipt } from '../../journal/leaver-receipt.js';
import { TIME_FORMS } from '../../journal/time.js';
import { html, type Html } from '../html.js';
import { notice, time } from '../layout.js';
import { changesTable, entryLink, tag } from './render.js';

export function asOfForm(id: string, value = ''): Html {
  return html`<form class="filters" method="get" action="/console/people/${id}/as-of" aria-label="Access at a past moment">
    <label for="as-of">Access as of (a date, a time, or 7d for a week ago)<input id="as-of" name="at" value="${value}" required placeholder="2026-11-30 or 7d"></label>
    <button type="submit">Show</button></form>`;
}

export async function asOfBody(db: Knex, id: string, at: Date, asked: string): Promise<Html> {
  const access = await accessAsOf(db, id, at);
  const incomplete = access.journalStartsAt && access.journalStartsAt > access.at ? notice('error', `The journal starts at ${access.journalStartsAt} (older entries were purged): this moment cannot be reconstructed.`) : '';
  const list = (title: string, items: typeof access.groups, link: (key: string) => string) =>
    items.length
      ? html`<table><caption>${title}</caption><thead><tr><th scope="col">Name</th><th scope="col">Held since</th><th scope="col">Granted by entry</th></tr></thead><tbody>${items.map(
          (i) => html`<tr><th scope="row">${link(i.key) ? html`<a href="${link(i.key)}">${i.name}</a>` : i.name}</th><td>${time(i.since)}</td><td>${entryLink(i.entryId)}</td></tr>`,
        )}</tbody></table>`
      : html`<p>${title}: none.</p>`;
  return html`${asOfForm(id, asked)}${incomplete}
    <p>Reconstructed from the journal as of ${time(access.at)}${access.existed ? '' : html` · ${tag('the user did not exist then', 'warn')}`}.</p>
    ${list('Groups', access.groups, (key) => `/console/groups/${key}`)}${list('Roles', access.roles, () => '')}
    <p><a href="/console/people/${id}">Back to the person</a></p>`;
}

export const AS_OF_HELP = `Give ${TIME_FORMS}.`;

export function receiptBody(receipt: LeaverReceipt): Html {
  const d = receipt.deactivation;
  if (!d) return html`${notice('info', `${receipt.user.userName ?? receipt.user.id} is not deactivated: there is no leaver receipt.`)}<p><a href="/console/people/${receipt.user.id}">Back to the person</a></p>`;
  const who = (s: { actor: string; source: string; requestId: string | null }) => html`${s.actor} <span class="muted">(${s.source}${s.requestId ? `, request ${s.requestId}` : ''})</span>`;
  return html`<p class="no-print"><a href="/console/people/${receipt.user.id}/receipt?format=json" download>Download as JSON</a> · use your browser's Print for paper or PDF</p>
    <section aria-labelledby="deact"><h2 id="deact">1. Deactivation</h2>
      <p>${time(d.at)} · ${d.action} by ${who(d)} · ${entryLink(d.entryId)}${d.source === 'import' ? html` · ${tag('HR change')}` : ''}</p>${changesTable(d.changes, 'The change that deactivated the account')}</section>
    <section aria-labelledby="removed"><h2 id="removed">2. Access removed</h2>
      ${receipt.membershipsRemoved.length || receipt.rolesRemoved.length
        ? html`<table><caption>Memberships and roles removed</caption><thead><tr><th scope="col">What</th><th scope="col">When</th><th scope="col">By</th><th scope="col">Entry</th></tr></thead><tbody>
            ${receipt.membershipsRemoved.map((m) => html`<tr><td>group <a href="/console/groups/${m.groupId}">${m.group}</a></td><td>${time(m.at)}</td><td>${who(m)}</td><td>${entryLink(m.entryId)}</td></tr>`)}
            ${receipt.rolesRemoved.map((r) => html`<tr><td>role ${r.role}</td><td>${time(r.at)}</td><td>${who(r)}</td><td>${entryLink(r.entryId)}</td></tr>`)}</tbody></table>`
        : html`<p>No group membership or role was removed after the deactivation.</p>`}</section>
    <section aria-labelledby="acks"><h2 id="acks">3. Downstream apps</h2>
      ${receipt.pushes.length
        ? html`<table><caption>What each connector sent and what the app answered</caption><thead><tr><th scope="col">Connector</th><th scope="col">When</th><th scope="col">Request</th><th scope="col">Answer</th><th scope="col">Entry</th></tr></thead><tbody>${receipt.pushes.map(
            (p) => html`<tr><td><a href="/console/connectors/${encodeURIComponent(p.connector)}">${p.connector}</a></td><td>${time(p.at)}</td><td><code>${p.method ?? ''} ${p.path ?? ''}</code></td><td>${p.status ?? '—'} ${p.outcome === 'ok' ? tag('acknowledged', 'good') : tag(p.outcome ?? 'unknown', 'bad')}${p.latencyMs !== null ? html` <span class="muted">${p.latencyMs} ms</span>` : ''}</td><td>${entryLink(p.entryId)}</td></tr>`,
          )}</tbody></table>`
        : html`<p>No connector has pushed the deactivation yet.</p>`}</section>`;
}
