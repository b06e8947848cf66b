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
import type { ConnectorSet, ResourceType } from './connector.js';
import { enqueueSyncJobs, type SyncJobSpec } from './jobs.js';

const TABLE: Record<ResourceType, string> = { User: 'users', Group: 'groups' };

/** The resources a change set touched, per type (sync's own journal entries excluded). */
export function changedResources(changes: ChangeSet): Record<ResourceType, string[]> {
  const touched: Record<ResourceType, Set<string>> = { User: new Set(), Group: new Set() };
  for (const entry of changes.entries) {
    if (!entry.resourceType || !entry.resourceId || !isResourceId(entry.resourceId) || entry.action.startsWith('sync.')) continue;
    touched[entry.resourceType].add(entry.resourceId.toLowerCase());
  }
  return { User: [...touched.User], Group: [...touched.Group] };
}

/** Of `ids`, those the connector must sync: in its scope now, or linked to the target already. */
async function relevant(tx: Knex.Transaction, connectors: ConnectorSet, type: ResourceType, ids: string[]): Promise<SyncJobSpec[]> {
  const jobs: SyncJobSpec[] = [];
  for (const connector of connectors.list) {
    const scope = connector.scopeSql(type);
    if (scope.sql === 'FALSE') {
      const { rows } = (await tx.raw(`SELECT resource_id::text AS id FROM sync_links WHERE connector = ? AND resource_type = ? AND resource_id = ANY(?::uuid[])`, [
        connector.name,
        type,
        ids,
      ])) as { rows: Array<{ id: string }> };
      for (const row of rows) jobs.push({ connector: connector.name, type, id: row.id });
      continue;
    }
    const { rows } = (await tx.raw(
      `SELECT r.id::text AS id FROM ${TABLE[type]} r WHERE r.id = ANY(?::uuid[]) AND (${scope.sql})
       UNION SELECT resource_id::text FROM sync_links WHERE connector = ? AND resource_type = ? AND resource_id = ANY(?::uuid[])`,
      [ids, ...scope.bindings, connector.name, type, ids],
    )) as { rows: Array<{ id: string }> };
    for (const row of rows) jobs.push({ connector: connector.name, type, id: row.id });
  }
  return jobs;
}

/** The outbox hook for these connectors: one job per changed resource and connector that must hear of it. */
export function outboxHook(connectors: ConnectorSet): ChangeHook {
  return async (tx, changes) => {
    const touched = changedResources(changes);
    const jobs: SyncJobSpec[] = [];
    for (const type of ['User', 'Group'] as const) {
      if (touched[type].length > 0) jobs.push(...(await relevant(tx, connectors, type, touched[type])));
    }
    await enqueueSyncJobs(tx, jobs);
  };
}
