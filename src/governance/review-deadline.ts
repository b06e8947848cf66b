/**
 * Time in a campaign, as jobs on the database-backed queue (queued when the campaign opens):
 *  - at the deadline, every undecided item takes the campaign's default (keep or revoke) as a
 *    decision of its own, journaled with the actor `review-deadline` and the reason "no decision by
 *    the deadline"; then the campaign closes (`review.close`). An item that fails (a target down)
 *    stays undecided, the job fails and the queue runs it again later; the campaign closes once
 *    every item is decided.
 *  - reminders: every `remind_every` until the deadline, one `review.remind` entry per reviewer
 *    with undecided items and a log line; with notifications configured (src/config/notify.ts),
 *    an email to each such reviewer and one webhook POST, each channel's outcome journaled as
 *    `review.notify` (a failure is not retried; the next reminder tries again).
 * `roster review sweep` does the same for every campaign past its deadline, for a Roster without
 * a running worker.
 */
import type { TaskList } from 'graphile-worker';
import type { NotifySettings } from '../config/notify.js';
import type { Actor } from '../journal/entry.js';
import { logger } from '../logging/logger.js';
import { enqueue } from '../queue/queue.js';
import type { ConnectorSet } from '../sync/connector.js';
import type { WritePath } from '../write/write-path.js';
import { notificationsConfigured, postWebhook, sendEmail, type ChannelOutcome } from './notify-channels.js';
import { approverOf } from './request-approvers.js';
import { decideItem } from './review-decide.js';
import { REVIEW_DEADLINE_TASK, REVIEW_REMIND_TASK } from './review-open.js';
import { campaignById, closeCampaign, dueCampaignIds, listItems, markReminded, pendingByReviewer, type Campaign } from './review-store.js';

const PAGE = 500;

export interface DeadlineOutcome {
  campaignId: string;
  applied: number;
  failed: Array<{ item: string; error: string }>;
  closed: boolean;
}

/** Applies the default to the undecided items of a campaign past its deadline, then closes it. */
export async function applyDeadline(
  writePath: WritePath,
  connectors: ConnectorSet,
  campaignId: string,
  options: { actor: Actor; now?: Date; onProgress?: (done: number, total: number) => void },
): Promise<DeadlineOutcome> {
  const now = options.now ?? new Date();
  const campaign = await campaignById(writePath.db, campaignId);
  const outcome: DeadlineOutcome = { campaignId, applied: 0, failed: [], closed: false };
  if (!campaign || campaign.status !== 'open' || new Date(campaign.deadline) > now) return outcome;
  const reason = `No decision by the deadline (${campaign.deadline}): the campaign's default, ${campaign.defaultDecision}, applies`;
  let after: string | undefined;
  for (;;) {
    const page = await listItems(writePath.db, campaignId, { decided: false }, { after, limit: PAGE });
    for (const item of page.items) {
      try {
        await decideItem(writePath, connectors, item.id, { decision: campaign.defaultDecision, reason, actor: options.actor, byDefault: true, now });
        outcome.applied++;
      } catch (error) {
        outcome.failed.push({ item: item.id, error: (error as Error).message });
        logger.warn('review default not applied to an item; the deadline job retries', { campaign: campaignId, item: item.id, error: (error as Error).message });
      }
      options.onProgress?.(outcome.applied, campaign.total - campaign.decided);
    }
    if (!page.next) break;
    after = page.next;
  }
  if (outcome.failed.length === 0) {
    await writePath.run(options.actor, async ({ tx, changes }) => {
      await closeCampaign(tx, campaignId);
      const closed = (await campaignById(tx, campaignId))!;
      changes.record({ action: 'review.close', changes: { campaign: campaignId, name: campaign.name, items: closed.total, byDefault: outcome.applied, defaultDecision: campaign.defaultDecision } });
    });
    outcome.closed = true;
  }
  return outcome;
}

/** Journals a reminder for each reviewer with undecided items; queues the next one if it comes before the deadline. */
export async function sendReminders(writePath: WritePath, campaignId: string, options: { actor: Actor; now?: Date; notify?: NotifySettings }): Promise<Array<{ reviewer: string; pending: number }>> {
  const now = options.now ?? new Date();
  const campaign = await campaignById(writePath.db, campaignId);
  if (!campaign || campaign.status !== 'open' || new Date(campaign.deadline) <= now) return [];
  const pending = await pendingByReviewer(writePath.db, campaignId);
  await writePath.run(options.actor, async ({ tx, changes }) => {
    for (const { reviewer, pending: count } of pending) {
      changes.record({ action: 'review.remind', changes: { campaign: campaignId, name: campaign.name, reviewer, pending: count }, reason: { deadline: campaign.deadline } });
    }
    await markReminded(tx, campaignId);
    const next = new Date(now.getTime() + campaign.remindEveryHours * 3_600_000);
    if (next < new Date(campaign.deadline)) await enqueue(tx, REVIEW_REMIND_TASK, { campaignId }, { jobKey: `review:remind:${campaignId}`, runAt: next, maxAttempts: 5 });
  });
  for (const { reviewer, pending: count } of pending) {
    logger.info('access review reminder', { campaign: campaignId, name: campaign.name, reviewer, pending: count, deadline: campaign.deadline });
  }
  if (options.notify && notificationsConfigured(options.notify) && pending.length > 0) await notifyReviewers(writePath, options.notify, campaign, pending, options.actor);
  return pending;
}

