/**
 * The operator's form on the Reviews page that opens a campaign (issue 17), posted to
 * POST /console/reviews, which calls openCampaign like `roster review open` and POST /ops/reviews.
 */
import { REVIEW_SCOPES, type ReviewScope } from '../../governance/review-store.js';
import { html, type Html } from '../html.js';
import { csrfField } from '../layout.js';
import type { ConsoleSession } from '../session-store.js';

const SCOPE_LABELS: Record<ReviewScope, string> = {
  rules: "rules: each policy rule, certified once by its owner",
  exceptions: 'exceptions and approved requests, item by item',
  idp: 'IdP memberships in groups Roster pushes downstream',
  ledger: 'orphans and drift from the ledger',
};

export function openCampaignForm(session: ConsoleSession): Html {
  const suggested = new Date(Date.now() + 14 * 86_400_000).toISOString().slice(0, 10);
  return html`<details><summary>Open a campaign</summary>
    <form class="stack" method="post" action="/console/reviews">${csrfField(session)}
      <label for="rv-name">Name</label>
      <input id="rv-name" name="name" required minlength="3" maxlength="200" class="wide" placeholder="Q1 2027 access review">
      <fieldset><legend>What it reviews</legend>${REVIEW_SCOPES.map(
        (scope) => html`<label><input type="checkbox" name="scope" value="${scope}"${scope === 'rules' || scope === 'exceptions' ? html` checked` : ''}> ${SCOPE_LABELS[scope]}</label>`,
      )}</fieldset>
      <label for="rv-deadline">Deadline (UTC midnight starting that day)</label>
      <input id="rv-deadline" name="deadline" type="date" required value="${suggested}">
      <fieldset><legend>Undecided items at the deadline are</legend>
        <label><input type="radio" name="defaultDecision" value="keep" checked> kept</label>
        <label><input type="radio" name="defaultDecision" value="revoke"> revoked</label></fieldset>
      <label for="rv-fallback">Fallback reviewer (userName), for items without an owner or a known manager</label>
      <input id="rv-fallback" name="fallbackReviewer" required class="wide">
      <label for="rv-ledger">Ledger reviewer (userName; only when the ledger is in scope; empty: the fallback reviewer)</label>
      <input id="rv-ledger" name="ledgerReviewer" class="wide">
      <div><button type="submit">Open the campaign</button></div>
    </form></details>`;
}

/** The checked scopes of a posted form: one value arrives as a string, several as a list. */
export function scopesOf(value: unknown): string[] {
  const values = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return values.filter((v): v is string => typeof v === 'string').slice(0, REVIEW_SCOPES.length * 2);
}
