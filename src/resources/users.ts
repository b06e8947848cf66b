/**
 * User operations on the write path: each runs inside `WritePath.run`, locks what it changes,
 * writes only when something changed, and records a journal entry with before/after and the
 * attribute-level changes (never the password).
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { diffDocuments, type AttributeChange } from '../lib/document-diff.js';
import { applyPatch } from '../scim/patch/apply.js';
import { parsePatchRequest } from '../scim/patch/operations.js';
import { notFound } from '../scim/errors.js';
import { validateDocument, validateResourceBody, type ValidateOptions } from '../scim/validate.js';
import { insertResources, lockResources, updateResources } from '../store/batch-store.js';
import { bumpVersion, deleteResource, insertResource, updateResource } from '../store/resource-store.js';
import type { ResourceRow } from '../store/rows.js';
import type { WriteContext } from '../write/write-path.js';
import { leaveAllGroups, lockForWrite, mapUniqueViolation, type Preconditions } from './common.js';
import { assertImmutablesKept } from './immutability.js';
import { hashPassword } from './password.js';
import { assertManagerExists } from './references.js';

export interface WriteOutcome {
  row: ResourceRow;
  changed: boolean;
}

const PASSWORD_CHANGE: AttributeChange = { path: 'password', after: '[changed]' };

/**
 * A create entry's `changes`: only what its `after` cannot show (a password was set). The path
 * list of a create is every attribute of `after`, so it is derived when read (pathChanges) rather
 * than stored twice: the create is the most frequent entry of an HR import, and the list was
 * twice the size of the document.
 */
const createChanges = (password: string | undefined) => (password !== undefined ? { changes: [PASSWORD_CHANGE] } : {});

/**
 * SCIM bodies take the cheaper validation first (validate.ts's coerceFast: the same document or,
 * for anything it does not handle, scimmy's path and its error; test/validate-fast.test.ts). It
 * was about a seventh of a POST's Node CPU (decision 0708).
 */
const FAST = { fast: true } as const;

