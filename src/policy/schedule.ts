/**
 * Time in the policy (a role's `from`/`until` date, an exception's expiry) is a job on the
 * database-backed queue, not a timer in one process: when a user's answer will change by itself,
 * a "re-evaluate this user" job is queued for that instant, in the same transaction as the change
 * that made it so. One job key per user keeps a single pending job, at the latest computed time.
 */
import type { Knex } from 'knex';
import { enqueue } from '../queue/queue.js';

export const REEVALUATE_TASK = 'policy.reevaluate';

export interface ReevaluatePayload {
  userId: string;
}

export async function scheduleReevaluation(tx: Knex.Transaction, userId: string, at: Date): Promise<void> {
  const payload: ReevaluatePayload = { userId };
  await enqueue(tx, REEVALUATE_TASK, payload, { jobKey: `policy:user:${userId}`, runAt: at, maxAttempts: 10 });
}

/**
 * The same for many users in one statement (replace mode, as `enqueue` uses: a job that already
 * started keeps running and a new one is queued). One time per user.
 */
export async function scheduleReevaluations(tx: Knex.Transaction, schedules: ReadonlyArray<{ userId: string; at: Date }>): Promise<void> {
  if (schedules.length === 0) return;
  if (schedules.length === 1) return scheduleReevaluation(tx, schedules[0]!.userId, schedules[0]!.at);
  const latest = new Map<string, Date>();
  for (const s of schedules) latest.set(s.userId, s.at);
  await tx.raw(
    `SELECT count(*) FROM graphile_worker.add_jobs(
       ARRAY(SELECT ROW(?, json_build_object('userId', s.user_id), NULL, s.run_at, 10, 'policy:user:' || s.user_id, 0, NULL)::graphile_worker.job_spec
             FROM unnest(?::text[], ?::timestamptz[]) AS s(user_id, run_at)),
       false)`,
    [REEVALUATE_TASK, [...latest.keys()], [...latest.values()].map((d) => d.toISOString())],
  );
}
