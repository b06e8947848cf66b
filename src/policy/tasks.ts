/**
 * Queue tasks of the policy engine, to merge into the one worker a Roster process runs:
 *   startWorker(url, { ...policyTasks(writePath), ...otherTasks })
 * `policy.reevaluate` runs when a role's date or an exception's expiry arrives; it re-evaluates the
 * user through the write path (source "policy"), so the change is journaled like any other and
 * outbound hooks see it.
 */
import type { TaskList } from 'graphile-worker';
import type { WritePath } from '../write/write-path.js';
import { appliedPolicy } from './policy-state.js';
import { reconcileUserById } from './reconcile-user.js';
import { REEVALUATE_TASK, type ReevaluatePayload } from './schedule.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function policyTasks(writePath: WritePath): TaskList {
  return {
    [REEVALUATE_TASK]: async (payload, helpers) => {
      const { userId } = (payload ?? {}) as Partial<ReevaluatePayload>;
      if (typeof userId !== 'string' || !UUID.test(userId)) {
        helpers.logger.error(`${REEVALUATE_TASK}: payload without a user id; dropping the job`);
        return;
      }
      const actor = { name: 'policy-scheduler', source: 'policy' as const, requestId: `job-${helpers.job.id}` };
      await writePath.run(actor, async (context) => {
        const policy = await appliedPolicy(context.tx);
        if (!policy) return;
        await reconcileUserById(context, policy, userId);
      });
    },
  };
}
