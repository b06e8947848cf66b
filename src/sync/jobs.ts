/**
 * The sync job: "bring resource R on connector C to its desired state". Its key is the pair, so
 * however often R changes before a worker gets to it, one job is pending (graphile-worker job
 * keys). Keys keep their earlier run time (`preserve_run_at`): a change to an object whose job is
 * waiting out a back-off, an open circuit or a guard pause waits with it instead of jumping ahead.
 */
import type { Knex } from 'knex';
import type { ResourceType } from './connector.js';

export const SYNC_TASK = 'roster.sync';
export const RECONCILE_TASK = 'roster.sync.reconcile';

export interface SyncPayload {
  connector: string;
  type: ResourceType;
  id: string;
  /** Failed attempts so far (drives the back-off); absent on a fresh change. */
  attempt?: number;
}

export function syncJobKey(connector: string, type: ResourceType, id: string): string {
  return `sync:${connector}:${type}:${id.toLowerCase()}`;
}

/** Queue priority of sync jobs. */
const SYNC_PRIORITY = 25;

export interface SyncJobSpec {
  connector: string;
  type: ResourceType;
  id: string;
  attempt?: number;
  runAt?: Date;
}

/** Adds (or coalesces into) sync jobs, in the caller's transaction when given one: one statement for any number. */
export async function enqueueSyncJobs(db: Knex | Knex.Transaction, jobs: readonly SyncJobSpec[]): Promise<void> {
  if (jobs.length === 0) return;
  const payloads = jobs.map((job) => JSON.stringify({ connector: job.connector, type: job.type, id: job.id.toLowerCase(), ...(job.attempt ? { attempt: job.attempt } : {}) }));
  await db.raw(
    `SELECT count(*) FROM graphile_worker.add_jobs(
       ARRAY(SELECT ROW(?, s.payload::json, NULL, s.run_at, ${SYNC_PRIORITY}, s.job_key, 0, NULL)::graphile_worker.job_spec
             FROM unnest(?::text[], ?::text[], ?::timestamptz[]) AS s(payload, job_key, run_at)),
       true)`,
    [
      SYNC_TASK,
      payloads,
      jobs.map((job) => syncJobKey(job.connector, job.type, job.id)),
      jobs.map((job) => (job.runAt ?? new Date()).toISOString()),
    ],
  );
}

/**
 * enqueueSyncJobs for fresh changes whose (connector, type, id) rows a SELECT gives (the outbox
 * hook, decision 0705: found and queued in one statement): the same payload, key (syncJobKey in
 * SQL) and priority, to run now.
 */
export async function enqueueSyncJobsSelected(tx: Knex | Knex.Transaction, source: { sql: string; bindings: readonly Knex.RawBinding[] }): Promise<void> {
  await tx.raw(
    `SELECT count(*) FROM graphile_worker.add_jobs(
       ARRAY(SELECT ROW(?, json_build_object('connector', s.connector, 'type', s.type, 'id', lower(s.id)), NULL, now(), ${SYNC_PRIORITY},
                        'sync:' || s.connector || ':' || s.type || ':' || lower(s.id), 0, NULL)::graphile_worker.job_spec
             FROM (${source.sql}) AS s(connector, type, id)),
       true)`,
    [SYNC_TASK, ...source.bindings],
  );
}

/** Moves a connector's waiting sync jobs to now (after approval, or when its circuit closes). */
export async function wakeConnectorJobs(db: Knex, connector: string): Promise<number> {
  const { rows } = (await db.raw(
    `SELECT count(*)::int AS n FROM graphile_worker.reschedule_jobs(
       ARRAY(SELECT id FROM graphile_worker.jobs WHERE task_identifier = ? AND key LIKE ? AND locked_at IS NULL AND run_at > now()),
       run_at => now())`,
    [SYNC_TASK, `sync:${connector.replace(/[\\%_]/g, '\\$&')}:%`],
  )) as { rows: Array<{ n: number }> };
  return rows[0]?.n ?? 0;
}

/** Pending sync jobs and the age of the oldest, per connector (status). */
export async function queueDepth(db: Knex, connector: string): Promise<{ depth: number; oldestAt: Date | null }> {
  const { rows } = (await db.raw(
    `SELECT count(*)::int AS depth, min(created_at) AS oldest FROM graphile_worker.jobs WHERE task_identifier = ? AND key LIKE ?`,
    [SYNC_TASK, `sync:${connector.replace(/[\\%_]/g, '\\$&')}:%`],
  )) as { rows: Array<{ depth: number; oldest: Date | null }> };
  return { depth: rows[0]?.depth ?? 0, oldestAt: rows[0]?.oldest ?? null };
}
