/**
 * Brings one user's roles and managed group memberships in line with the policy, inside the
 * caller's write-path transaction: the policy hook (every user create, change, deactivation or
 * delete), the re-evaluation job (a date arrived), `policy apply`, and exception grants all come
 * here, so a joiner, mover or leaver takes effect in the same transaction as the HR change.
 *
 * Each membership granted or revoked is journaled on its group (`members.add` / `members.remove`,
 * like any membership change, so outbound sync sees it) with the reason: the rules, the policy
 * version and the attribute values that made them match or stop matching. Writes happen only
 * when something differs; groups are touched in id order so concurrent transactions cannot deadlock.
 */
import path from 'node:path';
import { createGroup } from '../resources/groups.js';
import { GROUP_SCHEMA } from '../scim/schema/urns.js';
import type { ChangeContext } from '../write/write-path.js';
import { bumpCheckingRemembered, forgetGroupIds, rememberedGroupIds, rememberGroupIds, type GroupRef } from './managed-group-ids.js';
import { groupsByName } from './managed-groups.js';
import type { Policy } from './policy-file.js';
import { decideReconciliation, planUser, type ReconcileOutcome, type UserToReconcile } from './reconcile-decide.js';
import { bumpGroupVersions, mergeWrites, writeReconciliation } from './reconcile-writes.js';
import { loadUserPolicyStates } from './user-state.js';

export type { ReconcileOutcome, UserToReconcile };

/** Creates (or takes over) a group the policy names but the database lacks, e.g. after a restore. */
async function managedGroupIds(context: ChangeContext, policy: Policy, names: string[]): Promise<Map<string, GroupRef>> {
  const found = await groupsByName(context.tx, names);
  const ids = new Map<string, GroupRef>();
  for (const key of names) {
    let group = found.get(key);
    if (!group) {
      // The policy's own writes pass no guards: the managed-group guard is for SCIM clients.
      const row = await createGroup({ ...context, guards: {} }, { schemas: [GROUP_SCHEMA], displayName: policy.groups.get(key) ?? key });
      group = { id: row.id, name: String(row.resource.displayName), managedBy: null };
    }
    if (group.managedBy === null) await context.tx('groups').where({ id: group.id }).update({ managed_by: path.basename(policy.sourceName) });
    ids.set(key, { id: group.id, name: group.name });
  }
  return ids;
}

/**
 * Reconciles several users in the caller's transaction (the policy hook after a batch of writes,
 * e.g. an HR import): decided in memory (reconcile-decide.ts), then written set-wise
 * (reconcile-writes.ts), with one version bump per group touched, in group-id order.
 */
export async function reconcileUsers(
  context: ChangeContext,
  policy: Policy,
  users: readonly UserToReconcile[],
  now: Date = new Date(),
  options: { deferWrites?: boolean } = {},
): Promise<ReconcileOutcome[]> {
  const [outcomes] = await reconcileChanges(context.tx, policy, [{ context, users }], now, options);
  return outcomes!;
}

/** The users one change wrote, and that change's context (its change set gets their entries). */
export interface ChangeToReconcile {
  context: ChangeContext;
  users: readonly UserToReconcile[];
}

/**
 * Reconciles the users of several changes of one transaction at once (the changes of a shared
 * commit, decision 0708): each change's entries are decided apart and recorded on its own change
 * set, as if it had been reconciled alone, while the groups are bumped and the rows written once
 * for all of them. The changes' users must be distinct: each user's state was read before any of
 * these writes. One outcome list per change, in order.
 */
