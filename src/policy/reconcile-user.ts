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
import type { JournalEntryInput } from '../journal/entry.js';
import { createGroup } from '../resources/groups.js';
import { GROUP_SCHEMA } from '../scim/schema/urns.js';
import { bumpVersion } from '../store/resource-store.js';
import type { WriteContext } from '../write/write-path.js';
import { attributeEvidence, evaluatePolicy, type Evaluation } from './evaluate.js';
import { groupsByName } from './managed-groups.js';
import type { Policy, Role } from './policy-file.js';
import { scheduleReevaluations } from './schedule.js';
import { loadUserPolicyState, type OpenException, type UserPolicyState } from './user-state.js';

export interface ReconcileOutcome {
  added: string[];
  removed: string[];
  rolesAdded: string[];
  rolesRemoved: string[];
}

const isActive = (document: Record<string, unknown> | undefined) => document !== undefined && document.active !== false;

function exceptionEvidence(e: OpenException) {
  return { exception: e.id, reason: e.reason, until: e.expiresAt.toISOString() };
}

/** Creates (or takes over) a group the policy names but the database lacks, e.g. after a restore. */
async function managedGroupIds(context: WriteContext, policy: Policy, names: string[]): Promise<Map<string, { id: string; name: string }>> {
  const found = await groupsByName(context.tx, names);
  const ids = new Map<string, { id: string; name: string }>();
  for (const key of names) {
    let group = found.get(key);
    if (!group) {
      const row = await createGroup(context, { schemas: [GROUP_SCHEMA], displayName: policy.groups.get(key) ?? key });
      group = { id: row.id, name: String(row.resource.displayName), managedBy: null };
    }
    if (group.managedBy === null) await context.tx('groups').where({ id: group.id }).update({ managed_by: path.basename(policy.sourceName) });
    ids.set(key, { id: group.id, name: group.name });
  }
  return ids;
}

/**
 * Reconciles user `userId`. `document` is the user as stored now (undefined once deleted); `state`
 * may be passed when the caller already loaded it.
 */
export async function reconcileUser(
  context: WriteContext,
  policy: Policy,
  userId: string,
  document: Record<string, unknown> | undefined,
  loaded?: UserPolicyState,
  now: Date = new Date(),
): Promise<ReconcileOutcome> {
  const state = loaded ?? (await loadUserPolicyState(context.tx, userId));
  const [outcome] = await reconcileUsers(context, policy, [{ userId, document, state }], now);
  return outcome!;
}

export interface UserToReconcile {
  userId: string;
  document: Record<string, unknown> | undefined;
  state: UserPolicyState;
}

/** What one user needs, decided in memory before anything is written. */
interface UserPlan {
  user: UserToReconcile;
  evaluation: Evaluation;
  active: boolean;
  userName: string | undefined;
  base: Record<string, unknown>;
  desired: Map<string, { roles: Role[]; exceptions: OpenException[] }>;
  expired: OpenException[];
  toAdd: string[];
  toRemove: string[];
  rolesAdded: string[];
  rolesRemoved: string[];
  arisen: Evaluation['violations'];
  resolved: string[];
  next: number;
}

function planUser(policy: Policy, rolesByName: ReadonlyMap<string, Role>, user: UserToReconcile, now: Date): UserPlan {
  const { document, state } = user;
  const evaluation = evaluatePolicy(policy, document, state.roles, now);
  const active = isActive(document);
  const userName = typeof document?.userName === 'string' ? document.userName : undefined;

  // Exceptions: expired ones end now; open ones grant their (managed) group while the user is active.
  const expired = state.exceptions.filter((e) => e.expiresAt.getTime() <= now.getTime());
  const open = state.exceptions.filter((e) => e.expiresAt.getTime() > now.getTime());

  // Desired managed groups, each with what grants it.
  const desired = new Map<string, { roles: Role[]; exceptions: OpenException[] }>();
  const want = (key: string) => desired.get(key) ?? desired.set(key, { roles: [], exceptions: [] }).get(key)!;
  for (const name of evaluation.roles) {
    const role = rolesByName.get(name)!;
    for (const group of role.groups) want(group.toLowerCase()).roles.push(role);
  }
  if (active) for (const e of open) if (policy.groups.has(e.groupName.toLowerCase())) want(e.groupName.toLowerCase()).exceptions.push(e);

  // Separation-of-duties violations that arise or end (only while the user exists).
  const current = new Set(evaluation.violations.map((v) => v.conflict));
  const nextException = active ? Math.min(...open.map((e) => e.expiresAt.getTime())) : Infinity;
  return {
    user,
    evaluation,
    active,
    userName,
    base: { cause: 'policy', policyVersion: policy.version, policyFile: path.basename(policy.sourceName), ...(userName ? { userName } : {}) },
    desired,
    expired,
    toAdd: [...desired.keys()].filter((key) => !state.memberships.has(key)),
    toRemove: [...state.memberships.keys()].filter((key) => !desired.has(key)),
    rolesAdded: evaluation.roles.filter((r) => !state.roles.has(r)),
    rolesRemoved: [...state.roles.keys()].filter((r) => !evaluation.roles.includes(r)),
    arisen: document ? evaluation.violations.filter((v) => !state.violations.has(v.conflict)) : [],
    resolved: document ? [...state.violations].filter((c) => !current.has(c)) : [],
    next: Math.min(evaluation.nextCheck?.getTime() ?? Infinity, nextException),
  };
}

