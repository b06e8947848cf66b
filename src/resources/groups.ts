/**
 * Group operations on the write path. Membership is never loaded into memory: PATCH turns member
 * operations into row inserts/deletes (cost independent of group size), and a row lock on the
 * group serialises concurrent writers so no update is lost.
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Knex } from 'knex';
import { diffDocuments } from '../lib/document-diff.js';
import { invalidValue } from '../scim/errors.js';
import { applyPatch, type MemberRef } from '../scim/patch/apply.js';
import { parsePatchRequest } from '../scim/patch/operations.js';
import { validateDocument, validateResourceBody, type MemberInput } from '../scim/validate.js';
import {
  addMembers,
  MemberGone,
  findMissingMembers,
  removeAllMembers,
  removeMembers,
  removeMembersExcept,
  resolveMemberTypes,
} from '../store/member-store.js';
import { bumpVersion, deleteResource, insertResource, updateResource } from '../store/resource-store.js';
import type { MemberRow, ResourceRow } from '../store/rows.js';
import type { WriteContext } from '../write/write-path.js';
import { leaveAllGroups, lockForWrite, mapUniqueViolation, type Preconditions } from './common.js';
import { assertImmutablesKept } from './immutability.js';
import type { WriteOutcome } from './users.js';

/** Gives every member a type (looked up when the client sent none) and rejects unknown or self references. */
async function resolveMembers(db: Knex, groupId: string, members: ReadonlyArray<MemberInput | MemberRef>): Promise<MemberRow[]> {
  const unique = [...new Map(members.map((m) => [m.value.toLowerCase(), m])).values()];
  if (unique.some((m) => m.value.toLowerCase() === groupId)) throw invalidValue('A group cannot be a member of itself');
  const untyped = unique.filter((m) => !m.type).map((m) => m.value.toLowerCase());
  const found = await resolveMemberTypes(db, untyped);
  const resolved = unique.map((m) => ({ value: m.value.toLowerCase(), type: m.type ?? found.get(m.value.toLowerCase()) ?? 'User' }));
  const missing = await findMissingMembers(db, resolved);
  if (missing.length > 0) await refuseWrongMemberTypes(db, unique, missing);
  if (missing.length > 0) {
    const shown = missing.slice(0, 5).map((id) => `"${id}"`).join(', ');
    throw invalidValue(`Members must be existing Users or Groups; not found: ${shown}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`);
  }
  return resolved;
}

/**
 * A member sent with a `type` that does not match what its value names exists, but as the other
 * type: say so, rather than "not found", which sent client developers looking for a missing user.
 */
async function refuseWrongMemberTypes(db: Knex, members: ReadonlyArray<MemberInput | MemberRef>, missing: readonly string[]): Promise<void> {
  const typed = members.filter((m) => m.type && missing.includes(m.value.toLowerCase()));
  if (typed.length === 0) return;
  const actual = await resolveMemberTypes(db, typed.map((m) => m.value.toLowerCase()));
  const wrong = typed.find((m) => actual.has(m.value.toLowerCase()));
  if (!wrong) return;
  const is = actual.get(wrong.value.toLowerCase());
  throw invalidValue(`Member "${wrong.value}" is a ${is}, but its "type" says ${wrong.type}; send "type": "${is}" or leave "type" out`);
}

const summary = (rows: MemberRow[]) => rows.map((m) => ({ value: m.value, type: m.type }));

/** Adds members; one deleted while this request ran is the client naming a resource that is gone (400). */
async function addExistingMembers(tx: Knex.Transaction, groupId: string, members: MemberRow[]): Promise<MemberRow[]> {
  try {
    return await addMembers(tx, groupId, members);
  } catch (error) {
    if (!(error instanceof MemberGone)) throw error;
    const id = error.memberId;
    throw invalidValue(`Members must be existing Users or Groups; not found: ${id ? `"${id}" ` : ''}(deleted while this request ran)`);
  }
}

export async function createGroup(context: WriteContext, body: unknown): Promise<ResourceRow> {
  const { resource, members = [] } = validateResourceBody('Group', body);
  const id = randomUUID();
  const resolved = await resolveMembers(context.tx, id, members);
  const row = await mapUniqueViolation(() => insertResource(context.tx, 'Group', id, resource), resource);
  const added = await addExistingMembers(context.tx, id, resolved);
  context.changes.record({
    action: 'create',
    resourceType: 'Group',
    resourceId: id,
    after: resource,
    changes: { attributes: diffDocuments({}, resource), membersAdded: summary(added) },
  });
  return row;
}

