/**
 * Policy: the rules in force and their version; a changed file pasted in is previewed with the
 * plan `policy plan` prints (src/policy/plan.ts: who gains and loses each role and group, the
 * conflicts, and whether the mass-revoke guard would refuse), then applied with a reason by
 * `applyPolicy`, the code `policy apply` runs, under the same guard.
 */
import type { Knex } from 'knex';
import { revokeLimit } from '../../policy/apply.js';
import type { Plan, PlanLine } from '../../policy/plan.js';
import type { Policy } from '../../policy/policy-file.js';
import { appliedPolicy } from '../../policy/policy-state.js';
import { html, type Html } from '../html.js';
import { csrfField, notice } from '../layout.js';
import type { ConsoleSession } from '../session-store.js';

/** The file name a pasted policy is applied under: the one in force, so its managed groups keep their label. */
export async function policySourceName(db: Knex): Promise<string> {
  return (await appliedPolicy(db))?.sourceName ?? 'policy.yaml';
}

function rulesTable(policy: Policy): Html {
  return html`<table><caption>Rules of ${policy.sourceName}, version ${policy.version}</caption><thead><tr><th scope="col">Role</th><th scope="col">When (SCIM filter)</th><th scope="col">Groups</th><th scope="col">In time</th></tr></thead><tbody>${policy.roles.map(
    (r) => html`<tr><th scope="row">${r.name}${r.description ? html`<br><span class="muted">${r.description}</span>` : ''}</th><td><code>${r.when}</code></td><td>${r.groups.join(', ')}</td><td>${r.from || r.until ? `${r.from ? `from ${r.from.name}` : ''} ${r.until ? `until ${r.until.name}` : ''}` : 'always'}</td></tr>`,
  )}</tbody></table>${policy.conflicts.length ? html`<p>Separation of duties (${policy.onConflict}): ${policy.conflicts.map((c, i) => html`${i ? '; ' : ''}<strong>${c[0]}</strong> / <strong>${c[1]}</strong>`)}</p>` : ''}`;
}

function editor(session: ConsoleSession, text: string): Html {
  return html`<form class="stack" method="post" action="/console/policy/plan">${csrfField(session)}
    <label for="policy-text">Policy file (YAML): paste the changed file to see what it would do</label>
    <textarea id="policy-text" name="policy" rows="18" cols="100" required spellcheck="false">${text}</textarea>
    <div><button type="submit">Preview the plan</button></div></form>`;
}

export async function policyBody(db: Knex, session: ConsoleSession, query: Record<string, unknown>): Promise<Html> {
  const policy = await appliedPolicy(db);
  const applied = typeof query.applied === 'string' ? notice('ok', `Applied version ${query.applied.slice(0, 20)}: ${typeof query.users === 'string' ? query.users.slice(0, 10) : '0'} user(s) brought in line.`) : '';
  return html`${applied}<section aria-labelledby="in-force"><h2 id="in-force">In force</h2>${policy ? rulesTable(policy) : html`<p>No policy has been applied.</p>`}</section>
    <section aria-labelledby="change"><h2 id="change">Change it</h2>
      <p class="muted">Roster applies ROSTER_POLICY_FILE at every start: after applying here, commit the same text to that file, or the next start brings the old rules back.</p>
      ${editor(session, policy?.sourceText ?? '')}</section>`;
}

function planLines(title: string, lines: readonly PlanLine[]): Html {
  const who = (names: string[], total: number) => (total === 0 ? '' : `${names.join(', ')}${total > names.length ? ` and ${total - names.length} more` : ''}`);
  return html`<table><caption>${title}</caption><thead><tr><th scope="col">Name</th><th scope="col">Gain</th><th scope="col">Lose</th><th scope="col">Who gains</th><th scope="col">Who loses</th></tr></thead><tbody>${lines.map(
    (l) => html`<tr><th scope="row">${l.name}</th><td>+${l.gains}</td><td>−${l.losses}</td><td>${who(l.gainSample, l.gains)}</td><td>${who(l.lossSample, l.losses)}</td></tr>`,
  )}</tbody></table>`;
}

/** The plan, and (for operators) the apply form carrying the same text and asking for a reason. */
export function planBody(session: ConsoleSession, plan: Plan, text: string, canApply: boolean): Html {
  const limit = revokeLimit(plan.totalUsers, undefined);
  const refused = plan.usersLosingAccess > limit;
  const summary =
    plan.usersChanging === 0
      ? notice('info', 'Applying this policy would change nothing.')
      : notice(refused ? 'error' : 'info', `${plan.usersChanging} user(s) would change; ${plan.usersLosingAccess} would lose access (the mass-revoke guard allows ${limit}, 10% of ${plan.totalUsers} users).${refused ? ' Apply would be refused: review the losses; only `policy apply --force` on the command line overrides the guard.' : ''}`);
  const apply =
    canApply && !refused
      ? html`<form class="stack" method="post" action="/console/policy/apply" data-confirm="Apply version ${plan.policyVersion} to ${plan.usersChanging} user(s)?">${csrfField(session)}
          <input type="hidden" name="policy" value="${text}"><input type="hidden" name="version" value="${plan.policyVersion}">
          <label for="reason">Reason (kept in the journal)</label><textarea id="reason" name="reason" rows="3" required minlength="5"></textarea>
          <div><button type="submit">Apply version ${plan.policyVersion}</button></div></form>`
      : canApply
        ? ''
        : html`<p class="muted">Applying needs the operator role.</p>`;
  return html`<p>Policy ${plan.policyFile}, version <strong>${plan.policyVersion}</strong> (in force now: ${plan.appliedVersion ?? 'none'}), against ${plan.totalUsers} users.</p>
    ${summary}${planLines('Roles', plan.roles)}${planLines('Groups', plan.groups)}
    ${plan.violations.length ? html`<h2>Separation-of-duties conflicts</h2><ul>${plan.violations.map((v) => html`<li>${v.conflict.replace('+', ' / ')}: ${v.users} user(s): ${v.sample.join(', ')}</li>`)}</ul>` : ''}
    ${apply}<p><a href="/console/policy">Back to the policy in force</a></p>`;
}
