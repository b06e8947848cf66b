/**
 * `policy apply`: makes a policy the one in force and brings every affected user in line, in
 * batches of write-path transactions, journaled with the new version. It refuses when more users
 * would lose access than `maxRevoke` allows (default 10% of all users), unless forced, so an empty
 * or broken file cannot wipe access. Applying the same file twice changes nothing: the plan finds
 * no differences, and nothing is written or journaled.
 */
import type { Actor } from '../journal/entry.js';
import type { WritePath } from '../write/write-path.js';
import { ensureManagedGroups, releaseUnnamedGroups } from './managed-groups.js';
import type { Policy } from './policy-file.js';
import { appliedPolicyRow, storeAppliedPolicy } from './policy-state.js';
import { computePlan, usersToReconcile, type Plan } from './plan.js';
import { reconcileUsersById } from './reconcile-user.js';
import { OperatorError } from '../lib/operator-error.js';

export const DEFAULT_MAX_REVOKE_SHARE = 0.1;

export class MassRevokeError extends OperatorError {
  override name = 'MassRevokeError';
  constructor(
    readonly plan: Plan,
    readonly limit: number,
  ) {
    super(
      `Refusing to apply ${plan.policyFile} (version ${plan.policyVersion}): ${plan.usersLosingAccess} of ${plan.totalUsers} users would lose access, ` +
        `more than the limit of ${limit}. Review the effect with "npm run roster -- policy plan --file ${plan.policyFile}", ` +
        'then apply with a higher --max-revoke, or with --force if the revocations are intended.',
    );
  }
}

export interface ApplyOptions {
  actor: Actor;
  /** Most users allowed to lose access; default 10% of all users (rounded down). */
  maxRevoke?: number;
  force?: boolean;
  /** Why the person applies it, in their words (the console asks for one); kept in the policy.apply entry. */
  statedReason?: string;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface ApplyResult {
  plan: Plan;
  /** Users brought in line (0 when the policy was already in force everywhere). */
  reconciled: number;
  versionChanged: boolean;
}

export function revokeLimit(totalUsers: number, maxRevoke: number | undefined): number {
  return maxRevoke ?? Math.floor(totalUsers * DEFAULT_MAX_REVOKE_SHARE);
}

export async function applyPolicy(writePath: WritePath, policy: Policy, options: ApplyOptions): Promise<ApplyResult> {
  const { actor } = options;
  const plan = await computePlan(writePath.db, policy);
  const limit = revokeLimit(plan.totalUsers, options.maxRevoke);
  if (!options.force && plan.usersLosingAccess > limit) throw new MassRevokeError(plan, limit);

  await ensureManagedGroups(writePath, policy, actor);
  const applied = await appliedPolicyRow(writePath.db);
  const versionChanged = applied?.version !== policy.version;
  if (versionChanged) {
    await writePath.run(actor, async ({ tx, changes }) => {
      await storeAppliedPolicy(tx, policy, actor.name);
      changes.record({
        action: 'policy.apply',
        reason: {
          policyVersion: policy.version,
          previousVersion: applied?.version ?? null,
          policyFile: policy.sourceName,
          usersChanging: plan.usersChanging,
          usersLosingAccess: plan.usersLosingAccess,
          forced: options.force === true && plan.usersLosingAccess > limit,
          ...(options.statedReason ? { statedReason: options.statedReason } : {}),
        },
      });
    });
  }

  // Only users the set-wise plan says differ are touched; each batch is one transaction.
  const users = await usersToReconcile(writePath.db, policy);
  const batchSize = options.batchSize ?? 500;
  for (let i = 0; i < users.length; i += batchSize) {
    const batch = users.slice(i, i + batchSize);
    // The batch is locked in id order first, so a concurrent SCIM write cannot deadlock with us.
    await writePath.run(actor, (context) => reconcileUsersById(context, policy, batch));
    options.onProgress?.(Math.min(i + batchSize, users.length), users.length);
  }
  await releaseUnnamedGroups(writePath, policy, actor);
  return { plan, reconciled: users.length, versionChanged };
}
