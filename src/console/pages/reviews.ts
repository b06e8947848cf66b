/**
 * Access reviews in the console (docs/governance.md#access-reviews): the campaigns with their
 * progress, a campaign's page, the reviewer's items with keep / revoke / shorten and a reason, and
 * the printable report. The pages read through src/governance/review-store.ts and act through
 * decideItem, like the CLI and /ops/reviews.
 */
import type { Knex } from 'knex';
import type { CampaignReport } from '../../governance/review-report.js';
import { listCampaigns, listItems, type Campaign, type ReviewItem } from '../../governance/review-store.js';
import { html, queryString, type Html } from '../html.js';
import { csrfField, notice, time } from '../layout.js';
import type { ConsoleSession } from '../session-store.js';
import { entryLink, tag } from './render.js';

const PAGE = 200;

function progress(c: Campaign): Html {
  return html`<progress max="${Math.max(c.total, 1)}" value="${c.decided}" aria-label="${c.decided} of ${c.total} decided in ${c.name}"></progress> ${c.decided} of ${c.total} decided`;
}

const statusTag = (c: Campaign) => (c.status === 'closed' ? tag('closed') : new Date(c.deadline) < new Date() ? tag('past deadline', 'warn') : tag('open', 'good'));

/** The campaigns; `openForm` is the operator's form to open one (review-open-form.ts). */
export async function campaignsBody(db: Knex, openForm?: Html): Promise<Html> {
  const campaigns = await listCampaigns(db);
  return html`<p class="muted">A campaign certifies each rule once, by its owner, and reviews item by item only the access no rule explains. ${openForm ? 'Open one below' : 'An operator opens one here'}, with <code>roster review open</code> or <code>POST /ops/reviews</code>.</p>${openForm ?? ''}
    ${campaigns.length
      ? html`<table><caption>Campaigns (newest first)</caption><thead><tr><th scope="col">Campaign</th><th scope="col">Status</th><th scope="col">Progress</th><th scope="col">Deadline</th><th scope="col">Default</th><th scope="col">Scope</th></tr></thead><tbody>${campaigns.map(
          (c) => html`<tr><th scope="row"><a href="/console/reviews/${c.id}">${c.name}</a></th><td>${statusTag(c)}</td><td>${progress(c)}</td><td>${time(c.deadline)}</td><td>${c.defaultDecision}</td><td>${c.scope.join(', ')}</td></tr>`,
        )}</tbody></table>`
      : html`<p>No campaigns yet.</p>`}`;
}

const KIND_LABELS: Record<ReviewItem['kind'], string> = { rule: 'rule', exception: 'exception', 'idp-membership': 'IdP membership', orphan: 'orphan', drift: 'drift' };

/** A time stored in an item's details (PostgreSQL's JSON spelling), shown like every other time. */
const detailTime = (value: unknown) => (typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? time(new Date(value)) : '—');

/** What the reviewer needs to decide, in one cell. */
function facts(item: ReviewItem): Html {
  const d = item.details;
  switch (item.kind) {
    case 'rule':
      return html`grants <strong>${String(d.people)}</strong> people: <code>${String(d.when)}</code>`;
    case 'exception':
      return html`${String(d.reason)} <span class="muted">(by ${String(d.grantedBy)}, until ${detailTime(d.expiresAt)})</span>`;
    case 'idp-membership':
      return html`pushed by the IdP; sent to ${Array.isArray(d.connectors) ? d.connectors.join(', ') : ''}`;
    default:
      return html`${item.kind === 'orphan' ? 'an account Roster does not manage' : 'differs from what Roster sent'} on ${String(d.connector)} <span class="muted">(first seen ${detailTime(d.firstSeenAt)})</span>`;
  }
}

function decisionText(item: ReviewItem): Html | string {
  if (!item.decision) return tag('undecided', 'warn');
  return html`${tag(item.decision + (item.byDefault ? ' (default)' : ''), item.decision === 'keep' ? 'good' : 'bad')} ${item.outcome ?? ''}`;
}

export async function campaignBody(db: Knex, campaign: Campaign, after: string | undefined, reviewing: number): Promise<Html> {
  const page = await listItems(db, campaign.id, {}, { after, limit: PAGE });
  return html`<dl class="facts"><dt>Status</dt><dd>${statusTag(campaign)}</dd><dt>Progress</dt><dd>${progress(campaign)}</dd>
      <dt>Deadline</dt><dd>${time(campaign.deadline)}; undecided items are then ${campaign.defaultDecision === 'keep' ? 'kept' : 'revoked'}</dd>
      <dt>Scope</dt><dd>${campaign.scope.join(', ')}</dd><dt>Opened</dt><dd>${time(campaign.openedAt)} by ${campaign.openedBy}</dd>
      <dt>Fallback reviewer</dt><dd>${campaign.fallbackReviewer}</dd>${campaign.lastRemindedAt ? html`<dt>Last reminder</dt><dd>${time(campaign.lastRemindedAt)}</dd>` : ''}</dl>
    <p class="pager"><a href="/console/reviews/${campaign.id}/review">Your items (${reviewing} to decide)</a> <a href="/console/reviews/${campaign.id}/report">Report</a></p>
    <table><caption>Items</caption><thead><tr><th scope="col">Kind</th><th scope="col">Access</th><th scope="col">Facts</th><th scope="col">Reviewer</th><th scope="col">Decision</th></tr></thead><tbody>${page.items.map(
      (i) => html`<tr><td>${KIND_LABELS[i.kind]}</td><th scope="row">${i.label}</th><td>${facts(i)}</td><td>${i.reviewer} <span class="muted">(${i.reviewerBasis})</span></td><td>${decisionText(i)}</td></tr>`,
    )}</tbody></table>
    ${page.next ? html`<nav class="pager" aria-label="Pages"><a href="/console/reviews/${campaign.id}${queryString({ after: page.next })}">Next ${PAGE} items</a></nav>` : ''}`;
}

