/**
 * The sync tasks for the job queue, and what keeps them honest across processes.
 *
 *   const sync = createSyncWorker({ db, connectors });
 *   const runner = await startWorker(url, { ...otherTasks, ...sync.tasks });
 *   …
 *   await runner.stop(); await sync.stop();
 *
 * `db` should be a knex pool of its own (createSyncDatabase): each running sync holds one
 * connection for its advisory locks and uses another for its reads and writes.
 */
import type { Knex } from 'knex';
import type { JobHelpers, TaskList } from 'graphile-worker';
import { createKnex } from '../db/knex.js';
import { logger } from '../logging/logger.js';
import type { ConnectorSet, ResourceType } from './connector.js';
import { ensureConnectorRows } from './connector-state.js';
import { enqueueSyncJobs, RECONCILE_TASK, SYNC_TASK, wakeConnectorJobs, type SyncPayload } from './jobs.js';
import { Liveness } from './liveness.js';
import { failClaimedJob, JobLease, releaseClaimedJob } from './job-drain.js';
import { JournalBatcher, PushJournal } from './push-journal.js';
import { syncOne, type SyncResult } from './sync-one.js';
import { enqueueReconcile, runScheduledReconcile } from './reconcile-schedule.js';
import type { FindingsRecorder } from './full-sync.js';

export interface SyncWorkerOptions {
  db: Knex;
  connectors: ConnectorSet;
  heartbeatMs?: number;
  staleMs?: number;
  /** Where a scheduled reconciliation records its orphans and drift (the governance ledger). */
  findings?: FindingsRecorder | undefined;
}

export interface SyncWorker {
  tasks: TaskList;
  stop(): Promise<void>;
}

/** A knex pool sized for `concurrency` parallel syncs (two connections each, plus headroom). */
export function createSyncDatabase(url: string, concurrency: number): Knex {
  return createKnex({ url, poolMax: concurrency * 2 + 2 });
}

/** Total concurrency the worker should run with: the sum of the connectors' own limits, capped. */
export function syncConcurrency(connectors: ConnectorSet, cap = 32): number {
  return Math.max(1, Math.min(cap, connectors.list.reduce((sum, c) => sum + c.config.rateLimit.concurrency, 0)));
}

/** Jobs one graphile-worker job may run back to back by claiming the next (job-drain.ts): few enough that a graceful shutdown, which waits for running jobs, is not held up. */
const DRAIN_LIMIT = 20;

function parsePayload(raw: unknown): SyncPayload | undefined {
  const p = raw as Partial<SyncPayload> | undefined;
  if (!p || typeof p.connector !== 'string' || typeof p.id !== 'string' || (p.type !== 'User' && p.type !== 'Group')) return undefined;
  return { connector: p.connector, type: p.type as ResourceType, id: p.id, ...(typeof p.attempt === 'number' ? { attempt: p.attempt } : {}) };
}

