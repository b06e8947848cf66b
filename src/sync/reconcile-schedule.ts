/**
 * Scheduled reconciliation (`reconcile: { every: 24h }`): one queue job per connector, keyed so
 * there is only ever one, which runs a full sync with repair and then schedules the next. Its run
 * time is kept across restarts (preserve_run_at), so restarting Roster does not postpone it.
 */
import type { Knex } from 'knex';
import { logger } from '../logging/logger.js';
import type { Connector, ConnectorSet } from './connector.js';
import { fullSync, type FindingsRecorder } from './full-sync.js';
import { RECONCILE_TASK } from './jobs.js';

const key = (connector: string) => `reconcile:${connector}`;

async function schedule(db: Knex, connector: Connector, mode: 'replace' | 'preserve_run_at'): Promise<void> {
  const every = connector.config.reconcile?.everyMs;
  if (!every) return;
  await db.raw(`SELECT graphile_worker.add_job(?, ?::json, run_at => ?::timestamptz, job_key => ?, job_key_mode => ?, max_attempts => 3)`, [
    RECONCILE_TASK,
    JSON.stringify({ connector: connector.name }),
    new Date(Date.now() + every).toISOString(),
    key(connector.name),
    mode,
  ]);
}

export async function enqueueReconcile(db: Knex, connectors: ConnectorSet): Promise<void> {
  for (const connector of connectors.list) await schedule(db, connector, 'preserve_run_at');
}

export async function runScheduledReconcile(db: Knex, connector: Connector, findings?: FindingsRecorder): Promise<void> {
  try {
    const report = await fullSync(db, connector, { reportOnly: false, requestId: `reconcile-${Date.now()}`, findings });
    logger.info('sync: scheduled reconciliation finished', {
      connector: connector.name,
      drifted: report.drift.length,
      created: report.toCreate.users + report.toCreate.groups,
      guardPaused: report.guardPaused,
      durationMs: report.durationMs,
    });
  } catch (error) {
    logger.warn('sync: scheduled reconciliation failed; it runs again at the next interval', { connector: connector.name, error: (error as Error).message });
  } finally {
    await schedule(db, connector, 'replace');
  }
}
