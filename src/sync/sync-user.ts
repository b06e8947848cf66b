/**
 * Brings one User on one target to its desired state:
 *  - in scope, not on the target: create it (POST). If the target already has it (409) and
 *    `matchOn` is set, adopt the existing account. If an earlier attempt may have created it
 *    (state 'creating': the process died before recording the answer), look it up by externalId
 *    first, so a crash never leaves a duplicate (create-or-adopt.ts, shared with groups);
 *  - in scope and linked: send only what changed since the target last acknowledged it (PATCH of
 *    the changed paths, or PUT where the profile says so); re-enable a disabled account;
 *  - out of scope or deleted: disable (PATCH active=false) or DELETE, per `deprovision`, after the
 *    mass-change guard admits it.
 * Membership and references follow: when the user becomes active or stops being active on the
 * target, its groups and the users whose manager it is are queued, so a user exists remotely before
 * any group lists it or any user names it as manager. References in the user's own document (its
 * manager) go out in the target's ids, and only once the referenced user is there (references.ts).
 */
import { attributeOperations, patchBody } from '../../connectors/scim/patch.js';
import { managedPart } from '../../connectors/scim/compare.js';
import type { Document } from '../../connectors/profile.js';
import { admitDeprovisions } from './connector-state.js';
import { createOrAdopt } from './create-or-adopt.js';
import { deleteLink, readSyncState, saveLink, saveLinkQuery, type Link, type SyncState } from './links.js';
import type { FinishUnderLock } from './locks.js';
import { push, Rejected, type PushedResource } from './push.js';
import { heldBackDetails, toTargetReferences, type TranslatedDocument } from './references.js';
import { remoteIdToDeprovision } from './remote.js';
import type { SyncContext } from './sync-context.js';

export class Paused extends Error {
  override name = 'Paused';
}

/** The user's translated document, and what its references need recorded and journaled. */
type Desired = TranslatedDocument & { resource: PushedResource & { type: 'User'; id: string } };

const nameOf = (document: Record<string, unknown> | null | undefined) => (typeof document?.userName === 'string' ? document.userName : undefined);

/** `finish`, when given, ends the sync's lock transaction with the last write (locks.ts). */
export async function syncUser(context: SyncContext, id: string, state?: SyncState, finish?: FinishUnderLock): Promise<void> {
  const { db, connector } = context;
  const { row, inScope, link } = state ?? (await readSyncState(db, connector, 'User', id));
  if (!row || !inScope) return deprovisionUser(context, id, link, nameOf(row?.resource));

  const mapped = connector.profile.mapUser(row.resource, id);
  // A user Roster pushes is active unless it says otherwise (re-enabling relies on this).
  mapped.active ??= true;
  const problem = connector.profile.checkUser(mapped);
  if (problem) {
    const request = link?.remoteId ? { method: 'PATCH', path: `/Users/${link.remoteId}` } : { method: 'POST', path: '/Users', body: mapped };
    throw new Rejected(`not sent: ${problem}`, request, { status: 0, body: `rejected by the ${connector.profile.name} profile before sending` });
  }
  const desired: Desired = { ...(await toTargetReferences(db, connector, mapped)), resource: { type: 'User', id, name: nameOf(mapped) } };
  if (!link?.remoteId) return createUser(context, desired, link, row.version);
  return updateUser(context, desired, link, row.version, finish);
}

/** Why a reference is missing from the request about to go out. */
function journalHeldBack(context: SyncContext, desired: Desired): void {
  const { resource } = desired;
  for (const reference of desired.heldBack) context.journal.event('sync.reference-omitted', heldBackDetails(context.connector.name, reference), { type: 'User', id: resource.id, name: resource.name });
}

async function createUser(context: SyncContext, desired: Desired, link: Link | undefined, version: number): Promise<void> {
  const { resource, document } = desired;
  const matchOn = context.connector.config.matchOn;
  await createOrAdopt(context, link, {
    resource,
    document,
    version,
    referencedIds: desired.referencedIds,
    matchOn,
    unmatchedConflict: `the target already has this user (409) and ${matchOn === 'none' ? 'matchOn is none' : `no account matched ${matchOn}`}; set matchOn to adopt existing accounts`,
    beforePost: () => journalHeldBack(context, desired),
    afterCreated: () => context.presenceChanged(resource.id),
    adopt: (existing, remoteId) => adopt(context, desired, existing, remoteId, version),
  });
}

