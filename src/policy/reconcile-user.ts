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
import { addMembers, removeMembers } from '../store/member-store.js';
import { bumpVersion } from '../store/resource-store.js';
import type { WriteContext } from '../write/write-path.js';
import { attributeEvidence, evaluatePolicy, type Evaluation } from './evaluate.js';
import { groupsByName } from './managed-groups.js';
import type { Policy, Role } from './policy-file.js';
import { scheduleReevaluation } from './schedule.js';
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
async function managedGroupIds(context: WriteContext, policy: Policy, names: string[]): Promise<Map<string, string>> {
  const found = await groupsByName(context.tx, names);
  const ids = new Map<string, string>();
  for (const key of names) {
    let group = found.get(key);
    if (!group) {
      const row = await createGroup(context, { schemas: [GROUP_SCHEMA], displayName: policy.groups.get(key) ?? key });
      group = { id: row.id, name: String(row.resource.displayName), managed: false };
    }
    if (!group.managed) await context.tx('groups').where({ id: group.id }).update({ managed_by: path.basename(policy.sourceName) });
    ids.set(key, group.id);
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
  const { tx } = context;
  const state = loaded ?? (await loadUserPolicyState(tx, userId));
  const evaluation = evaluatePolicy(policy, document, state.roles, now);
  const active = isActive(document);
  const userName = typeof document?.userName === 'string' ? document.userName : undefined;

  // Exceptions: expired ones end now; open ones grant their (managed) group while the user is active.
  const expired = state.exceptions.filter((e) => e.expiresAt.getTime() <= now.getTime());
  const open = state.exceptions.filter((e) => e.expiresAt.getTime() > now.getTime());

  // Desired managed groups, each with what grants it.
  const rolesByName = new Map(policy.roles.map((r) => [r.name, r]));
  const desired = new Map<string, { roles: Role[]; exceptions: OpenException[] }>();
  const want = (key: string) => desired.get(key) ?? desired.set(key, { roles: [], exceptions: [] }).get(key)!;
  for (const name of evaluation.roles) {
    const role = rolesByName.get(name)!;
    for (const group of role.groups) want(group.toLowerCase()).roles.push(role);
  }
  if (active) for (const e of open) if (policy.groups.has(e.groupName.toLowerCase())) want(e.groupName.toLowerCase()).exceptions.push(e);

  const toAdd = [...desired.keys()].filter((key) => !state.memberships.has(key));
  const toRemove = [...state.memberships.keys()].filter((key) => !desired.has(key));
  const rolesAdded = evaluation.roles.filter((r) => !state.roles.has(r));
  const rolesRemoved = [...state.roles.keys()].filter((r) => !evaluation.roles.includes(r));

  const entries: JournalEntryInput[] = [];
  const base = { cause: 'policy', policyVersion: policy.version, policyFile: path.basename(policy.sourceName), ...(userName ? { userName } : {}) };

  // Memberships, in group-id order.
  const addIds = toAdd.length ? await managedGroupIds(context, policy, toAdd) : new Map<string, string>();
  const changes = [
    ...toAdd.map((key) => ({ key, id: addIds.get(key)!, add: true })),
    ...toRemove.map((key) => ({ key, id: state.memberships.get(key)!.id, add: false })),
  ].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const change of changes) {
    if (change.add) {
      await addMembers(tx, change.id, [{ value: userId, type: 'User' }]);
      const grant = desired.get(change.key)!;
      entries.push({
        action: 'members.add',
        resourceType: 'Group',
        resourceId: change.id,
        changes: { membersAdded: [{ value: userId, type: 'User' }] },
        reason: {
          ...base,
          grants: [
            ...grant.roles.map((role) => ({ role: role.name, when: role.when, attributes: attributeEvidence(role, document) })),
            ...grant.exceptions.map(exceptionEvidence),
          ],
        },
      });
    } else {
      await removeMembers(tx, change.id, [userId]);
      const name = state.memberships.get(change.key)!.name;
      const formerRoles = [...state.roles.keys()].map((r) => rolesByName.get(r)).filter((r): r is Role => !!r && r.groups.some((g) => g.toLowerCase() === change.key));
      const why = !document ? 'user deleted' : !active ? 'user deactivated' : formerRoles.length ? 'rule no longer matches' : 'no rule or exception grants it';
      entries.push({
        action: 'members.remove',
        resourceType: 'Group',
        resourceId: change.id,
        changes: { membersRemoved: [{ value: userId, type: 'User' }] },
        reason: {
          ...base,
          why,
          group: name,
          rules: formerRoles.map((role) => ({ role: role.name, when: role.when, attributes: attributeEvidence(role, document) })),
          ...(expired.some((e) => e.groupName.toLowerCase() === change.key) ? { exceptionsExpired: expired.filter((e) => e.groupName.toLowerCase() === change.key).map(exceptionEvidence) } : {}),
        },
      });
    }
    await bumpVersion(tx, 'Group', change.id);
  }

  // Roles held, for conflicts ("first granted") and explanations ("since").
  if (rolesRemoved.length) await tx('policy_roles').where({ user_id: userId }).whereIn('role', rolesRemoved).delete();
  if (rolesAdded.length) {
    await tx('policy_roles').insert(rolesAdded.map((role) => ({ user_id: userId, role, policy_version: policy.version }))).onConflict(['user_id', 'role']).ignore();
  }
  if (document && (rolesAdded.length || rolesRemoved.length)) {
    entries.push({
      action: 'roles.update',
      resourceType: 'User',
      resourceId: userId,
      changes: { ...(rolesAdded.length ? { rolesAdded } : {}), ...(rolesRemoved.length ? { rolesRemoved } : {}) },
      reason: base,
    });
  }

  if (expired.length) {
    await tx('policy_exceptions').whereIn('id', expired.map((e) => e.id)).update({ ended_at: tx.raw('expires_at'), ended_by: 'expiry' });
    if (document) entries.push({ action: 'exception.expired', resourceType: 'User', resourceId: userId, reason: { ...base, exceptions: expired.map((e) => ({ ...exceptionEvidence(e), group: e.groupName })) } });
  }

  await recordViolations(context, policy, userId, document, evaluation, state, entries, base);

  for (const entry of entries) context.changes.record(entry);

  const nextException = active ? Math.min(...open.map((e) => e.expiresAt.getTime())) : Infinity;
  const next = Math.min(evaluation.nextCheck?.getTime() ?? Infinity, nextException);
  if (document && Number.isFinite(next)) await scheduleReevaluation(tx, userId, new Date(next));

  return { added: toAdd, removed: toRemove, rolesAdded, rolesRemoved };
}