interface MembershipEffect {
  added: MemberRow[];
  removed: MemberRow[];
}

async function recordGroupChange(
  context: WriteContext,
  current: ResourceRow,
  next: Record<string, unknown>,
  membership: MembershipEffect,
  action: 'replace' | 'update',
): Promise<WriteOutcome> {
  const documentChanged = !isDeepStrictEqual(current.resource, next);
  if (!documentChanged && membership.added.length === 0 && membership.removed.length === 0) return { row: current, changed: false };
  await context.guards.beforeGroupChange?.(context.tx, current, { membersChanged: membership.added.length + membership.removed.length > 0, renamed: current.resource.displayName !== next.displayName });
  const row = documentChanged
    ? await mapUniqueViolation(() => updateResource(context.tx, 'Group', current.id, next), next)
    : await bumpVersion(context.tx, 'Group', current.id);
  context.changes.record({
    action,
    resourceType: 'Group',
    resourceId: current.id,
    ...(documentChanged ? { before: current.resource, after: next } : {}),
    changes: {
      ...(documentChanged ? { attributes: diffDocuments(current.resource, next) } : {}),
      ...(membership.added.length ? { membersAdded: summary(membership.added) } : {}),
      ...(membership.removed.length ? { membersRemoved: summary(membership.removed) } : {}),
    },
  });
  return { row, changed: true };
}

/** Makes the membership exactly `desired`, touching only rows that differ. */
async function setMembers(tx: Knex.Transaction, groupId: string, desired: MemberRow[]): Promise<MembershipEffect> {
  const removed = await removeMembersExcept(tx, groupId, desired.map((m) => m.value));
  const added = await addExistingMembers(tx, groupId, desired);
  return { added, removed };
}

export async function replaceGroup(context: WriteContext, id: string, body: unknown, preconditions: Preconditions): Promise<WriteOutcome> {
  const current = await lockForWrite(context.tx, 'Group', id, preconditions);
  const { resource, members = [] } = validateResourceBody('Group', body);
  assertImmutablesKept('Group', current.resource, resource);
  const desired = await resolveMembers(context.tx, id, members);
  const membership = await setMembers(context.tx, id, desired);
  return recordGroupChange(context, current, resource, membership, 'replace');
}

export async function patchGroup(context: WriteContext, id: string, body: unknown, preconditions: Preconditions): Promise<WriteOutcome> {
  const operations = parsePatchRequest(body);
  const current = await lockForWrite(context.tx, 'Group', id, preconditions);
  const patched = applyPatch('Group', current.resource, operations, { id });
  const next = patched.changed ? validateDocument('Group', patched.resource).resource : current.resource;
  const { add, remove, removeAll } = patched.membership;
  const toAdd = add.length ? await resolveMembers(context.tx, id, add) : [];
  const removed = removeAll ? await removeAllMembers(context.tx, id) : await removeMembers(context.tx, id, remove.map((v) => v.toLowerCase()));
  const added = await addExistingMembers(context.tx, id, toAdd);
  // A replace of the whole list re-adds members that were already there: report only the net effect.
  const addedIds = new Set(added.map((m) => m.value));
  const removedIds = new Set(removed.map((m) => m.value));
  const netRemoved = removeAll ? removed.filter((m) => !toAdd.some((a) => a.value === m.value)) : removed;
  const netAdded = removeAll ? toAdd.filter((m) => !removedIds.has(m.value)) : added.filter((m) => addedIds.has(m.value));
  return recordGroupChange(context, current, next, { added: netAdded, removed: netRemoved }, 'update');
}

export async function deleteGroup(context: WriteContext, id: string, preconditions: Preconditions): Promise<void> {
  const current = await lockForWrite(context.tx, 'Group', id, preconditions, 'delete');
  await context.guards.beforeGroupChange?.(context.tx, current, { deleting: true });
  await leaveAllGroups(context, id, 'Group');
  const removed = await removeAllMembers(context.tx, id);
  await deleteResource(context.tx, 'Group', id);
  context.changes.record({
    action: 'delete',
    resourceType: 'Group',
    resourceId: id,
    before: current.resource,
    changes: removed.length ? { membersRemoved: summary(removed) } : undefined,
  });
}
