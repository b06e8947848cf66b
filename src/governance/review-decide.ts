/**
 * A reviewer's decision on one item (keep, revoke or shorten, always with a reason), and what it
 * does, through the write path, in the decision's transaction where the change is Roster's own:
 *   rule            keep: certified. revoke: decertified and reported; the policy is NOT changed
 *                   (policy is code, reviewed and applied by an admin): the outcome says what to do.
 *   exception       revoke: revokeException (the membership goes, connectors hear of it);
 *                   shorten: the expiry moves earlier and the user is re-evaluated (which re-plans
 *                   the expiry job).
 *   idp-membership  revoke: the user is removed from the group (a group PATCH); the IdP may push it
 *                   again, so the outcome says to remove it there too.
 *   orphan          revoke: disabled on the target under the connector's mass-change guard (the
 *                   ledger's own action, then the decision; the target is not transactional).
 *   drift           revoke: the object is queued for a sync, which brings the target back.
 * Every journal entry a decision writes carries the request id `<request>:review-item-<id>`, so the
 * report links each decision to its entries.
 */
import type { Actor, JournalEntryInput } from '../journal/entry.js';
import { ExceptionError, revokeException } from '../policy/exceptions.js';
import { appliedPolicy } from '../policy/policy-state.js';
import { reconcileUserById } from '../policy/reconcile-user.js';
import { patchGroup } from '../resources/groups.js';
import type { ConnectorSet } from '../sync/connector.js';
import type { WriteContext, WritePath } from '../write/write-path.js';
import { deprovisionOrphan, LedgerError } from './ledger-actions.js';
import { ReviewError } from './review-open.js';
import { campaignById, recordDecision, reviewItem, type ReviewDecision, type ReviewItem } from './review-store.js';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

export interface DecisionInput {
  decision: ReviewDecision;
  reason: string;
  /** shorten: the new end of the access. */
  until?: Date | undefined;
  actor: Actor;
  /** The campaign's default applied at the deadline, not a person's decision. */
  byDefault?: boolean;
  now?: Date;
}

interface Decided {
  outcome: string;
  entry?: Partial<JournalEntryInput>;
}

/** Refuses what cannot be decided, before anything changes. */
async function decidable(writePath: WritePath, itemId: string, input: DecisionInput): Promise<ReviewItem> {
  const item = await reviewItem(writePath.db, itemId);
  if (!item) throw new ReviewError(404, `No review item ${itemId}`);
  const campaign = await campaignById(writePath.db, item.campaignId);
  if (campaign?.status !== 'open') throw new ReviewError(409, `Campaign ${item.campaignId} is closed; its decisions are final`);
  if (item.decision) throw new ReviewError(409, `Item ${itemId} was decided already (${item.decision} by ${item.decidedBy ?? '?'} at ${item.decidedAt ?? '?'})`);
  if (input.reason.trim().length < 3) throw new ReviewError(400, 'A reason is required: say why, e.g. "still on the payroll project until March"');
  if (input.decision === 'shorten') {
    if (item.kind !== 'exception') throw new ReviewError(400, `Only exceptions can be shortened; a${item.kind === 'idp-membership' ? 'n' : ''} ${item.kind} is kept or revoked`);
    const now = input.now ?? new Date();
    const expiresAt = new Date(String(item.details.expiresAt));
    if (!input.until || Number.isNaN(input.until.getTime())) throw new ReviewError(400, 'Shorten needs the new end date (until), e.g. 2027-01-31');
    if (input.until <= now) throw new ReviewError(400, 'The new end date must be in the future; to end it now, revoke');
    if (input.until >= expiresAt) throw new ReviewError(400, `The new end date must be before the current expiry (${expiresAt.toISOString()}); a review shortens access, it never extends it`);
  }
  return item;
}