async function recordViolations(
  context: WriteContext,
  policy: Policy,
  userId: string,
  document: Record<string, unknown> | undefined,
  evaluation: Evaluation,
  state: UserPolicyState,
  entries: JournalEntryInput[],
  base: Record<string, unknown>,
): Promise<void> {
  if (!document) return;
  const current = new Set(evaluation.violations.map((v) => v.conflict));
  const arisen = evaluation.violations.filter((v) => !state.violations.has(v.conflict));
  const resolved = [...state.violations].filter((c) => !current.has(c));
  if (arisen.length) {
    await context.tx('policy_violations').insert(arisen.map((v) => ({ user_id: userId, conflict: v.conflict, policy_version: policy.version }))).onConflict(['user_id', 'conflict']).ignore();
    for (const v of arisen) {
      const kept = v.dropped ? v.roles.find((r) => r !== v.dropped) : undefined;
      entries.push({
        action: 'policy.violation',
        resourceType: 'User',
        resourceId: userId,
        reason: {
          ...base,
          conflict: v.roles,
          mode: policy.onConflict,
          ...(v.dropped ? { kept, notGranted: v.dropped } : { note: 'reported only: the user holds both roles' }),
          attributes: Object.assign({}, ...v.roles.map((name) => attributeEvidence(policy.roles.find((r) => r.name === name)!, document))),
        },
      });
    }
  }
  if (resolved.length) {
    await context.tx('policy_violations').where({ user_id: userId }).whereIn('conflict', resolved).delete();
    for (const conflict of resolved) entries.push({ action: 'policy.violation.resolved', resourceType: 'User', resourceId: userId, reason: { ...base, conflict: conflict.split('+') } });
  }
}

/** Locks the user and reconciles it (re-evaluation jobs, apply, grants). */
export async function reconcileUserById(context: WriteContext, policy: Policy, userId: string, now?: Date): Promise<ReconcileOutcome | undefined> {
  const row = (await context.tx('users').select('resource').where({ id: userId }).forUpdate().first()) as { resource: Record<string, unknown> } | undefined;
  if (!row) return undefined;
  return reconcileUser(context, policy, userId, row.resource, undefined, now);
}
