/**
 * Brings one User on one target to its desired state:
 *  - in scope, not on the target: create it (POST). If the target already has it (409) and
 *    `matchOn` is set, adopt the existing account. If an earlier attempt may have created it
 *    (state 'creating': the process died before recording the answer), look it up by externalId
 *    first, so a crash never leaves a duplicate;
 *  - in scope and linked: send only what changed since the target last acknowledged it (PATCH of
 *    the changed paths, or PUT where the profile says so); re-enable a disabled account;
 *  - out of scope or deleted: disable (PATCH active=false) or DELETE, per `deprovision`, after the
 *    mass-change guard admits it.
 * Membership follows: when the user becomes active or stops being active on the target, its
 * groups are queued, so a user exists remotely before any group lists it.
 */
import { attributeOperations, patchBody } from '../../connectors/scim/patch.js';
import { managedPart } from '../../connectors/scim/compare.js';
import type { Document } from '../../connectors/profile.js';
import { admitDeprovisions } from './connector-state.js';
import { deleteLink, markCreating, readSyncState, saveLink, type Link } from './links.js';
import { push, Rejected, RetryLater } from './push.js';
import { lookupRemote, remoteIdOf, remoteIdToDeprovision } from './remote.js';
import type { SyncContext } from './sync-context.js';

export class Paused extends Error {
  override name = 'Paused';
}

export async function syncUser(context: SyncContext, id: string): Promise<void> {
  const { db, connector } = context;
  const { row, inScope, link } = await readSyncState(db, connector, 'User', id);
  if (!row || !inScope) return deprovisionUser(context, id, link);

  const desired = connector.profile.mapUser(row.resource, id);
  // A user Roster pushes is active unless it says otherwise (re-enabling relies on this).
  desired.active ??= true;
  const problem = connector.profile.checkUser(desired);
  if (problem) {
    const request = link?.remoteId ? { method: 'PATCH', path: `/Users/${link.remoteId}` } : { method: 'POST', path: '/Users', body: desired };
    throw new Rejected(`not sent: ${problem}`, request, { status: 0, body: `rejected by the ${connector.profile.name} profile before sending` });
  }
  if (!link?.remoteId) return createUser(context, id, desired, link, row.version);
  return updateUser(context, id, desired, link, row.version);
}

async function createUser(context: SyncContext, id: string, desired: Document, link: Link | undefined, version: number): Promise<void> {
  const { db, connector } = context;
  const resource = { type: 'User' as const, id };
  if (link?.state === 'creating') {
    // The last attempt may have reached the target before the process died: look before creating.
    const existing = await lookupRemote(context, resource, 'externalId', id);
    if (existing) return adopt(context, id, desired, existing, version);
  }
  if (!context.dryRun) await markCreating(db, connector.name, 'User', id);
  const response = await push(context, resource, { method: 'POST', path: '/Users', body: desired }, [409]);
  if (!response) return; // dry run
  if (response.status === 409) {
    const matchOn = connector.config.matchOn;
    const value = matchOn === 'none' ? undefined : desired[matchOn];
    const existing = typeof value === 'string' ? await lookupRemote(context, resource, matchOn, value) : undefined;
    if (!existing) {
      throw new Rejected(
        `the target already has this user (409) and ${matchOn === 'none' ? 'matchOn is none' : `no account matched ${matchOn}`}; set matchOn to adopt existing accounts`,
        { method: 'POST', path: '/Users', body: desired },
        { status: 409, body: response.body ?? response.text },
      );
    }
    return adopt(context, id, desired, existing, version);
  }
  const remoteId = remoteIdOf(response.body);
  if (!remoteId) throw new RetryLater('unavailable', 'POST /Users: the target answered without an id');
  await saveLink(db, connector.name, 'User', id, { remoteId, state: 'active', acknowledged: desired, version });
  await context.membershipChanged(id);
}

/** Links an existing remote account and brings it to the desired state. */
async function adopt(context: SyncContext, id: string, desired: Document, existing: Document, version: number): Promise<void> {
  const remoteId = existing.id as string;
  const current = managedPart(desired, existing);
  context.journal.event('sync.adopt', { remoteId, matchedOn: context.connector.config.matchOn }, { type: 'User', id });
  if (!context.dryRun) {
    await saveLink(context.db, context.connector.name, 'User', id, { remoteId, state: current.active === false ? 'disabled' : 'active', acknowledged: current, adopted: true });
  }
  await updateUser(context, id, desired, { remoteId, state: current.active === false ? 'disabled' : 'active', acknowledged: current, adopted: true }, version);
}

async function updateUser(context: SyncContext, id: string, desired: Document, link: Link, version: number): Promise<void> {
  const { db, connector } = context;
  const remoteId = link.remoteId!;
  const acknowledged = link.acknowledged ?? {};
  const operations = attributeOperations(acknowledged, desired);
  const wasActive = link.state === 'active';
  if (operations.length > 0) {
    const path = `/Users/${encodeURIComponent(remoteId)}`;
    const request =
      connector.profile.userUpdate === 'put'
        ? ({ method: 'PUT', path, body: { ...desired, id: remoteId } } as const)
        : ({ method: 'PATCH', path, body: patchBody(operations) } as const);
    const response = await push(context, { type: 'User', id }, request, [404]);
    if (!response) return;
    if (response.status === 404) {
      // Deleted on the target behind Roster's back: forget the link and create it again.
      await deleteLink(db, connector.name, 'User', id);
      return createUser(context, id, desired, undefined, version);
    }
  }
  if (context.dryRun) return;
  await saveLink(db, connector.name, 'User', id, { remoteId, state: 'active', acknowledged: desired, version });
  if (!wasActive) await context.membershipChanged(id);
}

async function deprovisionUser(context: SyncContext, id: string, link: Link | undefined): Promise<void> {
  const { db, connector } = context;
  if (!link) return;
  const remoteId = await remoteIdToDeprovision(context, 'User', id, link);
  if (!remoteId) return;
  const remove = connector.config.deprovision === 'delete';
  if (!remove && link.state === 'disabled') return;
  if (!context.dryRun && !(await admitDeprovisions(db, connector.name, connector.config.guard))) {
    context.journal.event('sync.paused', { reason: 'mass-change guard', pending: remove ? 'delete' : 'disable' }, { type: 'User', id });
    throw new Paused(`connector ${connector.name} is paused by the mass-change guard; approve with: npm run roster -- sync approve ${connector.name}`);
  }
  const path = `/Users/${encodeURIComponent(remoteId)}`;
  if (remove) {
    const response = await push(context, { type: 'User', id }, { method: 'DELETE', path }, [404]);
    if (!response) return;
    // The target drops a deleted user from its groups itself.
    await context.forgetMemberships(id);
    await deleteLink(db, connector.name, 'User', id);
    return;
  }
  const acknowledged = { ...(link.acknowledged ?? {}), active: false };
  const request =
    connector.profile.userUpdate === 'put'
      ? ({ method: 'PUT', path, body: { ...acknowledged, id: remoteId } } as const)
      : ({ method: 'PATCH', path, body: patchBody([{ op: 'replace', path: 'active', value: false }]) } as const);
  const response = await push(context, { type: 'User', id }, request, [404]);
  if (!response) return;
  if (response.status === 404) {
    await context.forgetMemberships(id);
    await deleteLink(db, connector.name, 'User', id);
    return;
  }
  await saveLink(db, connector.name, 'User', id, { remoteId, state: 'disabled', acknowledged });
  await context.membershipChanged(id);
}
