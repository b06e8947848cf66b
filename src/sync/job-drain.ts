/**
 * A sync job that ends takes the next ready sync job itself, in the round trip that ends it
 * (decision 0707).
 *
 * graphile-worker 0.16 pays two statements per job of its own, `get_job` before and `complete_job`
 * after, and a worker that finds the queue empty polls again. Batched fetching and completion
 * come with 0.17, which needs Node 22. So a sync job's last transaction (the link and the push's
 * journal outbox row, committed as the object's lock is released: decision 0705) also deletes the
 * job and claims the next ready sync job for the same worker: under load a worker goes from job to
 * job with two round trips each (lock + state, link + completion + next), and only a drained queue
 * hands control back to graphile-worker. A claimed job is locked exactly as `get_job` locks one
 * (attempts + 1, locked_by, locked_at), so job keys, Liveness (decision 0203) and force_unlock
 * treat it like any other; a job the drain cannot finish is failed as graphile-worker fails one.
 */
import type { Knex } from 'knex';
import type pg from 'pg';
import type { FinishTail } from './locks.js';
import { SYNC_TASK } from './jobs.js';

export interface ClaimedJob {
  id: string;
  payload: unknown;
}

/** The next ready sync job, locked for `workerId` as graphile-worker's get_job locks one (no named queues: sync jobs have none). */
const CLAIM_SQL = `
  UPDATE graphile_worker._private_jobs AS jobs
     SET attempts = jobs.attempts + 1, locked_by = ?, locked_at = clock_timestamp()
    FROM (SELECT id FROM graphile_worker._private_jobs
           WHERE is_available = true AND job_queue_id IS NULL AND run_at <= (SELECT clock_timestamp())
             AND task_id = (SELECT id FROM graphile_worker._private_tasks WHERE identifier = ?)
           ORDER BY priority ASC, run_at ASC LIMIT 1 FOR UPDATE SKIP LOCKED) AS next
   WHERE jobs.id = next.id
  RETURNING jobs.id::text AS id, jobs.payload`;

/** Deletes a job this worker holds (what graphile-worker's complete_job does); a job unlocked meanwhile is left alone. */
const COMPLETE_SQL = `DELETE FROM graphile_worker._private_jobs WHERE id = ?::bigint AND locked_by = ?`;

/** graphile-worker 0.16's failJob for a job without a named queue: back off exponentially, unlock. */
const FAIL_SQL = `
  UPDATE graphile_worker._private_jobs
     SET last_error = ?, run_at = greatest(now(), run_at) + (exp(least(attempts, 10)) * interval '1 second'), locked_by = NULL, locked_at = NULL
   WHERE id = ?::bigint AND locked_by = ?`;

/**
 * One job's way out: the statements that complete it and (when `claimNext`) claim the next one.
 * They ride along with the job's last write when it ends under its lock (`tail`); otherwise
 * `settle` sends them in one round trip of their own.
 */
export class JobLease {
  /** The job's completion committed (under its lock, or by `settle`). */
  completed = false;
  next: ClaimedJob | undefined;

  constructor(
    private readonly db: Knex,
    private readonly workerId: string,
    private readonly jobId: string,
    private readonly claimNext: boolean,
  ) {}

  private statements(): string[] {
    const complete = this.db.raw(COMPLETE_SQL, [this.jobId, this.workerId]).toQuery();
    return this.claimNext ? [complete, this.db.raw(CLAIM_SQL, [this.workerId, SYNC_TASK]).toQuery()] : [complete];
  }

  private took(results: readonly pg.QueryResult[]): void {
    this.completed = true;
    const row = results[1]?.rows[0] as { id: string; payload: unknown } | undefined;
    this.next = row ? { id: row.id, payload: row.payload } : undefined;
  }

  /** For withSyncLocks: completion and the next claim commit with the link. */
  readonly tail: FinishTail = {
    statements: () => this.statements(),
    settle: (results) => this.took(results),
  };

  /** Completes the job (and claims the next) in one round trip, if its last write did not already. */
  async settle(): Promise<void> {
    if (this.completed) return;
    const results = await runStatements(this.db, this.statements());
    this.took(results);
  }
}

/** Hands a claimed job that will not run back to the queue untouched (its claim's attempt undone). */
const RELEASE_SQL = `UPDATE graphile_worker._private_jobs SET locked_by = NULL, locked_at = NULL, attempts = greatest(attempts - 1, 0) WHERE id = ?::bigint AND locked_by = ?`;

/**
 * A job the lease claimed for after this one, if this one then failed: it must not stay locked by a
 * live worker (Liveness would never free it), so it goes back to the queue.
 */
export async function releaseClaimedJob(db: Knex, workerId: string, next: ClaimedJob | undefined): Promise<void> {
  if (next) await db.raw(RELEASE_SQL, [next.id, workerId]);
}

/** A claimed job whose run threw: back to the queue with graphile-worker's back-off. */
export async function failClaimedJob(db: Knex, workerId: string, jobId: string, error: unknown): Promise<void> {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  await db.raw(FAIL_SQL, [message, jobId, workerId]);
}

/** Several statements in one simple query (one round trip, each its own implicit transaction step). */
async function runStatements(db: Knex, statements: readonly string[]): Promise<pg.QueryResult[]> {
  const sql = statements.join(';\n');
  const connection = (await db.client.acquireConnection()) as pg.Client;
  try {
    (db.client as unknown as NodeJS.EventEmitter).emit('query', { method: 'raw', sql, bindings: [] });
    const result = (await connection.query(sql)) as unknown as pg.QueryResult | pg.QueryResult[];
    return Array.isArray(result) ? result : [result];
  } finally {
    await db.client.releaseConnection(connection);
  }
}
