/**
 * Per-connector status for `connectors status` and GET /ops/connectors: queue depth and the age of
 * the oldest pending change, last success and failure, parked count, circuit state, guard pause,
 * dry-run flag, and how many objects it manages. Never a secret: no auth settings appear here.
 */
import type { Knex } from 'knex';
import type { ConnectorSet } from './connector.js';
import { ensureConnectorRows } from './connector-state.js';
import { queueDepth } from './jobs.js';
import { countParked } from './parked.js';

export interface ConnectorStatus {
  name: string;
  profile: string;
  baseUrl: string;
  dryRun: boolean;
  queueDepth: number;
  oldestPendingSeconds: number | null;
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
  lastError: string | null;
  parked: number;
  circuit: { state: string; until: string | null };
  paused: { at: string; reason: string | null } | null;
  managed: { users: number; groups: number };
  lastFullSyncAt: string | null;
}

const iso = (value: Date | null | undefined) => (value ? value.toISOString() : null);

export async function connectorStatuses(db: Knex, connectors: ConnectorSet): Promise<ConnectorStatus[]> {
  await ensureConnectorRows(db, connectors.list.map((c) => c.name));
  const statuses: ConnectorStatus[] = [];
  for (const connector of connectors.list) {
    const state = (await db('sync_connectors').where({ connector: connector.name }).first()) as
      | {
          circuit: string;
          circuit_until: Date | null;
          last_success_at: Date | null;
          last_failure_at: Date | null;
          last_error: string | null;
          paused_at: Date | null;
          paused_reason: string | null;
          last_full_sync_at: Date | null;
        }
      | undefined;
    const { depth, oldestAt } = await queueDepth(db, connector.name);
    const { rows } = (await db.raw(
      `SELECT count(*) FILTER (WHERE resource_type = 'User' AND state = 'active')::int AS users,
              count(*) FILTER (WHERE resource_type = 'Group' AND state = 'active')::int AS groups
         FROM sync_links WHERE connector = ?`,
      [connector.name],
    )) as { rows: Array<{ users: number; groups: number }> };
    statuses.push({
      name: connector.name,
      profile: connector.profile.name,
      baseUrl: connector.config.baseUrl,
      dryRun: connector.config.dryRun,
      queueDepth: depth,
      oldestPendingSeconds: oldestAt ? Math.max(0, Math.round((Date.now() - oldestAt.getTime()) / 1000)) : null,
      lastSuccessAt: iso(state?.last_success_at),
      lastFailureAt: iso(state?.last_failure_at),
      lastError: state?.last_error ?? null,
      parked: await countParked(db, connector.name),
      circuit: { state: state?.circuit ?? 'closed', until: iso(state?.circuit_until) },
      paused: state?.paused_at ? { at: state.paused_at.toISOString(), reason: state.paused_reason } : null,
      managed: { users: rows[0]?.users ?? 0, groups: rows[0]?.groups ?? 0 },
      lastFullSyncAt: iso(state?.last_full_sync_at),
    });
  }
  return statuses;
}
