/**
 * Telling a stage's approvers that a request waits for them: an email (nodemailer over the SMTP
 * server of ROSTER_NOTIFY_SMTP_URL) and a JSON POST to ROSTER_NOTIFY_WEBHOOK_URL, signed with an
 * HMAC when ROSTER_NOTIFY_WEBHOOK_SECRET is set. Both optional. Runs as a queued job after the
 * step commits; each channel's outcome is journaled (`request.notify`, with the error when it
 * failed) and a failure is logged, but nothing is retried or undone: the request stands.
 */
import type { NotifySettings } from '../config/notify.js';
import { logger } from '../logging/logger.js';
import { describeStage } from '../policy/catalog.js';
import { appliedPolicy } from '../policy/policy-state.js';
import type { WritePath } from '../write/write-path.js';
import { notificationsConfigured, postWebhook, sendEmail, type ChannelOutcome } from './notify-channels.js';
import { stageApprovers, type Approver } from './request-approvers.js';
import { accessRequest, type AccessRequest } from './request-store.js';

export { SIGNATURE_HEADER } from './notify-channels.js';

function consoleLink(settings: NotifySettings, request: AccessRequest): string {
  return `${settings.publicUrl ?? ''}/console/requests#request-${request.id}`;
}

function emailApprovers(settings: NotifySettings, request: AccessRequest, stage: number, approvers: Approver[], stageText: string): Promise<ChannelOutcome> {
  return sendEmail(
    settings,
    approvers.flatMap((a) => (a.email ? [a.email] : [])),
    `Access request #${request.id}: ${request.user.userName} asks for ${request.entry} (stage ${stage} of ${request.stageCount})`,
    [
      `${request.user.userName} asks for "${request.entry}"${request.requestedUntil ? ` until ${request.requestedUntil}` : ` for ${request.durationDays} days`}.`,
      `Requested by: ${request.requestedBy}`,
      `Justification: ${request.justification ?? '(none)'}`,
      `Stage ${stage} of ${request.stageCount} is decided by ${stageText}.`,
      '',
      `Approve or deny it with a reason in the Roster console: ${consoleLink(settings, request)}`,
      `It expires undecided at ${request.expiresAt}.`,
    ].join('\n'),
  );
}

function postApprovers(settings: NotifySettings, request: AccessRequest, stage: number, approvers: Approver[], stageText: string): Promise<ChannelOutcome> {
  const payload = {
    event: 'access_request.awaiting_decision',
    request: { id: request.id, entry: request.entry, user: request.user.userName, requestedBy: request.requestedBy, justification: request.justification, createdAt: request.createdAt, expiresAt: request.expiresAt },
    stage: { number: stage, of: request.stageCount, decidedBy: stageText, approvers: approvers.map((a) => a.userName) },
    link: consoleLink(settings, request),
  };
  return postWebhook(settings, payload, approvers.length);
}

/** The notify job: tells stage `stage` of request `requestId`, if it still waits for that stage. */
export async function notifyApprovers(writePath: WritePath, settings: NotifySettings, requestId: number, stage: number): Promise<ChannelOutcome[]> {
  if (!notificationsConfigured(settings)) return [];
  const request = await accessRequest(writePath.db, requestId);
  if (!request || request.status !== 'pending' || request.stage + 1 !== stage) return [];
  const entry = (await appliedPolicy(writePath.db))?.catalog.find((e) => e.name === request.entry);
  if (!entry) return [];
  const stageDef = entry.stages[stage - 1]!;
  const subject = (await writePath.db('users').select('resource').where({ id: request.user.id }).first()) as { resource: Record<string, unknown> };
  // Nobody is asked to decide their own request (the decision would be refused anyway).
  const approvers = (await stageApprovers(writePath.db, stageDef, subject.resource)).filter((a) => a.userId !== request.user.id && a.userId !== request.requesterUserId);
  const stageText = describeStage(stageDef);
  const outcomes = await Promise.all([
    ...(settings.smtpUrl ? [emailApprovers(settings, request, stage, approvers, stageText)] : []),
    ...(settings.webhookUrl ? [postApprovers(settings, request, stage, approvers, stageText)] : []),
  ]);
  for (const o of outcomes) if (!o.ok) logger.warn('access request notification failed', { request: requestId, stage, channel: o.channel, error: o.error });
  await writePath.run({ name: 'access-requests', source: 'system', requestId: `request-notify-${requestId}-${stage}` }, async ({ changes }) => {
    for (const o of outcomes) {
      changes.record({ action: 'request.notify', changes: { request: requestId, stage, channel: o.channel, recipients: o.recipients, approvers: approvers.map((a) => a.userName) }, reason: o.ok ? { outcome: 'sent' } : { outcome: 'failed', error: o.error } });
    }
  });
  return outcomes;
}
