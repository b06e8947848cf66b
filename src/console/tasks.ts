/**
 * Long console actions in the background (a full or report-only sync, an HR import apply): the
 * request that starts one answers at once with a status page, and the work runs on in this
 * process, writing its progress to console_tasks (at most every PROGRESS_EVERY_MS, plus a
 * heartbeat) and, at the end, its report or its error. The status page and its JSON read the row,
 * so they answer from any Roster process; a running task whose heartbeat stopped (its process
 * ended) is shown as interrupted, with what to do next.
 */
import type { Knex } from 'knex';
import { OperatorError } from '../lib/operator-error.js';
import { logger } from '../logging/logger.js';
import { ConsoleRefusal } from './refusal.js';
import { newSecret } from './session-store.js';

export type TaskKind = 'sync' | 'import';

export interface TaskProgress {
  phase: string;
  done: number;
  /** 0: not known yet (the bar shows activity without a value). */
  total: number;
}

export interface ConsoleTask extends TaskProgress {
  id: string;
  kind: TaskKind;
  title: string;
  startedBy: string;
  requestId: string;
  /** running, done, failed, or interrupted (running, but its process stopped). */
  state: 'running' | 'done' | 'failed' | 'interrupted';
  result: unknown;
  error: string | null;
  startedAt: Date;
  finishedAt: Date | null;
}

const PROGRESS_EVERY_MS = 500;
const HEARTBEAT_MS = 5_000;
/** A running task not heard from for this long was interrupted (its Roster process stopped). */
const STALE_AFTER_MS = 30_000;
/** Finished tasks are kept this long, so their page (the report) can be opened again. */
const KEEP_FINISHED = '7 days';

export interface TaskStart {
  kind: TaskKind;
  title: string;
  startedBy: string;
  requestId: string;
}

/** What a failed task's page says: an operator's mistake as it is, anything else by request id. */
function failureMessage(error: unknown, requestId: string): string {
  if (error instanceof ConsoleRefusal || error instanceof OperatorError) return error.message;
  logger.error('console task failed', { requestId, error: (error as Error)?.stack ?? String(error) });
  return `It stopped on an error on Roster's side; the log has the details under request id ${requestId}. Start it again; if it fails again, check Roster's log and the target's health.`;
}

/**
 * Records the task and starts `work` without waiting for it; returns the task's id at once.
 * `work` reports progress through its argument and returns the report kept for the status page.
 */
export async function startTask(db: Knex, start: TaskStart, work: (report: (progress: TaskProgress) => void) => Promise<unknown>): Promise<string> {
  const id = newSecret();
  await db('console_tasks').insert({ id, kind: start.kind, title: start.title, started_by: start.startedBy, request_id: start.requestId });
  let latest: TaskProgress | undefined;
  let lastWrite = 0;
  let writing: Promise<unknown> = Promise.resolve();
  const write = (fields: Record<string, unknown>) => {
    // One write at a time, in order: a late progress write must not land after the final one.
    writing = writing.then(() => db('console_tasks').where({ id }).update({ ...fields, updated_at: db.fn.now() })).catch((error: unknown) => logger.warn('console task progress not saved', { requestId: start.requestId, error: (error as Error).message }));
    return writing;
  };
  const progressFields = (progress: TaskProgress) => ({ phase: progress.phase.slice(0, 200), done: progress.done, total: progress.total });
  const report = (progress: TaskProgress) => {
    // A new phase is written at once; counts within a phase at most every PROGRESS_EVERY_MS.
    const newPhase = progress.phase !== latest?.phase || progress.total !== latest.total;
    latest = progress;
    if (!newPhase && Date.now() - lastWrite < PROGRESS_EVERY_MS) return;
    lastWrite = Date.now();
    void write(progressFields(progress));
  };
  // The heartbeat also carries the latest counts, so a throttled one is shown at most HEARTBEAT_MS late.
  const heartbeat = setInterval(() => void write(latest ? progressFields(latest) : {}), HEARTBEAT_MS);
  heartbeat.unref();
  void (async () => {
    try {
      const result = await work(report);
      const last = latest ?? { phase: 'finished', done: 0, total: 0 };
      await write({ state: 'done', phase: 'finished', done: Math.max(last.done, last.total), total: last.total, result: JSON.stringify(result), finished_at: db.fn.now() });
    } catch (error) {
      await write({ state: 'failed', error: failureMessage(error, start.requestId), finished_at: db.fn.now() });
    } finally {
      clearInterval(heartbeat);
    }
  })();
  return id;
}

interface TaskRow {
  id: string;
  kind: TaskKind;
  title: string;
  started_by: string;
  request_id: string;
  state: 'running' | 'done' | 'failed';
  phase: string;
  done: number;
  total: number;
  result: unknown;
  error: string | null;
  started_at: Date;
  updated_at: Date;
  finished_at: Date | null;
  stale: boolean;
}

export async function findTask(db: Knex, id: string): Promise<ConsoleTask | undefined> {
  const { rows } = (await db.raw(`SELECT *, updated_at < now() - make_interval(secs => ?) AS stale FROM console_tasks WHERE id = ?`, [STALE_AFTER_MS / 1000, id])) as { rows: TaskRow[] };
  const row = rows[0];
  if (!row) return undefined;
  return {
    id: row.id,
    kind: row.kind,
    title: row.title,
    startedBy: row.started_by,
    requestId: row.request_id,
    state: row.state === 'running' && row.stale ? 'interrupted' : row.state,
    phase: row.phase,
    done: row.done,
    total: row.total,
    result: row.result,
    error: row.error,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

/** Removes tasks finished (or interrupted) more than KEEP_FINISHED ago (the console's periodic sweep). */
export async function sweepTasks(db: Knex): Promise<void> {
  await db.raw(`DELETE FROM console_tasks WHERE coalesce(finished_at, updated_at) < now() - interval '${KEEP_FINISHED}'`);
}
