/**
 * Queue tasks of access requests, merged into the one worker a Roster process runs (serve):
 *   governance.request-expire  at a request's expiry: closes it if still undecided
 *   governance.request-notify  after a step: tells the next stage's approvers
 */
import type { TaskList } from 'graphile-worker';
import type { NotifySettings } from '../config/notify.js';
import type { WritePath } from '../write/write-path.js';
import { notifyApprovers } from './request-notify.js';
import { EXPIRE_TASK, expireRequest, NOTIFY_TASK, type NotifyPayload } from './requests.js';

const wholeNumber = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value > 0;

export function requestTasks(writePath: WritePath, notify: NotifySettings): TaskList {
  return {
    [EXPIRE_TASK]: async (payload, helpers) => {
      const { requestId } = (payload ?? {}) as { requestId?: unknown };
      if (!wholeNumber(requestId)) return helpers.logger.error(`${EXPIRE_TASK}: payload without a request id; dropping the job`);
      await expireRequest(writePath, requestId);
    },
    [NOTIFY_TASK]: async (payload, helpers) => {
      const { requestId, stage } = (payload ?? {}) as Partial<NotifyPayload>;
      if (!wholeNumber(requestId) || !wholeNumber(stage)) return helpers.logger.error(`${NOTIFY_TASK}: payload without a request id and stage; dropping the job`);
      await notifyApprovers(writePath, notify, requestId, stage);
    },
  };
}
