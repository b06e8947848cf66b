/**
 * Connectors: status (src/sync/status.ts, as `connectors status` and GET /ops/connectors), parked
 * objects with the request and response that parked them, and the operator's actions, retry and
 * approve, through src/sync/operator-actions.ts (what `sync retry` and `sync approve` run).
 */
import type { Knex } from 'knex';
import { ConnectorSet } from '../../sync/connector.js';
import type { FullSyncReport } from '../../sync/full-sync.js';
import { listParked } from '../../sync/parked.js';
import { activeConnectors } from '../../sync/registry.js';
import { connectorStatuses } from '../../sync/status.js';
import { html, type Html } from '../html.js';
import { csrfField, notice, time } from '../layout.js';
import type { ConsoleSession } from '../session-store.js';
import { healthTable } from './overview.js';
import { tag } from './render.js';

export async function connectorsBody(db: Knex): Promise<Html> {
  return healthTable(await connectorStatuses(db, activeConnectors()));
}

const MESSAGES: Record<string, (n: string) => [kind: 'ok' | 'error' | 'info', text: string]> = {
  pushed: () => ['ok', 'Retried: the target accepted it.'],
  parked: (r) => ['error', `Retried: the target rejected it again${r ? `: ${r}` : ''}.`],
  deferred: () => ['info', 'Retried: the target is unavailable or the connector is paused; the queue tries again.'],
  none: () => ['info', 'Nothing was parked there any more.'],
  approved: (n) => ['ok', `Approved: the connector resumes; ${n} pending change(s) go out now.`],
  'not-paused': () => ['info', 'The connector was not paused.'],
};

export async function connectorBody(db: Knex, name: string, session: ConsoleSession, canOperate: boolean, query: Record<string, unknown>): Promise<Html | undefined> {
  const connector = activeConnectors().get(name);
  if (!connector) return undefined;
  const [status] = await connectorStatuses(db, new ConnectorSet([connector]));
  const parked = await listParked(db, name, 500);
  const done = typeof query.done === 'string' ? MESSAGES[query.done] : undefined;
  const message = done ? notice(...done(typeof query.detail === 'string' ? query.detail.slice(0, 300) : '')) : '';
  const s = status!;
  const approve =
    s.paused && canOperate
      ? html`<form method="post" action="/console/connectors/${encodeURIComponent(name)}/approve" data-confirm="Lift the guard pause of ${name}? Its pending deprovisions will be sent.">${csrfField(session)}<button type="submit">Approve and resume</button></form>`
      : '';
  const retryOne = (type: string, id: string) =>
    canOperate ? html`<form method="post" action="/console/connectors/${encodeURIComponent(name)}/parked/${type}/${id}/retry">${csrfField(session)}<button type="submit" class="secondary" aria-label="Retry ${type} ${id}">Retry</button></form>` : '';
  return html`${message}<dl class="facts">
      <dt>Profile</dt><dd>${s.profile}</dd><dt>Target</dt><dd><code>${s.baseUrl}</code></dd>
      <dt>Mode</dt><dd>${s.dryRun ? tag('dry run: nothing is sent', 'warn') : 'live'}</dd>
      <dt>Queue</dt><dd>${s.queueDepth} pending${s.oldestPendingSeconds === null ? '' : `, oldest ${s.oldestPendingSeconds} s`}</dd>
      <dt>Circuit</dt><dd>${s.circuit.state}${s.circuit.until ? html` until ${time(s.circuit.until)}` : ''}</dd>
      <dt>Managed</dt><dd>${s.managed.users} users, ${s.managed.groups} groups</dd>
      <dt>Last success</dt><dd>${time(s.lastSuccessAt)}</dd><dt>Last full sync</dt><dd>${time(s.lastFullSyncAt)}</dd>
      ${s.lastError ? html`<dt>Last error</dt><dd>${time(s.lastFailureAt)}: ${s.lastError}</dd>` : ''}
      <dt>Guard</dt><dd>${s.paused ? html`${tag('paused', 'bad')} since ${time(s.paused.at)}: ${s.paused.reason ?? ''}` : 'running'}</dd></dl>
    ${approve}
    ${canOperate ? fullSyncForms(session, name) : ''}
    <section aria-labelledby="parked"><h2 id="parked">Parked objects (${parked.length})</h2>
      <p class="muted">The target rejected these for their content; a change to the object retries it, or retry now.</p>
      ${parked.length
        ? html`<table><caption>Parked in ${name}</caption><thead><tr><th scope="col">Object</th><th scope="col">Parked</th><th scope="col">Why</th><th scope="col">Request and answer</th><th scope="col">Action</th></tr></thead><tbody>${parked.map(
            (p) => html`<tr><td><a href="${p.resourceType === 'User' ? '/console/people/' : '/console/groups/'}${p.resourceId}">${p.resourceType} ${p.resourceId}</a></td><td>${time(p.parkedAt)}</td><td>${p.reason}</td>
              <td><details><summary>${p.request?.method ?? ''} ${p.request?.path ?? ''} → ${p.response?.status ?? ''}</summary><pre>${JSON.stringify({ request: p.request, response: p.response }, null, 2)}</pre></details></td><td>${retryOne(p.resourceType, p.resourceId)}</td></tr>`,
          )}</tbody></table>`
        : html`<p>Nothing is parked.</p>`}</section>`;
}

