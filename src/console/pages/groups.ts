/** Groups: a list with owner and member count, and a group's page with members paged by keyset and its history. */
import type { Knex } from 'knex';
import { resourceHistory } from '../../journal/history.js';
import { groupsPage, membersPage } from '../../store/browse.js';
import { html, queryString, type Html } from '../html.js';
import { time } from '../layout.js';
import { changesTable, entryLink, tag, valueText } from './render.js';

const PAGE_SIZE = 50;
const MEMBERS_PAGE_SIZE = 100;

export async function groupsBody(db: Knex, input: { q?: string | undefined; after?: string | undefined }): Promise<Html> {
  const { groups, next } = await groupsPage(db, { prefix: input.q?.trim() || undefined, after: input.after, limit: PAGE_SIZE });
  return html`<form class="filters" method="get" action="/console/groups" role="search"><label for="q">Name starts with<input id="q" name="q" type="search" value="${input.q ?? ''}"></label><button type="submit">Find</button></form>
    <table><caption>Groups by name</caption><thead><tr><th scope="col">Group</th><th scope="col">Owner</th><th scope="col">Members</th></tr></thead><tbody>${groups.map(
      (g) => html`<tr><th scope="row"><a href="/console/groups/${g.id}">${g.displayName}</a></th><td>${g.managedBy ? html`${tag('policy')} ${g.managedBy}` : html`${tag('IdP')} pushed by the identity provider`}</td><td>${g.members.toLocaleString('en')}</td></tr>`,
    )}</tbody></table>
    ${next ? html`<nav class="pager" aria-label="Pages"><a href="/console/groups${queryString({ q: input.q, after: next })}">Next page</a></nav>` : ''}`;
}

export async function groupBody(db: Knex, id: string, membersAfter?: string): Promise<{ title: string; body: Html } | undefined> {
  // Only the group's own attributes: its SCIM document would carry every member (100,000 of them).
  const [owner, { members, next }, history] = await Promise.all([
    db('groups').select(db.raw(`resource->>'displayName' AS "displayName"`), db.raw(`resource->>'externalId' AS "externalId"`), 'managed_by').where({ id }).first() as Promise<
      { displayName: string | null; externalId: string | null; managed_by: string | null } | undefined
    >,
    membersPage(db, id, { after: membersAfter, limit: MEMBERS_PAGE_SIZE }),
    resourceHistory(db, 'Group', id, { limit: 20 }),
  ]);
  if (!owner) return undefined;
  const resource = { displayName: owner.displayName, externalId: owner.externalId };
  const name = valueText(resource.displayName);
  return {
    title: name,
    body: html`<dl class="facts"><dt>Id</dt><dd><code>${id}</code></dd><dt>External id</dt><dd>${valueText(resource.externalId) || '—'}</dd>
        <dt>Owner</dt><dd>${owner?.managed_by ? `managed by policy ${owner.managed_by} (SCIM clients cannot change it)` : 'the identity provider that pushed it'}</dd></dl>
      <section aria-labelledby="members"><h2 id="members">Members</h2>
        <table><caption>Members${membersAfter ? ' (continued)' : ''}</caption><thead><tr><th scope="col">Member</th><th scope="col">Type</th><th scope="col">Added</th></tr></thead><tbody>${members.map(
          (m) => html`<tr><td><a href="${m.type === 'User' ? '/console/people/' : '/console/groups/'}${m.id}">${m.name ?? m.id}</a>${m.displayName ? html` <span class="muted">${m.displayName}</span>` : ''}</td><td>${m.type}</td><td>${time(m.addedAt)}</td></tr>`,
        )}</tbody></table>
        ${next ? html`<nav class="pager" aria-label="Member pages"><a href="/console/groups/${id}?membersAfter=${next}">Next members</a></nav>` : ''}</section>
      <section aria-labelledby="history"><h2 id="history">History</h2>
        <ol class="timeline">${history.entries.map((e) => html`<li><p>${time(e.at)} · <strong>${e.action}</strong> by ${e.actor} <span class="muted">(${e.source})</span> · ${entryLink(e.id)}</p>${e.changes.length ? changesTable(e.changes.slice(0, 20), `Changes in entry #${e.id}${e.changes.length > 20 ? ` (first 20 of ${e.changes.length})` : ''}`) : ''}</li>`)}</ol>
        <p><a href="/console/journal?resourceType=Group&amp;resourceId=${id}">All journal entries about this group</a></p></section>`,
  };
}
