/**
 * Releases sync jobs held by a dead process within seconds (decision 0203).
 *
 * graphile-worker 0.16 frees a job locked by a worker that vanished (SIGKILL, power loss) only
 * after 4 hours. Every process that runs sync jobs therefore records a heartbeat for each of its
 * worker ids (learnt from the jobs it runs) every few seconds, and sweeps: a sync job locked for
 * longer than the staleness limit by a worker with no fresh heartbeat belongs to a dead process,
 * and graphile_worker.force_unlock_workers() hands it back to the queue. The sync is state-based,
 * so running the job again is always safe.
 */
import type { Knex } from 'knex';
import { logger } from '../logging/logger.js';

export interface LivenessOptions {
  heartbeatMs?: number;
  staleMs?: number;
  taskIdentifiers: readonly string[];
}

export class Liveness {
  private readonly workerIds = new Set<string>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly heartbeatMs: number;
  private readonly staleMs: number;
  private stopped = false;

  constructor(
    private readonly db: Knex,
    private readonly options: LivenessOptions,
  ) {
    this.heartbeatMs = options.heartbeatMs ?? 2000;
    this.staleMs = options.staleMs ?? 10_000;
  }

  start(): void {
    const every = (ms: number, fn: () => Promise<unknown>) => {
      const timer = setInterval(() => {
        if (!this.stopped) fn().catch((error: unknown) => logger.warn('sync liveness', { error: (error as Error).message }));
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.heartbeatMs, () => this.beat());
    every(this.heartbeatMs * 2, () => this.rescue());
    void this.rescue().catch(() => undefined);
  }

  /** A job started on this worker id: from now on it is kept alive. */
  register(workerId: string | null | undefined): void {
    if (!workerId || this.workerIds.has(workerId)) return;
    this.workerIds.add(workerId);
    void this.beat().catch(() => undefined);
  }

  async beat(): Promise<void> {
    if (this.workerIds.size === 0) return;
    await this.db.raw(
      `INSERT INTO sync_worker_heartbeats (worker_id, heartbeat_at) SELECT unnest(?::text[]), now()
       ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = now()`,
      [[...this.workerIds]],
    );
  }

  /** Unlocks sync jobs whose worker has stopped beating; returns the worker ids released. */
  async rescue(): Promise<string[]> {
    const { rows } = (await this.db.raw(
      `SELECT DISTINCT j.locked_by FROM graphile_worker.jobs j
        WHERE j.task_identifier = ANY(?::text[]) AND j.locked_by IS NOT NULL
          AND j.locked_at < now() - make_interval(secs => ? / 1000.0)
          AND NOT EXISTS (SELECT 1 FROM sync_worker_heartbeats h
                          WHERE h.worker_id = j.locked_by AND h.heartbeat_at > now() - make_interval(secs => ? / 1000.0))`,
      [[...this.options.taskIdentifiers], this.staleMs, this.staleMs],
    )) as { rows: Array<{ locked_by: string }> };
    const dead = rows.map((row) => row.locked_by).filter((id) => !this.workerIds.has(id));
    if (dead.length === 0) return [];
    await this.db.raw(`SELECT graphile_worker.force_unlock_workers(?::text[])`, [dead]);
    await this.db.raw(`DELETE FROM sync_worker_heartbeats WHERE worker_id = ANY(?::text[]) OR heartbeat_at < now() - interval '1 day'`, [dead]);
    logger.warn('sync: released jobs held by a stopped process', { workers: dead.length });
    return dead;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    if (this.workerIds.size > 0) {
      await this.db.raw(`DELETE FROM sync_worker_heartbeats WHERE worker_id = ANY(?::text[])`, [[...this.workerIds]]).catch(() => undefined);
    }
  }
}
