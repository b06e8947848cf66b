/**
 * The ledger of orphaned and drifting downstream accounts in the console (docs/governance.md):
 * filtered in the URL like `roster ledger` and GET /ops/ledger, and acted on by operators (adopt,
 * disable, ignore until a date) through src/governance/ledger-actions.ts, as the CLI and API do.
 */
import type { Knex } from 'knex';
import { LEDGER_KINDS, LEDGER_STATUSES, listLedger, type LedgerFilter, type LedgerItem } from '../../governance/ledger-store.js';
import { html, queryString, type Html } from '../html.js';
import { csrfField, notice, time } from '../layout.js';
import type { ConsoleSession } from '../session-store.js';
import { tag } from './render.js';

const PAGE = 100;

export function ledgerFilterOf(query: Record<string, unknown>): LedgerFilter & { after?: string } {
  const text = (name: string) => (typeof query[name] === 'string' && query[name] !== '' ? query[name] : undefined);
  const pick = <T extends string>(name: string, allowed: readonly T[]) => {
    const value = text(name);
    return value && (allowed as readonly string[]).includes(value) ? (value as T) : undefined;
  };
  const after = text('after');
  return { connector: text('connector'), kind: pick('kind', LEDGER_KINDS), status: pick('status', LEDGER_STATUSES), name: text('name'), ...(after && /^\d{1,18}$/.test(after) ? { after } : {}) };
}

function finding(item: LedgerItem): string {
  const d = item.details;
  if (item.kind === 'orphan') return [d.active === false ? 'disabled on the target' : 'active on the target', typeof d.externalId === 'string' ? `externalId ${d.externalId}` : ''].filter(Boolean).join(', ');
  if (d.kind === 'attributes') return `attributes differ: ${Array.isArray(d.attributes) ? d.attributes.join(', ') : ''}`;
  if (d.kind === 'members') return `members differ: ${String(d.membersMissing ?? 0)} missing, ${String(d.membersExtra ?? 0)} extra`;
  return 'missing on the target';
}

function actions(session: ConsoleSession, item: LedgerItem): Html | string {
  if (item.status !== 'open' && item.status !== 'ignored') return '';
  const id = `ledger-${item.id}`;
  const base = `/console/ledger/${item.id}`;
  const adopt =
    item.kind === 'orphan' && item.resourceType === 'User'
      ? html`<form method="post" action="${base}/adopt">${csrfField(session)}<label for="${id}-user">Person (userName)</label> <input id="${id}-user" name="user" required> <button type="submit" class="secondary">Adopt</button></form>`
      : '';
  const disable =
    item.kind === 'orphan'
      ? html`<form method="post" action="${base}/disable" data-confirm="Disable ${item.name} on ${item.connector}?">${csrfField(session)}<button type="submit" class="secondary" aria-label="Disable ${item.name} on ${item.connector}">Disable</button></form>`
      : '';
  const ignore = html`<form method="post" action="${base}/ignore">${csrfField(session)}<label for="${id}-reason">Reason to ignore</label> <input id="${id}-reason" name="reason" required minlength="3">
    <label for="${id}-until">Until</label> <input id="${id}-until" name="until" type="date"> <button type="submit" class="secondary">Ignore</button></form>`;
  return html`<details><summary>Act on ${item.name}</summary>${adopt}${disable}${ignore}</details>`;
}

export async function ledgerBody(db: Knex, session: ConsoleSession, canOperate: boolean, query: Record<string, unknown>): Promise<Html> {
  const filter = ledgerFilterOf(query);
  const page = await listLedger(db, filter, { after: filter.after, limit: PAGE });
  const done = typeof query.done === 'string' ? query.done.slice(0, 300) : undefined;
  const option = (value: string, current: string | undefined) => html`<option value="${value}"${value === current ? html` selected` : ''}>${value || 'any'}</option>`;
  return html`${done ? notice('ok', done) : ''}
    <p class="muted">Accounts on the downstream apps that Roster does not manage (orphans), and managed ones that differ from what Roster sent (drift), as every full or report-only sync finds them.</p>
    <form class="filters" method="get" action="/console/ledger">
      <label>Connector <input name="connector" value="${filter.connector ?? ''}"></label>
      <label>Kind <select name="kind">${['', ...LEDGER_KINDS].map((k) => option(k, filter.kind))}</select></label>
      <label>Status <select name="status">${['', ...LEDGER_STATUSES].map((s) => option(s, filter.status))}</select></label>
      <label>Name contains <input name="name" value="${filter.name ?? ''}"></label>
      <button type="submit">Filter</button></form>
    ${page.items.length
      ? html`<table><caption>Ledger items (oldest first)</caption><thead><tr><th scope="col">Item</th><th scope="col">Connector</th><th scope="col">Kind</th><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Finding</th><th scope="col">Last seen</th>${canOperate ? html`<th scope="col">Action</th>` : ''}</tr></thead><tbody>${page.items.map(
          (i) => html`<tr><td>${i.id}</td><td>${i.connector}</td><td>${i.kind} <span class="muted">${i.resourceType}</span></td><th scope="row">${i.name}</th>
            <td>${i.status === 'open' ? tag('open', 'warn') : i.status === 'ignored' ? html`${tag('ignored')} until ${time(i.ignoredUntil)}: ${i.ignoredReason ?? ''}` : html`${tag(i.status, 'good')} by ${i.actedBy ?? 'a full sync'}`}</td>
            <td>${finding(i)}</td><td>${time(i.lastSeenAt)}</td>${canOperate ? html`<td>${actions(session, i)}</td>` : ''}</tr>`,
        )}</tbody></table>`
      : html`<p>No such items. A full sync fills the ledger: report drift on a connector's page.</p>`}
    ${page.next ? html`<nav class="pager" aria-label="Pages"><a href="/console/ledger${queryString({ connector: filter.connector, kind: filter.kind, status: filter.status, name: filter.name, after: page.next })}">Next ${PAGE} items</a></nav>` : ''}`;
}