export async function reconcileChanges(
  tx: ChangeContext['tx'],
  policy: Policy,
  changes: readonly ChangeToReconcile[],
  now: Date = new Date(),
  options: { deferWrites?: boolean } = {},
): Promise<ReconcileOutcome[][]> {
  const rolesByName = new Map(policy.roles.map((r) => [r.name, r]));
  const plans = changes.map((change) => change.users.map((user) => planUser(policy, rolesByName, user, now)));
  const allAdds = [...new Set(plans.flat().flatMap((p) => p.toAdd))];
  const decideAll = (ids: ReadonlyMap<string, GroupRef>) => plans.map((changePlans) => decideReconciliation(policy, changePlans, ids));
  const touchedBy = (decided: ReadonlyArray<ReturnType<typeof decideReconciliation>>) => new Set(decided.flatMap((d) => [...d.writes.touchedGroups]));

  // The groups' ids as remembered for this policy version (managed-group-ids.ts, decision 0702):
  // the version bump that locks them also checks the guess, so a joiner costs no lookup by name.
  // Only a guess that failed its check (a restore, say) is looked up again; groups it bumped
  // already are not bumped twice.
  let bumped = new Set<string>();
  const remembered = allAdds.length ? rememberedGroupIds(policy.version, allAdds) : new Map<string, GroupRef>();
  if (remembered) {
    const decided = decideAll(remembered);
    const check = await bumpCheckingRemembered(tx, touchedBy(decided), remembered);
    if (check.holds) return record(tx, changes, policy, plans, decided, options);
    forgetGroupIds();
    bumped = check.bumped;
  }
  // A group the policy names but the database lacks is created under the first change.
  const addIds = allAdds.length ? await managedGroupIds(changes[0]!.context, policy, allAdds) : new Map<string, GroupRef>();
  rememberGroupIds(policy.version, addIds);
  const decided = decideAll(addIds);
  await bumpGroupVersions(tx, new Set([...touchedBy(decided)].filter((id) => !bumped.has(id))));
  return record(tx, changes, policy, plans, decided, options);
}

/** Journals what was decided, each change on its own change set, and writes it all at once (the group versions are bumped already). */
async function record(
  tx: ChangeContext['tx'],
  changes: readonly ChangeToReconcile[],
  policy: Policy,
  plans: ReadonlyArray<ReadonlyArray<ReturnType<typeof planUser>>>,
  decided: ReadonlyArray<ReturnType<typeof decideReconciliation>>,
  options: { deferWrites?: boolean },
): Promise<ReconcileOutcome[][]> {
  decided.forEach(({ entries }, i) => {
    for (const entry of entries) changes[i]!.context.changes.record(entry);
  });
  const writes = mergeWrites(decided.map((d) => d.writes));

  // The other writes. Deferred (the policy hook): sent now, awaited by the write path, so
  // PostgreSQL runs them while Node prepares the journal. Safe because the locks they wait for are
  // per user (membership, role, exception and job rows of users this transaction has locked
  // already) and the group locks are taken above: a large journal append, which locks the chain
  // head until commit, can no longer come before a lock another writer holds.
  if (options.deferWrites) changes.at(-1)!.context.changes.defer(writeReconciliation(tx, policy, writes));
  else await writeReconciliation(tx, policy, writes);

  return plans.map((changePlans) => changePlans.map((p) => ({ added: p.toAdd, removed: p.toRemove, rolesAdded: p.rolesAdded, rolesRemoved: p.rolesRemoved })));
}

/**
 * Locks the users (in id order) and reconciles each as if alone, one journal entry per user and
 * change, with one state read, one version bump and one write for all of them (`policy apply`'s
 * batches: these were five round trips per user). One outcome per user found, in id order.
 */
export async function reconcileUsersById(context: ChangeContext, policy: Policy, userIds: readonly string[], now: Date = new Date()): Promise<ReconcileOutcome[]> {
  const { rows } = (await context.tx.raw(`SELECT id::text AS id, resource FROM users WHERE id = ANY(?::uuid[]) ORDER BY id FOR NO KEY UPDATE`, [[...userIds]])) as {
    rows: Array<{ id: string; resource: Record<string, unknown> }>;
  };
  if (rows.length === 0) return [];
  const states = await loadUserPolicyStates(context.tx, rows.map((row) => row.id));
  const changes = rows.map((row) => ({ context, users: [{ userId: row.id, document: row.resource, state: states.users.get(row.id)! }] }));
  return (await reconcileChanges(context.tx, policy, changes, now)).flat();
}

/** Locks the user and reconciles it (re-evaluation jobs, grants, requests, reviews); undefined when there is no such user. */
export async function reconcileUserById(context: ChangeContext, policy: Policy, userId: string, now?: Date): Promise<ReconcileOutcome | undefined> {
  const [outcome] = await reconcileUsersById(context, policy, [userId], now);
  return outcome;
}