/**
 * Reconciles several users in the caller's transaction (the policy hook after a batch of writes,
 * e.g. an HR import). The decisions and journal entries are exactly those of reconciling each user
 * in turn; the writes are set-wise: one statement per kind of change for all users, and one
 * version bump per group touched, in group-id order.
 */
export async function reconcileUsers(
  context: WriteContext,
  policy: Policy,
  users: readonly UserToReconcile[],
  now: Date = new Date(),
  options: { deferWrites?: boolean } = {},
): Promise<ReconcileOutcome[]> {
  const { tx } = context;
  const rolesByName = new Map(policy.roles.map((r) => [r.name, r]));
  const plans = users.map((user) => planUser(policy, rolesByName, user, now));
  const policyBase = { cause: 'policy', policyVersion: policy.version, policyFile: path.basename(policy.sourceName) };

  const allAdds = [...new Set(plans.flatMap((p) => p.toAdd))];
  const addIds = allAdds.length ? await managedGroupIds(context, policy, allAdds) : new Map<string, { id: string; name: string }>();

  const memberAdds: Array<{ groupId: string; userId: string }> = [];
  const memberRemoves: Array<{ groupId: string; userId: string }> = [];
  const roleDeletes: Array<{ userId: string; role: string }> = [];
  const roleInserts: Array<{ user_id: string; role: string; policy_version: string }> = [];
  const expiredIds: string[] = [];
  const violationInserts: Array<{ user_id: string; conflict: string; policy_version: string }> = [];
  const violationDeletes: Array<{ userId: string; conflict: string }> = [];
  const schedules: Array<{ userId: string; at: Date }> = [];
  const touchedGroups = new Set<string>();
  const entries: JournalEntryInput[] = [];

  // One entry per group and direction for the whole call, listing each member with its own reason:
  // a batch (an HR import's 250 joiners) journals the groups it changed, not every membership.
  const groupEntries = new Map<string, { id: string; add: boolean; name: string; members: Array<{ value: string; type: 'User' }>; reasons: Array<Record<string, unknown>> }>();
  const groupEntry = (id: string, name: string, add: boolean) => {
    const key = `${id} ${add ? '+' : '-'}`;
    return groupEntries.get(key) ?? groupEntries.set(key, { id, add, name, members: [], reasons: [] }).get(key)!;
  };
  for (const plan of plans) {
    const { user, desired, expired, active, userName } = plan;
    const { userId, document, state } = user;
    const member = { value: userId, ...(userName ? { userName } : {}) };
    for (const key of plan.toAdd) {
      const { id, name } = addIds.get(key)!;
      memberAdds.push({ groupId: id, userId });
      const grant = desired.get(key)!;
      const entry = groupEntry(id, name, true);
      entry.members.push({ value: userId, type: 'User' });
      entry.reasons.push({
        ...member,
        grants: [...grant.roles.map((role) => ({ role: role.name, when: role.when, attributes: attributeEvidence(role, document) })), ...grant.exceptions.map(exceptionEvidence)],
      });
    }
    for (const key of plan.toRemove) {
      const { id, name } = state.memberships.get(key)!;
      memberRemoves.push({ groupId: id, userId });
      const formerRoles = [...state.roles.keys()].map((r) => rolesByName.get(r)).filter((r): r is Role => !!r && r.groups.some((g) => g.toLowerCase() === key));
      const why = !document ? 'user deleted' : !active ? 'user deactivated' : formerRoles.length ? 'rule no longer matches' : 'no rule or exception grants it';
      const lapsed = expired.filter((e) => e.groupName.toLowerCase() === key);
      const entry = groupEntry(id, name, false);
      entry.members.push({ value: userId, type: 'User' });
      entry.reasons.push({
        ...member,
        why,
        rules: formerRoles.map((role) => ({ role: role.name, when: role.when, attributes: attributeEvidence(role, document) })),
        ...(lapsed.length ? { exceptionsExpired: lapsed.map(exceptionEvidence) } : {}),
      });
    }
  }
  // In group-id order (the order the rows are locked in), additions before removals.
  for (const entry of [...groupEntries.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : Number(b.add) - Number(a.add)))) {
    touchedGroups.add(entry.id);
    entries.push({
      action: entry.add ? 'members.add' : 'members.remove',
      resourceType: 'Group',
      resourceId: entry.id,
      resourceName: entry.name,
      changes: entry.add ? { membersAdded: entry.members } : { membersRemoved: entry.members },
      reason: { ...policyBase, ...(entry.add ? {} : { group: entry.name }), members: entry.reasons },
    });
  }

  // Roles held, for conflicts ("first granted") and explanations ("since"). One user's change is
  // an entry on that user; a batch's changes are one entry listing each user (memberIds name them).
  const roleChanges: Array<{ value: string; userName?: string; rolesAdded?: string[]; rolesRemoved?: string[] }> = [];
  for (const plan of plans) {
    const { userId, document } = plan.user;
    for (const role of plan.rolesRemoved) roleDeletes.push({ userId, role });
    for (const role of plan.rolesAdded) roleInserts.push({ user_id: userId, role, policy_version: policy.version });
    if (document && (plan.rolesAdded.length || plan.rolesRemoved.length)) {
      roleChanges.push({
        value: userId,
        ...(plan.userName ? { userName: plan.userName } : {}),
        ...(plan.rolesAdded.length ? { rolesAdded: plan.rolesAdded } : {}),
        ...(plan.rolesRemoved.length ? { rolesRemoved: plan.rolesRemoved } : {}),
      });
    }
  }
  if (roleChanges.length === 1) {
    const [{ value, userName, ...change }] = roleChanges as [(typeof roleChanges)[number]];
    entries.push({ action: 'roles.update', resourceType: 'User', resourceId: value, resourceName: userName, changes: change, reason: plans.find((p) => p.user.userId === value)!.base });
  } else if (roleChanges.length > 1) {
    entries.push({ action: 'roles.update', resourceType: 'User', changes: { users: roleChanges }, reason: policyBase });
  }

  for (const plan of plans) {
    const { user, base, expired } = plan;
    const { userId, document } = user;

    if (expired.length) {
      expiredIds.push(...expired.map((e) => e.id));
      if (document) entries.push({ action: 'exception.expired', resourceType: 'User', resourceId: userId, reason: { ...base, exceptions: expired.map((e) => ({ ...exceptionEvidence(e), group: e.groupName })) } });
    }

    recordViolations(policy, plan, entries, violationInserts, violationDeletes);

    if (document && Number.isFinite(plan.next)) schedules.push({ userId, at: new Date(plan.next) });
  }

  for (const entry of entries) context.changes.record(entry);

  // Every group whose members changed gets a new version, once; rows locked in id order. FOR NO
  // KEY UPDATE, the lock the UPDATE itself takes: FOR UPDATE would also conflict with the KEY SHARE
  // locks that another transaction's group_members inserts hold on the same groups (foreign key),
  // and two such transactions deadlocked (concurrent movers: test/policy-lifecycle.test.ts).
  if (touchedGroups.size === 1) await bumpVersion(tx, 'Group', [...touchedGroups][0]!);
  else if (touchedGroups.size > 1) {
    await tx.raw(
      `UPDATE groups SET version = version + 1, updated_at = date_trunc('milliseconds', now())
        WHERE id IN (SELECT id FROM groups WHERE id = ANY(?::uuid[]) ORDER BY id FOR NO KEY UPDATE)`,
      [[...touchedGroups].sort()],
    );
  }

  // The other writes, set-wise, in this order. Deferred (the policy hook): sent now, awaited by the
  // write path, so PostgreSQL runs them while Node prepares the journal. Safe because the locks
  // they wait for are per user (membership, role, exception and job rows of users this transaction
  // has locked already) and the group locks are taken above: a large journal append, which locks
  // the chain head until commit, can no longer come before a lock another writer holds.
  const write = async () => {
    if (memberAdds.length) {
      await tx.raw(
        `INSERT INTO group_members (group_id, member_id, member_type)
         SELECT m.group_id, m.member_id, 'User' FROM unnest(?::uuid[], ?::uuid[]) AS m(group_id, member_id)
         ON CONFLICT (group_id, member_id) DO NOTHING`,
        [memberAdds.map((m) => m.groupId), memberAdds.map((m) => m.userId)],
      );
    }
    if (memberRemoves.length) {
      await tx.raw(
        `DELETE FROM group_members gm USING unnest(?::uuid[], ?::uuid[]) AS m(group_id, member_id)
         WHERE gm.group_id = m.group_id AND gm.member_id = m.member_id`,
        [memberRemoves.map((m) => m.groupId), memberRemoves.map((m) => m.userId)],
      );
    }
    if (roleDeletes.length) {
      await tx.raw(`DELETE FROM policy_roles r USING unnest(?::uuid[], ?::text[]) AS d(user_id, role) WHERE r.user_id = d.user_id AND r.role = d.role`, [
        roleDeletes.map((d) => d.userId),
        roleDeletes.map((d) => d.role),
      ]);
    }
    if (roleInserts.length) {
      await tx.raw(
        `INSERT INTO policy_roles (user_id, role, policy_version) SELECT r.user_id, r.role, ? FROM unnest(?::uuid[], ?::text[]) AS r(user_id, role)
         ON CONFLICT (user_id, role) DO NOTHING`,
        [policy.version, roleInserts.map((r) => r.user_id), roleInserts.map((r) => r.role)],
      );
    }
    if (expiredIds.length) await tx('policy_exceptions').whereIn('id', expiredIds).update({ ended_at: tx.raw('expires_at'), ended_by: 'expiry' });
    if (violationInserts.length) await tx('policy_violations').insert(violationInserts).onConflict(['user_id', 'conflict']).ignore();
    if (violationDeletes.length) {
      await tx.raw(`DELETE FROM policy_violations v USING unnest(?::uuid[], ?::text[]) AS d(user_id, conflict) WHERE v.user_id = d.user_id AND v.conflict = d.conflict`, [
        violationDeletes.map((d) => d.userId),
        violationDeletes.map((d) => d.conflict),
      ]);
    }
    await scheduleReevaluations(tx, schedules);
  };
  if (options.deferWrites) context.changes.defer(write());
  else await write();

  return plans.map((p) => ({ added: p.toAdd, removed: p.toRemove, rolesAdded: p.rolesAdded, rolesRemoved: p.rolesRemoved }));
}