export function createSyncWorker(options: SyncWorkerOptions): SyncWorker {
  const { db, connectors } = options;
  const liveness = new Liveness(db, { taskIdentifiers: [SYNC_TASK, RECONCILE_TASK], ...(options.heartbeatMs ? { heartbeatMs: options.heartbeatMs } : {}), ...(options.staleMs ? { staleMs: options.staleMs } : {}) });
  const ready = ensureConnectorRows(db, connectors.list.map((c) => c.name))
    .then(() => enqueueReconcile(db, connectors))
    .catch((error: unknown) => logger.error('sync worker: could not initialise connector state', { error: (error as Error).message }));
  liveness.start();
  let stopping = false;
  // One background journal appender per connector: jobs do not wait for the chain lock (decision 0206).
  const batchers = new Map(connectors.list.map((c) => [c.name, new JournalBatcher(db, c.name)]));
  // Entries a killed process left in journal_outbox go onto the chain now.
  void ready.then(() => {
    for (const batcher of batchers.values()) batcher.kick();
  });

  /** Runs one sync job; `lease` completes it (and claims the next) when the job ends under its lock. */
  const runJob = async (raw: unknown, jobId: string, lease: JobLease): Promise<void> => {
    const payload = parsePayload(raw);
    if (!payload) {
      logger.warn('sync: dropped a job with an unreadable payload', { jobId });
      return;
    }
    const connector = connectors.get(payload.connector);
    if (!connector) {
      logger.warn('sync: dropped a job for a connector that is no longer configured', { connector: payload.connector });
      return;
    }
    const attempt = payload.attempt ?? 0;
    const requestId = `job-${jobId}`;
    const journal = new PushJournal(db, connector.name, requestId, batchers.get(connector.name));
    let result: SyncResult;
    try {
      result = await syncOne({
        db,
        connector,
        type: payload.type,
        id: payload.id,
        attempt,
        requestId,
        journal,
        onCircuitClosed: async () => {
          await wakeConnectorJobs(db, connector.name);
        },
        finishTail: lease.tail,
      });
    } finally {
      await journal.flush();
    }
    const again = (runAt: Date, nextAttempt: number) => enqueueSyncJobs(db, [{ connector: connector.name, type: payload.type, id: payload.id, attempt: nextAttempt, runAt }]);
    if (result.kind === 'retry') await again(new Date(Date.now() + result.delayMs), attempt + 1);
    else if (result.kind === 'wait') await again(result.until, attempt);
  };

  /**
   * graphile-worker hands over one job; while each job ends by claiming the next (job-drain.ts),
   * this worker keeps going, up to DRAIN_LIMIT jobs, so it still returns to graphile-worker (and
   * its shutdown) regularly. graphile-worker completes or fails the job it handed over as usual;
   * the drain completes or fails the ones it claimed.
   */
  const sync = async (raw: unknown, helpers: JobHelpers): Promise<void> => {
    const workerId = helpers.job.locked_by;
    liveness.register(workerId);
    await ready;
    const drain = (done: number) => workerId !== null && done < DRAIN_LIMIT && !stopping && helpers.abortSignal?.aborted !== true;
    const first = new JobLease(db, workerId ?? '', helpers.job.id, drain(0));
    try {
      await runJob(raw, helpers.job.id, first);
    } catch (error) {
      // graphile-worker fails this job; a job claimed for after it goes back to the queue.
      if (workerId !== null) await releaseClaimedJob(db, workerId, first.next).catch(() => undefined);
      throw error;
    }
    let next = first.next;
    for (let done = 1; next && workerId !== null; done++) {
      const job = next;
      const lease = new JobLease(db, workerId, job.id, drain(done));
      try {
        await runJob(job.payload, job.id, lease);
        await lease.settle();
        // Worded as graphile-worker words its own jobs, so one log shows every job a process ran.
        if (logger.isLevelEnabled('debug')) logger.debug(`Completed task ${job.id} (${SYNC_TASK}, claimed by the drain)`, { component: 'queue' });
      } catch (error) {
        logger.warn(`Failed task ${job.id} (${SYNC_TASK}, claimed by the drain); it goes back to the queue`, { error: (error as Error).message });
        await failClaimedJob(db, workerId, job.id, error).catch(() => undefined);
        await releaseClaimedJob(db, workerId, lease.next).catch(() => undefined);
        return;
      }
      next = lease.next;
    }
  };

  const reconcile = async (raw: unknown, helpers: JobHelpers): Promise<void> => {
    liveness.register(helpers.job.locked_by);
    await ready;
    const name = (raw as { connector?: unknown } | undefined)?.connector;
    const connector = typeof name === 'string' ? connectors.get(name) : undefined;
    if (!connector) return;
    await runScheduledReconcile(db, connector, options.findings);
  };

  return {
    tasks: { [SYNC_TASK]: sync, [RECONCILE_TASK]: reconcile },
    async stop() {
      stopping = true;
      // Move what the jobs wrote to the outbox; what is left after a while waits there for the next start.
      const drained = Promise.all([...batchers.values()].map((b) => b.drained()));
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), 10_000)));
      if ((await Promise.race([drained, late])) === 'late') logger.warn('sync: stopped with push entries still in journal_outbox; the next worker start appends them');
      clearTimeout(timer);
      await liveness.stop();
    },
  };
}
