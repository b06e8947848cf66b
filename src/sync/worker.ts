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
  // One background journal appender per connector: jobs do not wait for the chain lock (decision 0206).
  const batchers = new Map(connectors.list.map((c) => [c.name, new JournalBatcher(db, c.name)]));
  // Entries a killed process left in journal_outbox go onto the chain now.
  void ready.then(() => {
    for (const batcher of batchers.values()) batcher.kick();
  });

  const sync = async (raw: unknown, helpers: JobHelpers): Promise<void> => {
    liveness.register(helpers.job.locked_by);
    await ready;
    const payload = parsePayload(raw);
    if (!payload) {
      logger.warn('sync: dropped a job with an unreadable payload', { jobId: helpers.job.id });
      return;
    }
    const connector = connectors.get(payload.connector);
    if (!connector) {
      logger.warn('sync: dropped a job for a connector that is no longer configured', { connector: payload.connector });
      return;
    }
    const attempt = payload.attempt ?? 0;
    const requestId = `job-${helpers.job.id}`;
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
      });
    } finally {
      await journal.flush();
    }
    const again = (runAt: Date, nextAttempt: number) => enqueueSyncJobs(db, [{ connector: connector.name, type: payload.type, id: payload.id, attempt: nextAttempt, runAt }]);
    if (result.kind === 'retry') await again(new Date(Date.now() + result.delayMs), attempt + 1);
    else if (result.kind === 'wait') await again(result.until, attempt);
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
