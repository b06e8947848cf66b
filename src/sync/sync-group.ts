/**
 * Brings one Group on one target to its desired state: create it, or adopt it by displayName on a
 * 409 (create-or-adopt.ts, shared with users); PATCH a changed displayName; delete it when it
 * leaves scope; and send its membership as add/remove deltas against what the target acknowledged,
 * in chunks no larger than the profile's membersPerRequest (AWS: 100). Each chunk is acknowledged
 * as soon as the target accepts it, so an interrupted sync resumes where it stopped. Only members
 * that are active on the target are sent.
 */
import { attributeOperations, patchBody, quote, type PatchOperation } from '../../connectors/scim/patch.js';
import { managedPart } from '../../connectors/scim/compare.js';
import type { Document } from '../../connectors/profile.js';
import { admitDeprovisions } from './connector-state.js';
import {
  acknowledgeMembersAdded,
  acknowledgeMembersRemoved,
  deleteLink,
  readSyncState,
  type SyncState,
  membershipDelta,
  saveLink,
  type Link,
  type MemberDelta,
} from './links.js';
import { createOrAdopt } from './create-or-adopt.js';
import { push, RetryLater } from './push.js';
import { toTargetReferences } from './references.js';
import { remoteIdToDeprovision } from './remote.js';
import type { SyncContext } from './sync-context.js';
import { Paused } from './sync-user.js';

const nameOf = (document: Record<string, unknown> | null | undefined) => (typeof document?.displayName === 'string' ? document.displayName : undefined);

export async function syncGroup(context: SyncContext, id: string, state?: SyncState): Promise<void> {
  const { db, connector } = context;
  const { row, inScope, link } = state ?? (await readSyncState(db, connector, 'Group', id));
  if (!row || !inScope) return removeGroup(context, id, link, nameOf(row?.resource));

  // Members go as deltas (syncMembers), already in the target's ids; other references, should a
  // profile map any, are translated like a user's manager.
  const desired = (await toTargetReferences(db, connector, connector.profile.mapGroup(row.resource, id))).document;
  let remoteId = link?.remoteId ?? undefined;
  if (!remoteId) {
    remoteId = await createGroup(context, id, desired, link, row.version);
    if (!remoteId) return; // dry run: members cannot be addressed before the group exists
  } else {
    const operations = attributeOperations(link?.acknowledged ?? {}, desired);
    if (operations.length > 0) {
      const response = await push(context, { type: 'Group', id, name: nameOf(desired) }, { method: 'PATCH', path: `/Groups/${encodeURIComponent(remoteId)}`, body: patchBody(operations) }, [404]);
      if (response?.status === 404) {
        // Deleted on the target behind Roster's back: create it again, with all its members.
        await deleteLink(db, connector.name, 'Group', id);
        remoteId = await createGroup(context, id, desired, undefined, row.version);
        if (!remoteId) return;
      } else if (response) {
        await saveLink(db, connector.name, 'Group', id, { remoteId, state: 'active', acknowledged: desired, version: row.version });
      }
    }
  }
  await syncMembers(context, id, remoteId);
}

async function createGroup(context: SyncContext, id: string, desired: Document, link: Link | undefined, version: number): Promise<string | undefined> {
  return createOrAdopt(context, link, {
    resource: { type: 'Group', id, name: nameOf(desired) },
    document: desired,
    version,
    matchOn: 'displayName',
    unmatchedConflict: 'the target already has this group (409) but no group matched its displayName',
    adopt: (existing, remoteId) => adoptGroup(context, id, desired, existing, remoteId, version),
  });
}

/** Brings an existing remote group to the desired state (its displayName and other attributes), then links it. */
async function adoptGroup(context: SyncContext, id: string, desired: Document, existing: Document, remoteId: string, version: number): Promise<void> {
  const { db, connector } = context;
  const current = managedPart(desired, existing);
  const operations = attributeOperations(current, desired);
  if (operations.length > 0) {
    await push(context, { type: 'Group', id, name: nameOf(desired) }, { method: 'PATCH', path: `/Groups/${encodeURIComponent(remoteId)}`, body: patchBody(operations) });
  }
  if (!context.dryRun) await saveLink(db, connector.name, 'Group', id, { remoteId, state: 'active', acknowledged: desired, adopted: true, version });
  // The members it already has are unknown unless the target lists them: start from "none"
  // acknowledged; adds of existing members are harmless (RFC 7644 §3.5.2.1: add is idempotent).
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

function removeOperations(members: readonly MemberDelta[], style: 'filter-path' | 'value-array'): PatchOperation[] {
  if (style === 'value-array') return [{ op: 'remove', path: 'members', value: members.map((m) => ({ value: m.remoteId })) }];
  return members.map((m) => ({ op: 'remove', path: `members[value eq ${quote(m.remoteId)}]` }));
}

async function syncMembers(context: SyncContext, id: string, remoteId: string): Promise<void> {
  const { db, connector } = context;
  const { profile } = connector;
  const delta = await membershipDelta(db, connector.name, id, profile.nestedGroups);
  const path = `/Groups/${encodeURIComponent(remoteId)}`;
  // Removals first: a member whose remote id changed (re-created) is removed under the old id and
  // added under the new one.
  for (const members of chunk(delta.remove, profile.membersPerRequest)) {
    const response = await push(context, { type: 'Group', id }, { method: 'PATCH', path, body: patchBody(removeOperations(members, profile.memberRemoval)) }, [404]);
    if (!response) continue;
    if (response.status === 404) return groupVanished(context, id);
    await acknowledgeMembersRemoved(db, connector.name, id, members);
  }
  for (const members of chunk(delta.add, profile.membersPerRequest)) {
    const body = patchBody([{ op: 'add', path: 'members', value: members.map((m) => ({ value: m.remoteId })) }]);
    const response = await push(context, { type: 'Group', id }, { method: 'PATCH', path, body }, [404]);
    if (!response) continue;
    if (response.status === 404) return groupVanished(context, id);
    await acknowledgeMembersAdded(db, connector.name, id, members);
  }
}

/** The group disappeared from the target mid-sync: forget it and try again from scratch. */
async function groupVanished(context: SyncContext, id: string): Promise<void> {
  await deleteLink(context.db, context.connector.name, 'Group', id);
  throw new RetryLater('unavailable', 'the group was deleted on the target during the sync; it will be created again');
}

async function removeGroup(context: SyncContext, id: string, link: Link | undefined, currentName: string | undefined): Promise<void> {
  const { db, connector } = context;
  if (!link) return;
  const remoteId = await remoteIdToDeprovision(context, 'Group', id, link);
  if (!remoteId) return;
  // Deleted in Roster already, the group is named by what the target acknowledged.
  const resource = { type: 'Group' as const, id, name: currentName ?? nameOf(link.acknowledged) };
  if (!context.dryRun && !(await admitDeprovisions(db, connector.name, connector.config.guard))) {
    context.journal.event('sync.paused', { reason: 'mass-change guard', pending: 'delete' }, resource);
    throw new Paused(`connector ${connector.name} is paused by the mass-change guard; approve with: npm run roster -- sync approve ${connector.name}`);
  }
  const response = await push(context, resource, { method: 'DELETE', path: `/Groups/${encodeURIComponent(remoteId)}` }, [404]);
  if (!response) return;
  await deleteLink(db, connector.name, 'Group', id);
}