function recordViolations(
  policy: Policy,
  plan: UserPlan,
  entries: JournalEntryInput[],
  inserts: Array<{ user_id: string; conflict: string; policy_version: string }>,
  deletes: Array<{ userId: string; conflict: string }>,
): void {
  const { userId, document } = plan.user;
  if (!document) return;
  for (const v of plan.arisen) {
    inserts.push({ user_id: userId, conflict: v.conflict, policy_version: policy.version });
    const kept = v.dropped ? v.roles.find((r) => r !== v.dropped) : undefined;
    entries.push({
      action: 'policy.violation',
      resourceType: 'User',
      resourceId: userId,
      reason: {
        ...plan.base,
        conflict: v.roles,
        mode: policy.onConflict,
        ...(v.dropped ? { kept, notGranted: v.dropped } : { note: 'reported only: the user holds both roles' }),
        attributes: Object.assign({}, ...v.roles.map((name) => attributeEvidence(policy.roles.find((r) => r.name === name)!, document))),
      },
    });
  }
  for (const conflict of plan.resolved) {
    deletes.push({ userId, conflict });
    entries.push({ action: 'policy.violation.resolved', resourceType: 'User', resourceId: userId, reason: { ...plan.base, conflict: conflict.split('+') } });
  }
}

/** Locks the user and reconciles it (re-evaluation jobs, apply, grants). */
export async function reconcileUserById(context: WriteContext, policy: Policy, userId: string, now?: Date): Promise<ReconcileOutcome | undefined> {
  const row = (await context.tx('users').select('resource').where({ id: userId }).forNoKeyUpdate().first()) as { resource: Record<string, unknown> } | undefined;
  if (!row) return undefined;
  return reconcileUser(context, policy, userId, row.resource, undefined, now);
}
