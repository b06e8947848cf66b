/**
 * The database-backed job queue (graphile-worker 0.16, the last line that runs on Node 20).
 * Jobs are added with SQL inside the caller's transaction, so a job exists exactly when the change
 * that caused it commits (transactional outbox). A job key coalesces repeated jobs for the same
 * subject: "sync user U to connector C" is queued once however often U changes before it runs.
 */
import type { Knex } from 'knex';
import { Logger, run, runMigrations, type Runner, type TaskList } from 'graphile-worker';
import { logger } from '../logging/logger.js';

export interface EnqueueOptions {
  /** Jobs with the same key coalesce (see graphile-worker job_key). */
  jobKey?: string;
  /** 'replace' (default): the newest payload and run_at win; 'preserve_run_at': keep the earlier run time. */
  jobKeyMode?: 'replace' | 'preserve_run_at' | 'unsafe_dedupe';
  runAt?: Date;
  maxAttempts?: number;
  queueName?: string;
  priority?: number;
}

export async function enqueue(db: Knex | Knex.Transaction, task: string, payload: unknown, options: EnqueueOptions = {}): Promise<void> {
  await db.raw(
    `SELECT graphile_worker.add_job(
       identifier => ?, payload => ?::json, queue_name => ?, run_at => ?::timestamptz,
       max_attempts => ?, job_key => ?, priority => ?, job_key_mode => ?)`,
    [
      task,
      JSON.stringify(payload ?? {}),
      options.queueName ?? null,
      options.runAt ? options.runAt.toISOString() : null,
      options.maxAttempts ?? null,
      options.jobKey ?? null,
      options.priority ?? null,
      options.jobKey ? (options.jobKeyMode ?? 'replace') : null,
    ],
  );
}

/** graphile-worker's own log lines go to Roster's logger. */
export const queueLogger = new Logger(() => (level, message, meta) => {
  const winstonLevel = level === 'error' ? 'error' : level === 'warning' ? 'warn' : 'debug';
  logger.log(winstonLevel, message, { component: 'queue', ...(meta && typeof meta === 'object' ? { meta: JSON.stringify(meta).slice(0, 500) } : {}) });
});

/** Creates or upgrades the graphile_worker schema. */
export async function migrateQueue(connectionString: string): Promise<void> {
  await runMigrations({ connectionString, logger: queueLogger });
}

/**
 * The connection string for graphile-worker's own pool: its commits do not wait for the WAL flush
 * (synchronous_commit off; decision 0707). That pool only fetches, completes and fails jobs; jobs
 * are added on Roster's connections, in the transaction of the change that caused them, which stay
 * synchronous. A crash can lose the last fraction of a second of those commits, and PostgreSQL never
 * reorders them: a lost lock or completion means a job runs again, which every task must already
 * allow (a crash during a task does the same), and the sync is state-based. Saves a WAL flush per
 * job fetched (get_job updates the job row).
 */
export function queueConnectionString(connectionString: string): string {
  const url = new URL(connectionString);
  const options = url.searchParams.get('options');
  url.searchParams.set('options', `${options ? `${options} ` : ''}-c synchronous_commit=off`);
  return url.toString();
}

export async function startWorker(connectionString: string, taskList: TaskList, options: { concurrency?: number; pollInterval?: number } = {}): Promise<Runner> {
  return run({
    connectionString: queueConnectionString(connectionString),
    taskList,
    concurrency: options.concurrency ?? 4,
    pollInterval: options.pollInterval ?? 1000,
    noHandleSignals: true,
    logger: queueLogger,
  });
}
