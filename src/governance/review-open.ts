/**
 * Opening an access review (issue 17, decision 0610). A campaign reviews rules, not rows: each
 * role of the applied policy is one item for its owner, showing how many people it grants; item by
 * item come only the access no rule explains (exceptions and approved requests, IdP memberships in
 * groups Roster pushes downstream, open orphans and drift from the ledger). Everything is inserted
 * and journaled (`review.open`) in one transaction through the write path, with the jobs that send
 * reminders and apply the default at the deadline (review-deadline.ts).
 */
import type { Actor } from '../journal/entry.js';
import { OperatorError } from '../lib/operator-error.js';
import { appliedPolicy } from '../policy/policy-state.js';
import { enqueue } from '../queue/queue.js';
import type { WritePath } from '../write/write-path.js';
import {
  campaignById,
  insertCampaign,
  insertExceptionItems,
  insertIdpMembershipItems,
  insertLedgerItems,
  insertRuleItems,
  peoplePerRole,
  REVIEW_SCOPES,
  type Campaign,
  type ReviewScope,
} from './review-store.js';

export const REVIEW_DEADLINE_TASK = 'governance.review-deadline';
export const REVIEW_REMIND_TASK = 'governance.review-remind';
export const MAX_CAMPAIGN_DAYS = 366;
export const DEFAULT_REMIND_EVERY_HOURS = 72;

/** A campaign or a decision refused, with the HTTP status the API answers (the CLI prints the message). */
export class ReviewError extends OperatorError {
  override name = 'ReviewError';
  constructor(
    readonly status: 400 | 403 | 404 | 409 | 502 | 503,
    message: string,
  ) {
    super(message);
  }
}

export interface OpenOptions {
  name: string;
  scope: readonly ReviewScope[];
  deadline: Date;
  defaultDecision: 'keep' | 'revoke';
  /** Who reviews what has no owner or manager (ROSTER_REVIEW_FALLBACK_REVIEWER, or given). */
  fallbackReviewer: string;
  /** A named person for the ledger's orphans and drift (default: the fallback reviewer). */
  ledgerReviewer?: string | undefined;
  remindEveryHours?: number | undefined;
  actor: Actor;
  now?: Date;
  /** Hears of each part as it is added (the CLI prints it; a large campaign takes a few seconds). */
  onProgress?: (step: { part: ReviewScope; items: number }) => void;
}

function checked(options: OpenOptions): { name: string; fallback: string; remindEveryHours: number } {
  const name = options.name.trim();
  if (name.length < 3 || name.length > 200) throw new ReviewError(400, 'Name the campaign (3 to 200 characters), e.g. "Q1 2027 access review"');
  if (options.scope.length === 0) throw new ReviewError(400, `Choose what the campaign reviews: any of ${REVIEW_SCOPES.join(', ')}`);
  const unknown = options.scope.filter((s) => !(REVIEW_SCOPES as readonly string[]).includes(s));
  if (unknown.length) throw new ReviewError(400, `Unknown scope ${unknown.join(', ')}; choose from ${REVIEW_SCOPES.join(', ')}`);
  const now = options.now ?? new Date();
  if (Number.isNaN(options.deadline.getTime()) || options.deadline.getTime() <= now.getTime()) throw new ReviewError(400, 'The deadline must be in the future');
  if (options.deadline.getTime() > now.getTime() + MAX_CAMPAIGN_DAYS * 86_400_000) throw new ReviewError(400, `The deadline is more than ${MAX_CAMPAIGN_DAYS} days away`);
  const fallback = options.fallbackReviewer.trim();
  if (!fallback) throw new ReviewError(400, 'Name a fallback reviewer (a userName) for items without an owner or manager: --fallback-reviewer, or set ROSTER_REVIEW_FALLBACK_REVIEWER');
  const remindEveryHours = options.remindEveryHours ?? DEFAULT_REMIND_EVERY_HOURS;
  if (!Number.isFinite(remindEveryHours) || remindEveryHours < 1 || remindEveryHours > 24 * MAX_CAMPAIGN_DAYS) throw new ReviewError(400, 'Reminders are sent every 1 hour at the least');
  return { name, fallback, remindEveryHours };
}

export async function openCampaign(writePath: WritePath, options: OpenOptions): Promise<Campaign> {
  const { name, fallback, remindEveryHours } = checked(options);
  const scope = [...new Set(options.scope)];
  const now = options.now ?? new Date();
  const id = await writePath.run(options.actor, async ({ tx, changes }) => {
    const policy = await appliedPolicy(tx);
    if (scope.includes('rules') && !policy) throw new ReviewError(409, 'No policy is applied, so there are no rules to certify; apply one first (roster policy apply) or leave "rules" out of the scope');
    const campaignId = await insertCampaign(tx, {
      name,
      scope,
      deadline: options.deadline,
      defaultDecision: options.defaultDecision,
      remindEveryHours,
      fallbackReviewer: fallback,
      policyVersion: policy?.version ?? null,
      openedBy: options.actor.name,
    });
    const counts: Partial<Record<ReviewScope, number>> = {};
    const part = async (key: ReviewScope, add: () => Promise<number>) => {
      if (!scope.includes(key)) return;
      counts[key] = await add();
      options.onProgress?.({ part: key, items: counts[key] });
    };
    await part('rules', async () => {
      const people = await peoplePerRole(tx);
      return insertRuleItems(
        tx,
        campaignId,
        policy!.roles.map((role) => ({
          ruleName: role.name,
          label: `${role.name}: ${role.groups.join(', ')}`,
          details: { people: people.get(role.name) ?? 0, groups: role.groups, when: role.when, ...(role.description ? { description: role.description } : {}) },
          reviewer: role.owner ?? fallback,
          basis: role.owner ? 'owner' : 'fallback',
        })),
      );
    });
    await part('exceptions', () => insertExceptionItems(tx, campaignId, fallback));
    await part('idp', () => insertIdpMembershipItems(tx, campaignId, fallback));
    await part('ledger', () => insertLedgerItems(tx, campaignId, options.ledgerReviewer?.trim() || fallback, options.ledgerReviewer?.trim() ? 'named' : 'fallback'));
    changes.record({
      action: 'review.open',
      changes: { campaign: campaignId, name, scope, items: counts, policyVersion: policy?.version ?? null },
      reason: { deadline: options.deadline.toISOString(), defaultDecision: options.defaultDecision, fallbackReviewer: fallback, remindEveryHours },
    });
    await enqueue(tx, REVIEW_DEADLINE_TASK, { campaignId }, { jobKey: `review:deadline:${campaignId}`, runAt: options.deadline, maxAttempts: 25 });
    const firstReminder = new Date(now.getTime() + remindEveryHours * 3_600_000);
    if (firstReminder < options.deadline) await enqueue(tx, REVIEW_REMIND_TASK, { campaignId }, { jobKey: `review:remind:${campaignId}`, runAt: firstReminder, maxAttempts: 5 });
    return campaignId;
  });
  return (await campaignById(writePath.db, id))!;
}