/**
 * Links an existing remote account (recorded before anything is sent to it, with the state it is
 * in) and brings it to the desired state.
 */
async function adopt(context: SyncContext, desired: Desired, existing: Document, remoteId: string, version: number): Promise<void> {
  const current = managedPart(desired.document, existing);
  const state = current.active === false ? 'disabled' : 'active';
  if (!context.dryRun) await saveLink(context.db, context.connector.name, 'User', desired.resource.id, { remoteId, state, acknowledged: current, adopted: true });
  await updateUser(context, desired, { remoteId, state, acknowledged: current, adopted: true }, version);
}

async function updateUser(context: SyncContext, desired: Desired, link: Link, version: number, finish?: FinishUnderLock): Promise<void> {
  const { db, connector } = context;
  const { resource, document } = desired;
  const id = resource.id;
  const remoteId = link.remoteId!;
  const acknowledged = link.acknowledged ?? {};
  const operations = attributeOperations(acknowledged, document);
  const wasActive = link.state === 'active';
  if (operations.length > 0) {
    const path = `/Users/${encodeURIComponent(remoteId)}`;
    const request =
      connector.profile.userUpdate === 'put'
        ? ({ method: 'PUT', path, body: { ...document, id: remoteId } } as const)
        : ({ method: 'PATCH', path, body: patchBody(operations) } as const);
    journalHeldBack(context, desired);
    const response = await push(context, resource, request, [404]);
    if (!response) return;
    if (response.status === 404) {
      // Deleted on the target behind Roster's back: forget the link and create it again.
      await deleteLink(db, connector.name, 'User', id);
      return createUser(context, desired, undefined, version);
    }
  }
  if (context.dryRun) return;
  // The push's journal entry goes to the outbox in the link's statement: one commit, not two.
  const outbox = context.journal.outboxRow();
  const save = saveLinkQuery(db, connector.name, 'User', id, { remoteId, state: 'active', acknowledged: document, version, referencedIds: desired.referencedIds }, outbox);
  // A user that stays active needs nothing more under its lock: the link commits as the lock goes.
  if (wasActive && finish) await finish(save);
  else await save;
  if (outbox) context.journal.handedOver(outbox);
  if (!wasActive) await context.presenceChanged(id);
}

async function deprovisionUser(context: SyncContext, id: string, link: Link | undefined, currentName: string | undefined): Promise<void> {
  const { db, connector } = context;
  if (!link) return;
  const remoteId = await remoteIdToDeprovision(context, 'User', id, link);
  if (!remoteId) return;
  const remove = connector.config.deprovision === 'delete';
  if (!remove && link.state === 'disabled') return;
  // Deleted in Roster already, the user is named by what the target acknowledged.
  const resource = { type: 'User' as const, id, name: currentName ?? nameOf(link.acknowledged) };
  if (!context.dryRun && !(await admitDeprovisions(db, connector.name, connector.config.guard))) {
    context.journal.event('sync.paused', { reason: 'mass-change guard', pending: remove ? 'delete' : 'disable' }, resource);
    throw new Paused(`connector ${connector.name} is paused by the mass-change guard; approve with: npm run roster -- sync approve ${connector.name}`);
  }
  const path = `/Users/${encodeURIComponent(remoteId)}`;
  if (remove) {
    const response = await push(context, resource, { method: 'DELETE', path }, [404]);
    if (!response) return;
    // The target drops a deleted user from its groups itself.
    await context.forgetMemberships(id);
    await deleteLink(db, connector.name, 'User', id);
    await context.referrersChanged(id);
    return;
  }
  const acknowledged = { ...(link.acknowledged ?? {}), active: false };
  const request =
    connector.profile.userUpdate === 'put'
      ? ({ method: 'PUT', path, body: { ...acknowledged, id: remoteId } } as const)
      : ({ method: 'PATCH', path, body: patchBody([{ op: 'replace', path: 'active', value: false }]) } as const);
  const response = await push(context, resource, request, [404]);
  if (!response) return;
  if (response.status === 404) {
    await context.forgetMemberships(id);
    await deleteLink(db, connector.name, 'User', id);
    await context.referrersChanged(id);
    return;
  }
  await saveLink(db, connector.name, 'User', id, { remoteId, state: 'disabled', acknowledged });
  await context.presenceChanged(id);
}
