/**
 * User operations on the write path: each runs inside `WritePath.run`, locks what it changes,
 * writes only when something changed, and records a journal entry with before/after and the
 * attribute-level changes (never the password).
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { diffDocuments, type AttributeChange } from '../journal/diff.js';
import { applyPatch } from '../scim/patch/apply.js';
import { parsePatchRequest } from '../scim/patch/operations.js';
import { validateDocument, validateResourceBody } from '../scim/validate.js';
import { bumpVersion, deleteResource, insertResource, updateResource } from '../store/resource-store.js';
import type { ResourceRow } from '../store/rows.js';
import type { WriteContext } from '../write/write-path.js';
import { leaveAllGroups, lockForWrite, mapUniqueViolation, type Preconditions } from './common.js';
import { assertImmutablesKept } from './immutability.js';
import { hashPassword } from './password.js';

export interface WriteOutcome {
  row: ResourceRow;
  changed: boolean;
}

const PASSWORD_CHANGE: AttributeChange = { path: 'password', after: '[changed]' };

export async function createUser({ tx, changes }: WriteContext, body: unknown): Promise<ResourceRow> {
  const { resource, password } = validateResourceBody('User', body);
  const id = randomUUID();
  const passwordHash = password !== undefined ? await hashPassword(password) : null;
  const row = await mapUniqueViolation(() => insertResource(tx, 'User', id, resource, { password_hash: passwordHash }), resource);
  changes.record({
    action: 'create',
    resourceType: 'User',
    resourceId: id,
    after: resource,
    changes: [...diffDocuments({}, resource), ...(password !== undefined ? [PASSWORD_CHANGE] : [])],
  });
  return row;
}

async function storeUserChange(
  context: WriteContext,
  current: ResourceRow,
  next: Record<string, unknown>,
  password: string | undefined,
  action: 'replace' | 'update',
): Promise<WriteOutcome> {
  const documentChanged = !isDeepStrictEqual(current.resource, next);
  if (!documentChanged && password === undefined) return { row: current, changed: false };
  const extra = password !== undefined ? { password_hash: await hashPassword(password) } : {};
  const row = documentChanged
    ? await mapUniqueViolation(() => updateResource(context.tx, 'User', current.id, next, extra), next)
    : await updatePasswordOnly(context, current.id, extra);
  context.changes.record({
    action,
    resourceType: 'User',
    resourceId: current.id,
    before: current.resource,
    after: next,
    changes: [...diffDocuments(current.resource, next), ...(password !== undefined ? [PASSWORD_CHANGE] : [])],
  });
  return { row, changed: true };
}

async function updatePasswordOnly(context: WriteContext, id: string, extra: Record<string, unknown>): Promise<ResourceRow> {
  await context.tx('users').where({ id }).update(extra);
  return bumpVersion(context.tx, 'User', id);
}

export async function replaceUser(context: WriteContext, id: string, body: unknown, preconditions: Preconditions): Promise<WriteOutcome> {
  const current = await lockForWrite(context.tx, 'User', id, preconditions);
  const { resource, password } = validateResourceBody('User', body);
  assertImmutablesKept('User', current.resource, resource);
  return storeUserChange(context, current, resource, password, 'replace');
}

export async function patchUser(context: WriteContext, id: string, body: unknown, preconditions: Preconditions): Promise<WriteOutcome> {
  const operations = parsePatchRequest(body);
  const current = await lockForWrite(context.tx, 'User', id, preconditions);
  const patched = applyPatch('User', current.resource, operations, { id });
  if (!patched.changed) return { row: current, changed: false };
  const { resource, password } = validateDocument('User', patched.resource);
  return storeUserChange(context, current, resource, password, 'update');
}

export async function deleteUser(context: WriteContext, id: string, preconditions: Preconditions): Promise<void> {
  const current = await lockForWrite(context.tx, 'User', id, preconditions);
  await leaveAllGroups(context, id, 'User');
  await deleteResource(context.tx, 'User', id);
  context.changes.record({ action: 'delete', resourceType: 'User', resourceId: id, before: current.resource });
}