export async function createUser({ tx, changes }: WriteContext, body: unknown): Promise<ResourceRow> {
  const { resource, password } = validateResourceBody('User', body, FAST);
  await assertManagerExists(tx, resource);
  const id = randomUUID();
  const passwordHash = password !== undefined ? await hashPassword(password) : null;
  const row = await mapUniqueViolation(() => insertResource(tx, 'User', id, resource, { password_hash: passwordHash }), resource);
  changes.record({
    action: 'create',
    resourceType: 'User',
    resourceId: id,
    after: resource,
    ...createChanges(password),
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
  const { resource, password } = validateResourceBody('User', body, FAST);
  assertImmutablesKept('User', current.resource, resource);
  await assertManagerExists(context.tx, resource, current.resource);
  return storeUserChange(context, current, resource, password, 'replace');
}

export async function patchUser(context: WriteContext, id: string, body: unknown, preconditions: Preconditions): Promise<WriteOutcome> {
  const operations = parsePatchRequest(body);
  const current = await lockForWrite(context.tx, 'User', id, preconditions);
  const patched = applyPatch('User', current.resource, operations, { id });
  if (!patched.changed) return { row: current, changed: false };
  const { resource, password } = validateDocument('User', patched.resource);
  await assertManagerExists(context.tx, resource, current.resource);
  return storeUserChange(context, current, resource, password, 'update');
}

export async function deleteUser(context: WriteContext, id: string, preconditions: Preconditions): Promise<void> {
  const current = await lockForWrite(context.tx, 'User', id, preconditions, 'delete');
  await leaveAllGroups(context, id, 'User');
  await deleteResource(context.tx, 'User', id);
  context.changes.record({ action: 'delete', resourceType: 'User', resourceId: id, before: current.resource });
}

/**
 * Batch forms of createUser and replaceUser for many users in one write-path transaction (the HR
 * import, via WritePath.runBatch): the same validation, checks and one journal entry per user
 * that changed, but one statement for all inserts, one lock and one update for all replacements.
 * A uniqueness clash fails the whole statement (the caller redoes the batch one by one).
 */
export type BatchWriteOptions = ValidateOptions;

export async function createUsers(
  context: WriteContext,
  items: ReadonlyArray<{ id?: string; body: unknown }>,
  options: BatchWriteOptions = {},
): Promise<ResourceRow[]> {
  const prepared: PreparedUser[] = [];
  for (const item of items) {
    const { resource, password } = validateResourceBody('User', item.body, options);
    const passwordHash = password !== undefined ? await hashPassword(password) : null;
    prepared.push({ id: item.id ?? randomUUID(), resource, password, extra: { password_hash: passwordHash } });
  }
  return insertUsers(context, prepared);
}

/**
 * createUsers for documents validateResourceBody has already returned (no passwords). The HR
 * import validates each new person before writing, so a bad row is rejected without failing its
 * batch, and afterwards sets only the manager's id (a reference); validating again when written
 * would double the cost.
 */
export function createValidatedUsers(context: WriteContext, items: ReadonlyArray<{ id: string; resource: Record<string, unknown> }>): Promise<ResourceRow[]> {
  return insertUsers(
    context,
    items.map((item) => ({ id: item.id, resource: item.resource, password: undefined, extra: { password_hash: null } })),
  );
}

interface PreparedUser {
  id: string;
  resource: Record<string, unknown>;
  password: string | undefined;
  extra: Record<string, unknown>;
}

async function insertUsers(context: WriteContext, prepared: PreparedUser[]): Promise<ResourceRow[]> {
  const insert = () => insertResources(context.tx, 'User', prepared);
  const rows = prepared.length === 1 ? await mapUniqueViolation(insert, prepared[0]!.resource) : await insert();
  for (const p of prepared) {
    context.changes.record({
      action: 'create',
      resourceType: 'User',
      resourceId: p.id,
      after: p.resource,
      ...createChanges(p.password),
    });
  }
  return rows;
}

export async function replaceUsers(context: WriteContext, items: ReadonlyArray<{ id: string; body: unknown }>, options: BatchWriteOptions = {}): Promise<WriteOutcome[]> {
  const current = await lockResources(context.tx, 'User', items.map((i) => i.id));
  const updates: Array<{ id: string; resource: Record<string, unknown>; before: ResourceRow }> = [];
  const outcomes: Array<WriteOutcome | { id: string; password: string; resource: Record<string, unknown> } | undefined> = [];
  for (const item of items) {
    const row = current.get(item.id.toLowerCase());
    if (!row) throw notFound(`User ${item.id} not found`);
    const { resource, password } = validateResourceBody('User', item.body, options);
    assertImmutablesKept('User', row.resource, resource);
    if (password !== undefined) {
      // Rare in a batch: the single path hashes and stores it.
      outcomes.push({ id: row.id, password, resource });
    } else if (isDeepStrictEqual(row.resource, resource)) {
      outcomes.push({ row, changed: false });
    } else {
      updates.push({ id: row.id, resource, before: row });
      outcomes.push(undefined);
    }
  }
  const updated = updates.length === 1 ? await mapUniqueViolation(() => updateResources(context.tx, 'User', updates), updates[0]!.resource) : await updateResources(context.tx, 'User', updates);
  const results: WriteOutcome[] = [];
  let next = 0;
  for (const outcome of outcomes) {
    if (outcome === undefined) {
      const u = updates[next++]!;
      context.changes.record({ action: 'replace', resourceType: 'User', resourceId: u.id, before: u.before.resource, after: u.resource, changes: diffDocuments(u.before.resource, u.resource) });
      results.push({ row: updated.get(u.id)!, changed: true });
    } else if ('password' in outcome) {
      results.push(await storeUserChange(context, current.get(outcome.id)!, outcome.resource, outcome.password, 'replace'));
    } else {
      results.push(outcome);
    }
  }
  return results;
}
