/**
 * Exceptions: a managed group given to one user outside the rules, with a mandatory reason and an
 * expiry (default 90 days, at most a year), revoked when it expires (a queued re-evaluation) or by
 * `roster revoke`. Granting and revoking go through the write path, so the membership change and
 * its journal entries commit together.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Actor } from '../journal/entry.js';
import type { ChangeContext, WriteContext, WritePath } from '../write/write-path.js';
import { findUserIdByName } from './explain.js';
import { groupsByName } from './managed-groups.js';
import { appliedPolicy } from './policy-state.js';
import { reconcileUserById } from './reconcile-user.js';
import { OperatorError } from '../lib/operator-error.js';

export const DEFAULT_EXCEPTION_DAYS = 90;
export const MAX_EXCEPTION_DAYS = 366;

export class ExceptionError extends OperatorError {
  override name = 'ExceptionError';
}

async function resolve(writePath: WritePath, userName: string, groupName: string) {
  const userId = await findUserIdByName(writePath.db, userName);
  if (!userId) throw new ExceptionError(`No user with userName "${userName}"`);
  const group = (await groupsByName(writePath.db, [groupName])).get(groupName.toLowerCase());
  if (!group) throw new ExceptionError(`No group named "${groupName}"`);
  if (group.managedBy === null) throw new ExceptionError(`Group "${group.name}" is not managed by the policy; exceptions are for managed groups (IdP groups are changed in the IdP)`);
  return { userId, group };
}

export interface GrantOptions {
  reason: string;
  until?: Date;
  actor: Actor;
  now?: Date;
}

export async function grantException(writePath: WritePath, userName: string, groupName: string, options: GrantOptions): Promise<{ id: string; expiresAt: Date; added: boolean }> {
  const reason = options.reason.trim();
  if (reason.length < 3) throw new ExceptionError('--reason is required: say why this person needs the group, e.g. --reason "covering payroll in March (TICKET-123)"');
  const now = options.now ?? new Date();
  const expiresAt = options.until ?? new Date(now.getTime() + DEFAULT_EXCEPTION_DAYS * 86_400_000);
  if (expiresAt.getTime() <= now.getTime()) throw new ExceptionError(`--until ${expiresAt.toISOString()} is in the past`);
  if (expiresAt.getTime() > now.getTime() + MAX_EXCEPTION_DAYS * 86_400_000) throw new ExceptionError(`--until is more than ${MAX_EXCEPTION_DAYS} days away; exceptions are temporary, put lasting access in the policy`);
  const { userId, group } = await resolve(writePath, userName, groupName);
  const outcome = await writePath.run(options.actor, async (context) => {
    const policy = await appliedPolicy(context.tx);
    if (!policy) throw new ExceptionError('No policy is applied; apply one first (npm run roster -- policy apply)');
    await context.tx('users').select('id').where({ id: userId }).forNoKeyUpdate();
    const id = await recordException(context, { userId, group, reason, expiresAt, grantedBy: options.actor.name });
    return { id, reconciled: await reconcileUserById(context, policy, userId) };
  });
  return { id: outcome.id, expiresAt, added: (outcome.reconciled?.added.length ?? 0) > 0 };
}

export interface ExceptionToRecord {
  userId: string;
  group: { id: string; name: string };
  reason: string;
  expiresAt: Date;
  grantedBy: string;
  /** The access request whose approval this is (src/governance/), if any. */
  accessRequest?: number;
}

/**
 * Records an exception and its journal entry in the caller's write-path transaction, the user row
 * locked; the caller reconciles the user afterwards (once for several groups). A new grant replaces
 * an open one for the same group (extending or shortening it).
 */
export async function recordException(context: ChangeContext, grant: ExceptionToRecord): Promise<string> {
  const id = randomUUID();
  const { userId, group, reason, expiresAt, grantedBy } = grant;
  await context.tx('policy_exceptions').where({ user_id: userId, group_id: group.id }).whereNull('ended_at').update({ ended_at: context.tx.fn.now(), ended_by: 'replaced' });
  await context.tx('policy_exceptions').insert({ id, user_id: userId, group_id: group.id, reason, granted_by: grantedBy, expires_at: expiresAt, request_id: grant.accessRequest ?? null });
  context.changes.record({
    action: 'exception.grant',
    resourceType: 'User',
    resourceId: userId,
    reason: { exception: id, group: group.name, reason, until: expiresAt.toISOString(), grantedBy, ...(grant.accessRequest !== undefined ? { accessRequest: grant.accessRequest } : {}) },
  });
  return id;
}

/**
 * `alsoWithin` runs in the revocation's transaction (an access review records its decision there,
 * so the decision and the revocation commit or fail together).
 */
export async function revokeException(
  writePath: WritePath,
  userName: string,
  groupName: string,
  actor: Actor,
  alsoWithin?: (context: WriteContext) => Promise<void>,
): Promise<{ removed: boolean }> {
  const { userId, group } = await resolve(writePath, userName, groupName);
  const outcome = await writePath.run(actor, async (context) => {
    const policy = await appliedPolicy(context.tx);
    if (!policy) throw new ExceptionError('No policy is applied');
    await context.tx('users').select('id').where({ id: userId }).forNoKeyUpdate();
    const ended = (await context.tx('policy_exceptions')
      .where({ user_id: userId, group_id: group.id })
      .whereNull('ended_at')
      .update({ ended_at: context.tx.fn.now(), ended_by: actor.name })
      .returning('id')) as Array<{ id: string }>;
    if (ended.length === 0) throw new ExceptionError(`${userName} has no open exception for "${group.name}"; see: npm run roster -- explain ${userName}`);
    context.changes.record({ action: 'exception.revoke', resourceType: 'User', resourceId: userId, reason: { exception: ended[0]!.id, group: group.name, revokedBy: actor.name } });
    await alsoWithin?.(context);
    return reconcileUserById(context, policy, userId);
  });
  return { removed: (outcome?.removed.length ?? 0) > 0 };
}

/** Exceptions in force now: not revoked and not yet expired. */
export async function countActiveExceptions(db: Knex): Promise<number> {
  const { rows } = (await db.raw(`SELECT count(*)::int AS n FROM policy_exceptions WHERE ended_at IS NULL AND expires_at > now()`)) as { rows: Array<{ n: number }> };
  return rows[0]?.n ?? 0;
}
