/**
 * What reconciling a batch of users decides, in memory (src/policy/reconcile-user.ts runs it): the
 * journal entries, exactly those of reconciling each user in turn, and the rows to write, set-wise
 * (src/policy/reconcile-writes.ts writes them). Nothing here reads or writes the database.
 */
import path from 'node:path';
import type { JournalEntryInput } from '../journal/entry.js';
import type { UserMembership } from '../store/member-store.js';
import { attributeEvidence, evaluatePolicy, type Evaluation } from './evaluate.js';
import type { Policy, Role } from './policy-file.js';
import type { OpenException, UserPolicyState } from './user-state.js';

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

export interface UserToReconcile {
  userId: string;
  document: Record<string, unknown> | undefined;
  state: UserPolicyState;
}

/** What one user needs, decided in memory before anything is written. */
export interface UserPlan {
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

export function planUser(policy: Policy, rolesByName: ReadonlyMap<string, Role>, user: UserToReconcile, now: Date): UserPlan {
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

/** The rows a reconciliation writes, each kind in one statement. */
export interface ReconcileWrites {
  memberAdds: UserMembership[];
  memberRemoves: UserMembership[];
  roleDeletes: Array<{ userId: string; role: string }>;
  roleInserts: Array<{ user_id: string; role: string; policy_version: string }>;
  expiredIds: string[];
  violationInserts: Array<{ user_id: string; conflict: string; policy_version: string }>;
  violationDeletes: Array<{ userId: string; conflict: string }>;
  schedules: Array<{ userId: string; at: Date }>;
  /** Groups whose members change: each gets one new version. */
  touchedGroups: Set<string>;
}

/**
 * The entries and writes for `plans`, given the ids of the managed groups they add users to
 * (`addIds`, keyed by lower-case group name; created beforehand where missing).
 */
export function decideReconciliation(
  policy: Policy,
  plans: readonly UserPlan[],
  addIds: ReadonlyMap<string, { id: string; name: string }>,
): { entries: JournalEntryInput[]; writes: ReconcileWrites } {
  const rolesByName = new Map(policy.roles.map((r) => [r.name, r]));
  const policyBase = { cause: 'policy', policyVersion: policy.version, policyFile: path.basename(policy.sourceName) };
  const memberAdds: UserMembership[] = [];
  const memberRemoves: UserMembership[] = [];
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

  return { entries, writes: { memberAdds, memberRemoves, roleDeletes, roleInserts, expiredIds, violationInserts, violationDeletes, schedules, touchedGroups } };
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
