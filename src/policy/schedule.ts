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
