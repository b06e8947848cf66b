/** Overview: the counts people ask first, and each connector's health. */
import type { Knex } from 'knex';
import { countActiveExceptions } from '../../policy/exceptions.js';
import { countManagedGroups } from '../../policy/managed-groups.js';
import { changesPerHour, pushOutcomes } from '../../journal/activity.js';
import { countAll } from '../../store/resource-store.js';
import { activeConnectors } from '../../sync/registry.js';
import { connectorStatuses, type ConnectorStatus } from '../../sync/status.js';
import { html, type Html } from '../html.js';
import { time } from '../layout.js';
import { changesChart, outcomesTable } from './activity.js';
import { tag } from './render.js';

const CHART_HOURS = 24;
/**
 * The charts read every journal entry of the last CHART_HOURS hours (about 50,000 at 1,000,000
 * entries over 20 days: some 130 ms); hourly charts ten seconds old are as good, so each process
 * computes them at most every ten seconds and the overviews in between reuse them.
 */
const ACTIVITY_TTL_MS = 10_000;
let activity: { until: number; value: Promise<[Awaited<ReturnType<typeof changesPerHour>>, Awaited<ReturnType<typeof pushOutcomes>>]> } | undefined;

function recentActivity(db: Knex) {
  if (!activity || activity.until < Date.now()) {
    const value = Promise.all([changesPerHour(db, CHART_HOURS), pushOutcomes(db, CHART_HOURS)]);
    activity = { until: Date.now() + ACTIVITY_TTL_MS, value };
    // A failed computation is not kept: the next overview tries again.
    value.catch(() => {
      if (activity?.value === value) activity = undefined;
    });
  }
  return activity.value;
}

export function healthTable(statuses: readonly ConnectorStatus[]): Html {
  if (statuses.length === 0) return html`<p>No outbound connectors are configured (ROSTER_CONNECTORS_FILE, docs/connectors.md).</p>`;
  return html`<table><caption>Connector health</caption><thead><tr>
    <th scope="col">Connector</th><th scope="col">Queue</th><th scope="col">Oldest pending</th><th scope="col">Last success</th>
    <th scope="col">Parked</th><th scope="col">Circuit</th><th scope="col">Mode</th><th scope="col">Guard</th></tr></thead><tbody>${statuses.map(
      (s) => html`<tr>
        <th scope="row"><a href="/console/connectors/${encodeURIComponent(s.name)}">${s.name}</a> <span class="muted">${s.profile}</span></th>
        <td>${s.queueDepth}</td><td>${s.oldestPendingSeconds === null ? '—' : `${s.oldestPendingSeconds} s`}</td>
        <td>${time(s.lastSuccessAt)}</td>
        <td>${s.parked > 0 ? tag(`${s.parked} parked`, 'warn') : '0'}</td>
        <td>${s.circuit.state === 'closed' ? tag('closed', 'good') : tag(s.circuit.state, 'bad')}</td>
        <td>${s.dryRun ? tag('dry run', 'warn') : 'live'}</td>
        <td>${s.paused ? tag('paused', 'bad') : 'running'}</td></tr>`,
    )}</tbody></table>`;
}

export async function overviewBody(db: Knex): Promise<Html> {
  const [people, groups, managed, exceptions, statuses, [perHour, outcomes]] = await Promise.all([
    countAll(db, 'User'),
    countAll(db, 'Group'),
    countManagedGroups(db),
    countActiveExceptions(db),
    connectorStatuses(db, activeConnectors()),
    recentActivity(db),
  ]);
  const parked = statuses.reduce((sum, s) => sum + s.parked, 0);
  const card = (label: string, n: number, href: string) => html`<li><a href="${href}"><span class="n">${n.toLocaleString('en')}</span>${label}</a></li>`;
  return html`<section aria-labelledby="counts"><h2 id="counts">Counts</h2><ul class="cards">
    ${card('people', people, '/console/people')}${card('groups', groups, '/console/groups')}
    ${card('managed groups', managed, '/console/groups')}${card('active exceptions', exceptions, '/console/journal?action=exception.grant')}
    ${card('parked objects', parked, '/console/connectors')}</ul></section>
    <section aria-labelledby="health"><h2 id="health">Connectors</h2>${healthTable(statuses)}${outcomesTable(outcomes, CHART_HOURS)}</section>
    <section aria-labelledby="activity"><h2 id="activity">Changes</h2>${changesChart(perHour, CHART_HOURS)}</section>`;
}