/** Emails each reviewer with undecided items (their own count) and POSTs one webhook for the campaign; journals each outcome. */
async function notifyReviewers(writePath: WritePath, settings: NotifySettings, campaign: Campaign, pending: Array<{ reviewer: string; pending: number }>, actor: Actor): Promise<void> {
  const rows = (await writePath.db('users')
    .select('id', 'resource')
    .whereRaw(`lower(resource->>'userName') = ANY(?::text[])`, [pending.map((p) => p.reviewer.toLowerCase())])) as Array<{ id: string; resource: Record<string, unknown> }>;
  const emailOf = new Map(rows.map((row) => approverOf(row)).map((a) => [a.userName.toLowerCase(), a.email]));
  const link = `${settings.publicUrl ?? ''}/console/reviews/${campaign.id}/review`;
  const outcomes: Array<{ reviewer?: string; outcome: ChannelOutcome }> = [];
  if (settings.smtpUrl) {
    for (const { reviewer, pending: count } of pending) {
      const email = emailOf.get(reviewer.toLowerCase());
      const text = [
        `${count} item(s) of the access review "${campaign.name}" wait for your decision: keep, revoke or shorten each, with a reason.`,
        `Undecided items take the default (${campaign.defaultDecision}) at the deadline, ${campaign.deadline}.`,
        '',
        `Decide them in the Roster console: ${link}`,
      ].join('\n');
      outcomes.push({ reviewer, outcome: await sendEmail(settings, email ? [email] : [], `Access review "${campaign.name}": ${count} item(s) to decide by ${campaign.deadline}`, text) });
    }
  }
  if (settings.webhookUrl) {
    const payload = {
      event: 'access_review.reminder',
      campaign: { id: campaign.id, name: campaign.name, deadline: campaign.deadline, defaultDecision: campaign.defaultDecision },
      reviewers: pending.map((p) => ({ userName: p.reviewer, pending: p.pending })),
      link,
    };
    outcomes.push({ outcome: await postWebhook(settings, payload, pending.length) });
  }
  for (const { reviewer, outcome } of outcomes) {
    if (!outcome.ok) logger.warn('access review reminder not delivered', { campaign: campaign.id, reviewer, channel: outcome.channel, error: outcome.error });
  }
  await writePath.run({ ...actor, requestId: `${actor.requestId}:notify` }, async ({ changes }) => {
    for (const { reviewer, outcome } of outcomes) {
      changes.record({
        action: 'review.notify',
        changes: { campaign: campaign.id, channel: outcome.channel, recipients: outcome.recipients, ...(reviewer ? { reviewer } : {}) },
        reason: outcome.ok ? { outcome: 'sent' } : { outcome: 'failed', error: outcome.error },
      });
    }
  });
}

/** Every open campaign past its deadline (`roster review sweep`). */
export async function sweepDeadlines(writePath: WritePath, connectors: ConnectorSet, options: { actor: Actor; now?: Date; onProgress?: (campaignId: string, done: number, total: number) => void }): Promise<DeadlineOutcome[]> {
  const outcomes: DeadlineOutcome[] = [];
  for (const id of await dueCampaignIds(writePath.db, options.now ?? new Date())) {
    outcomes.push(await applyDeadline(writePath, connectors, id, { actor: options.actor, now: options.now, onProgress: (done, total) => options.onProgress?.(id, done, total) }));
  }
  return outcomes;
}

const campaignIdOf = (payload: unknown): string | undefined => {
  const id = (payload as { campaignId?: unknown } | null)?.campaignId;
  return typeof id === 'string' && /^\d{1,18}$/.test(id) ? id : undefined;
};

/** The queue tasks, merged into the one worker a Roster process runs (src/cli/serve.ts). */
export function reviewTasks(writePath: WritePath, connectors: () => ConnectorSet, notify?: NotifySettings): TaskList {
  return {
    [REVIEW_DEADLINE_TASK]: async (payload, helpers) => {
      const campaignId = campaignIdOf(payload);
      if (!campaignId) return helpers.logger.error(`${REVIEW_DEADLINE_TASK}: payload without a campaign id; dropping the job`);
      const actor: Actor = { name: 'review-deadline', source: 'system', requestId: `job-${helpers.job.id}-${helpers.job.attempts}` };
      const outcome = await applyDeadline(writePath, connectors(), campaignId, { actor });
      if (outcome.failed.length) throw new Error(`${outcome.failed.length} item(s) of campaign ${campaignId} could not take the default yet (first: ${outcome.failed[0]!.error}); retrying later`);
    },
    [REVIEW_REMIND_TASK]: async (payload, helpers) => {
      const campaignId = campaignIdOf(payload);
      if (!campaignId) return helpers.logger.error(`${REVIEW_REMIND_TASK}: payload without a campaign id; dropping the job`);
      await sendReminders(writePath, campaignId, { actor: { name: 'review-reminder', source: 'system', requestId: `job-${helpers.job.id}` }, ...(notify ? { notify } : {}) });
    },
  };
}