export async function decideItem(writePath: WritePath, connectors: ConnectorSet, itemId: string, input: DecisionInput): Promise<ReviewItem> {
  // An end date means something only to shorten (a form may send one with keep or revoke).
  if (input.decision !== 'shorten') input = { ...input, until: undefined };
  const item = await decidable(writePath, itemId, input);
  const actor: Actor = { ...input.actor, requestId: `${input.actor.requestId}:review-item-${item.id}` };
  const reason = input.reason.trim().slice(0, 1000);

  /** Stores the decision and journals it, inside the caller's transaction. */
  const record = async ({ tx, changes }: WriteContext, decided: Decided) => {
    const stored = await recordDecision(tx, item.id, { decision: input.decision, reason, shortenUntil: input.until, decidedBy: actor.name, byDefault: input.byDefault ?? false, outcome: decided.outcome, requestId: actor.requestId });
    if (!stored) throw new ReviewError(409, `Item ${item.id} was decided by someone else meanwhile, or its campaign closed; nothing was changed`);
    changes.record({
      action: `review.${input.decision}`,
      changes: { campaign: item.campaignId, item: item.id, kind: item.kind, label: item.label, outcome: decided.outcome },
      reason: { reason, reviewer: item.reviewer, byDefault: input.byDefault ?? false, ...(input.until ? { until: input.until.toISOString() } : {}) },
      ...decided.entry,
    });
  };
  const simply = (decided: Decided) => writePath.run(actor, (context) => record(context, decided));

  if (input.decision === 'keep') await simply({ outcome: item.kind === 'rule' ? 'certified' : 'kept' });
  else if (input.decision === 'shorten') await shortenException(writePath, actor, item, input.until!, record);
  else await revoke(writePath, connectors, actor, item, reason, record, simply);
  return (await reviewItem(writePath.db, item.id))!;
}

type Recorder = (context: WriteContext, decided: Decided) => Promise<void>;

async function revoke(writePath: WritePath, connectors: ConnectorSet, actor: Actor, item: ReviewItem, reason: string, record: Recorder, simply: (decided: Decided) => Promise<void>): Promise<void> {
  switch (item.kind) {
    case 'rule':
      return simply({
        outcome: `decertified: the policy was not changed. An admin should remove role "${item.ruleName}" from the policy file or narrow its "when", preview it (roster policy plan) and apply it (roster policy apply)`,
      });
    case 'exception': {
      const userName = String(item.details.userName);
      const group = String(item.details.group);
      try {
        await revokeException(writePath, userName, group, actor, (context) => record(context, { outcome: `exception revoked: ${userName} leaves ${group}` }));
      } catch (error) {
        // Ended meanwhile (expired, or revoked by `roster revoke`): the decision still stands.
        if (!(error instanceof ExceptionError) || !/no open exception/.test(error.message)) throw error;
        await simply({ outcome: 'the exception had already ended; nothing to revoke' });
      }
      return;
    }
    case 'idp-membership':
      return writePath.run(actor, async (context) => {
        const outcome = await patchGroup(context, item.groupId!, { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: `members[value eq "${item.userId!}"]` }] }, {});
        const removed = outcome.changed;
        await record(context, {
          outcome: removed ? `removed from ${String(item.details.group)}; remove it in the IdP too, or its next push adds it again` : `no longer a member of ${String(item.details.group)}`,
        });
      });
    case 'orphan':
      try {
        await deprovisionOrphan(writePath, connectors, item.ledgerId!, 'disable', actor, `access review: ${reason}`);
      } catch (error) {
        if (error instanceof LedgerError) throw new ReviewError(error.status, error.message);
        throw error;
      }
      return simply({ outcome: `disabled on ${String(item.details.connector)}` });
    case 'drift': {
      const type = item.details.resourceType === 'Group' ? 'Group' : 'User';
      const resourceId = typeof item.details.resourceId === 'string' ? item.details.resourceId : undefined;
      // An entry naming the object makes the outbox queue its sync, which repairs the drift.
      return simply({ outcome: `repair queued: ${String(item.details.connector)} is brought back to Roster's state`, entry: resourceId ? { resourceType: type, resourceId } : {} });
    }
  }
}

async function shortenException(writePath: WritePath, actor: Actor, item: ReviewItem, until: Date, record: Recorder): Promise<void> {
  await writePath.run(actor, async (context) => {
    const policy = await appliedPolicy(context.tx);
    if (!policy) throw new ReviewError(409, 'No policy is applied');
    const moved = (await context.tx('policy_exceptions').where({ id: item.exceptionId! }).whereNull('ended_at').where('expires_at', '>', until).update({ expires_at: until }).returning('id')) as unknown[];
    if (moved.length === 0) throw new ReviewError(409, `The exception of ${item.label} has ended or ends before ${until.toISOString()} already; revoke or keep instead`);
    context.changes.record({
      action: 'exception.shorten',
      resourceType: 'User',
      resourceId: item.userId!,
      reason: { exception: item.exceptionId, group: item.details.group, until: until.toISOString(), before: item.details.expiresAt, shortenedBy: actor.name },
    });
    // Re-evaluating plans the re-evaluation at the new expiry, where the membership ends.
    await reconcileUserById(context, policy, item.userId!);
    await record(context, { outcome: `shortened: ends ${until.toISOString()}` });
  });
}
