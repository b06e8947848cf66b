/**
 * The transactional outbox: a write-path hook that, inside the transaction of every change,
 * enqueues "sync R to C" for each changed User/Group and each connector that must hear about it
 * (in scope now, or linked from before: a leaver must be deprovisioned). The job commits with the
 * change or not at all, so nothing is pushed that was not committed and nothing committed is
 * missed. The composition root (src/compose/write-path.ts) puts it after the policy hook, so memberships the
 * policy adds are pushed as well.
 */
import type { Knex } from 'knex';
import { isResourceId } from '../store/rows.js';
import type { ChangeHook, ChangeSet } from '../write/write-path.js';
import type { Connector, ConnectorSet, ResourceType } from './connector.js';
import { enqueueSyncJobsSelected } from './jobs.js';

const TABLE: Record<ResourceType, string> = { User: 'users', Group: 'groups' };

/** The resources change sets touched, per type (sync's own journal entries excluded). */
export function changedResources(...changeSets: ReadonlyArray<Pick<ChangeSet, 'entries'>>): Record<ResourceType, string[]> {
  const touched: Record<ResourceType, Set<string>> = { User: new Set(), Group: new Set() };
  for (const entry of changeSets.flatMap((changes) => changes.entries)) {
    if (!entry.resourceType || !entry.resourceId || !isResourceId(entry.resourceId) || entry.action.startsWith('sync.')) continue;
    touched[entry.resourceType].add(entry.resourceId.toLowerCase());
  }
  return { User: [...touched.User], Group: [...touched.Group] };
}

/**
 * Of `ids`, those the connector must sync: in its scope now, or linked to the target already. A
 * SELECT of (connector, id) pairs, for the one statement that queues them all.
 */
function relevant(connector: Connector, type: ResourceType, ids: string[]): { sql: string; bindings: Knex.RawBinding[] } {
  const scope = connector.scopeSql(type);
  const linked = `SELECT ?::text, resource_id::text FROM sync_links WHERE connector = ? AND resource_type = ? AND resource_id = ANY(?::uuid[])`;
  if (scope.sql === 'FALSE') return { sql: linked, bindings: [connector.name, connector.name, type, ids] };
  return {
    sql: `SELECT ?::text, r.id::text FROM ${TABLE[type]} r WHERE r.id = ANY(?::uuid[]) AND (${scope.sql}) UNION ${linked}`,
    bindings: [connector.name, ids, ...scope.bindings, connector.name, connector.name, type, ids],
  };
}

/**
 * The outbox hook for these connectors: one job per changed resource and connector that must hear
 * of it, found and queued in one statement (decision 0705, jobs.ts's enqueueSyncJobsSelected).
 */
export function outboxHook(connectors: ConnectorSet): ChangeHook {
  // Over the changes of a shared transaction (decision 0708), one statement queues them all.
  const enqueue = async (tx: Knex.Transaction, changeSets: ReadonlyArray<Pick<ChangeSet, 'entries'>>): Promise<void> => {
    const touched = changedResources(...changeSets);
    const parts: Array<{ type: ResourceType; sql: string; bindings: Knex.RawBinding[] }> = [];
    for (const type of ['User', 'Group'] as const) {
      if (touched[type].length === 0) continue;
      for (const connector of connectors.list) parts.push({ type, ...relevant(connector, type, touched[type]) });
    }
    if (parts.length === 0) return;
    await enqueueSyncJobsSelected(tx, {
      sql: parts.map((part) => `SELECT j.connector, ?::text AS type, j.id FROM (${part.sql}) AS j(connector, id)`).join(' UNION ALL '),
      bindings: parts.flatMap((part) => [part.type, ...part.bindings]),
    });
  };
  return Object.assign((tx: Knex.Transaction, changes: ChangeSet) => enqueue(tx, [changes]), {
    many: (tx: Knex.Transaction, changes: ReadonlyArray<{ changes: ChangeSet }>) => enqueue(tx, changes.map((change) => change.changes)),
  });
}