/** The actions that read the whole target: a drift report (changes nothing) or a full sync (reconcile). */
export function fullSyncForms(session: ConsoleSession, name: string): Html {
  return html`<section aria-labelledby="full"><h2 id="full">Full sync</h2>
    <p class="muted">Reads every user and group on the target and compares them with Roster; a large target takes a while.</p>
    <div class="pager"><form method="post" action="/console/connectors/${encodeURIComponent(name)}/sync">${csrfField(session)}<input type="hidden" name="mode" value="report"><button type="submit" class="secondary">Report drift (changes nothing)</button></form>
    <form method="post" action="/console/connectors/${encodeURIComponent(name)}/sync" data-confirm="Reconcile ${name}: create, adopt, repair and deprovision on the target?">${csrfField(session)}<input type="hidden" name="mode" value="full"><button type="submit">Full sync (reconcile)</button></form></div></section>`;
}

export function fullSyncReport(report: FullSyncReport): Html {
  const pair = (p: { users: number; groups: number }) => `${p.users} users, ${p.groups} groups`;
  const applied = !report.reportOnly;
  return html`${report.guardPaused ? notice('error', `PAUSED by the mass-change guard: this run would deprovision ${report.toDeprovision.users + report.toDeprovision.groups} objects. Nothing was sent; review the report, then approve on the connector's page.`) : ''}
    <p>${report.reportOnly ? 'Report only: nothing was changed.' : 'Reconciled.'} ${(report.durationMs / 1000).toFixed(1)} s.</p>
    <dl class="facts"><dt>On the target</dt><dd>${pair(report.remote)}</dd><dt>In scope</dt><dd>${pair(report.inScope)}</dd>
      <dt>${applied ? 'Created' : 'To create'}</dt><dd>${pair(report.toCreate)}</dd><dt>Adopted</dt><dd>${pair(report.adopted)} (matched existing accounts)</dd>
      <dt>${applied ? 'Deprovisioned' : 'To deprovision'}</dt><dd>${pair(report.toDeprovision)}</dd>
      <dt>Not managed by Roster</dt><dd>${report.unmanaged.userCount} users, ${report.unmanaged.groupCount} groups (left alone)${report.unmanaged.users.length + report.unmanaged.groups.length ? `: ${[...report.unmanaged.users, ...report.unmanaged.groups].join(', ')}` : ''}</dd>
      ${applied ? html`<dt>Results</dt><dd>${report.results.done} in sync, ${report.results.parked} parked, ${report.results.retry + report.results.waiting} queued to retry</dd>` : ''}</dl>
    ${report.drift.length
      ? html`<table><caption>Drift: ${report.drift.length} object(s) differ</caption><thead><tr><th scope="col">Object</th><th scope="col">Difference</th></tr></thead><tbody>${report.drift.slice(0, 500).map(
          (d) => html`<tr><td><a href="${d.type === 'User' ? '/console/people/' : '/console/groups/'}${d.id}">${d.name}</a> <span class="muted">${d.type}</span></td><td>${d.kind === 'attributes' ? `attributes differ: ${d.attributes?.join(', ') ?? ''}` : d.kind === 'members' ? `members differ: ${d.membersMissing ?? 0} missing, ${d.membersExtra ?? 0} extra on the target` : 'missing on the target'}</td></tr>`,
        )}</tbody></table>${report.drift.length > 500 ? html`<p>… and ${report.drift.length - 500} more (all are in the journal entry sync.full).</p>` : ''}`
      : html`<p>No drift: the target matches Roster.</p>`}
    <p><a href="/console/connectors/${encodeURIComponent(report.connector)}">Back to the connector</a></p>`;
}