function decideForm(session: ConsoleSession, campaignId: string, item: ReviewItem): Html {
  const id = `item-${item.id}`;
  const shorten = item.kind === 'exception';
  return html`<form method="post" action="/console/reviews/${campaignId}/items/${item.id}/decide" class="decide">${csrfField(session)}
    <fieldset><legend class="visually-hidden">Decision on ${item.label}</legend>
      <label><input type="radio" name="decision" value="keep" required> Keep</label>
      <label><input type="radio" name="decision" value="revoke"> Revoke</label>
      ${shorten ? html`<label><input type="radio" name="decision" value="shorten"> Shorten</label>` : ''}
    </fieldset>
    <label for="${id}-reason">Reason</label> <input id="${id}-reason" name="reason" required minlength="3" maxlength="1000">
    ${shorten ? html`<label for="${id}-until">New end (shorten)</label> <input id="${id}-until" name="until" type="date">` : ''}
    <button type="submit">Decide</button></form>`;
}

export async function reviewerItemsBody(db: Knex, session: ConsoleSession, campaign: Campaign, reviewers: readonly string[], done: string | undefined): Promise<Html> {
  const open = campaign.status === 'open';
  const pending = await listItems(db, campaign.id, { reviewers, decided: false }, { limit: 500 });
  const decided = await listItems(db, campaign.id, { reviewers, decided: true }, { limit: 500 });
  return html`${done ? notice('ok', done) : ''}
    <p>Reviewing as <strong>${reviewers.join(', ')}</strong>. ${open ? html`Decide each item by ${time(campaign.deadline)}; undecided items are then ${campaign.defaultDecision === 'keep' ? 'kept' : 'revoked'}.` : 'The campaign is closed; its decisions are final.'}</p>
    <section aria-labelledby="pending"><h2 id="pending">To decide (${pending.items.length})</h2>
    ${pending.items.length
      ? html`<table><caption>Items waiting for your decision</caption><thead><tr><th scope="col">Access</th><th scope="col">Facts</th><th scope="col">Your decision</th></tr></thead><tbody>${pending.items.map(
          (i) => html`<tr><th scope="row">${i.label} <span class="muted">${KIND_LABELS[i.kind]}</span></th><td>${facts(i)}</td><td>${open ? decideForm(session, campaign.id, i) : tag('undecided', 'warn')}</td></tr>`,
        )}</tbody></table>`
      : html`<p>Nothing left to decide.</p>`}</section>
    <section aria-labelledby="decided"><h2 id="decided">Decided (${decided.items.length})</h2>
    ${decided.items.length
      ? html`<table><caption>Your decisions</caption><thead><tr><th scope="col">Access</th><th scope="col">Decision</th><th scope="col">Reason</th><th scope="col">When</th></tr></thead><tbody>${decided.items.map(
          (i) => html`<tr><th scope="row">${i.label}</th><td>${decisionText(i)}</td><td>${i.reason ?? ''}</td><td>${time(i.decidedAt)}</td></tr>`,
        )}</tbody></table>`
      : ''}</section>
    <p><a href="/console/reviews/${campaign.id}">Back to the campaign</a></p>`;
}

export function reportBody(report: CampaignReport): Html {
  const { campaign, summary } = report;
  return html`<p class="no-print pager"><a href="/console/reviews/${campaign.id}/report?format=csv">Download CSV</a> <a href="/console/reviews/${campaign.id}/report?format=json">Download JSON</a> <span class="muted">Print this page for a paper copy.</span></p>
    <dl class="facts"><dt>Campaign</dt><dd>${campaign.name} (#${campaign.id})</dd><dt>Status</dt><dd>${campaign.status}${campaign.closedAt ? html`, closed ${time(campaign.closedAt)}` : ''}</dd>
      <dt>Deadline</dt><dd>${time(campaign.deadline)}, default ${campaign.defaultDecision}</dd><dt>Opened</dt><dd>${time(campaign.openedAt)} by ${campaign.openedBy}</dd>
      <dt>Decisions</dt><dd>${summary.decided} of ${summary.total}: ${summary.kept} kept, ${summary.revoked} revoked, ${summary.shortened} shortened, ${summary.byDefault} by the default, ${summary.undecided} undecided</dd>
      <dt>Generated</dt><dd>${time(report.generatedAt)}</dd></dl>
    <table class="report"><caption>Every item, its reviewer and decision</caption><thead><tr><th scope="col">Item</th><th scope="col">Access</th><th scope="col">Reviewer</th><th scope="col">Decision</th><th scope="col">Reason</th><th scope="col">Decided by, when</th><th scope="col">Journal</th></tr></thead><tbody>${report.items.map(
      (r) => html`<tr><td>${r.id}</td><th scope="row">${r.label} <span class="muted">${KIND_LABELS[r.kind]}</span></th><td>${r.reviewer}</td><td>${decisionText(r)}</td><td>${r.reason ?? ''}</td>
        <td>${r.decidedBy ?? '—'}<br>${time(r.decidedAt)}</td><td>${r.journalIds.length ? r.journalIds.map((id, n) => html`${n ? ', ' : ''}${entryLink(id)}`) : '—'}</td></tr>`,
    )}</tbody></table>`;
}
