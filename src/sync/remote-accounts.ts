/**
 * Acting on one remote account Roster does not manage (an orphan in the governance ledger), on an
 * operator's word: adopt it (link it to a local user, as a full sync adopts a matched account, then
 * bring it to the desired state), or disable or delete it on the target under the connector's
 * mass-change guard. Every request is journaled as the connector's (sync.push, sync.adopt); the
 * operator's own entry is the caller's (src/governance/ledger-actions.ts).
 */
import type { Knex } from 'knex';
import { managedPart } from '../../connectors/scim/compare.js';
import { patchBody } from '../../connectors/scim/patch.js';
import type { Document } from '../../connectors/profile.js';
import type { Connector, ResourceType } from './connector.js';
import { admitDeprovisions } from './connector-state.js';
import { readSyncState, saveLink } from './links.js';
import { push, type PushContext } from './push.js';
import { PushJournal } from './push-journal.js';
import { toTargetReferences } from './references.js';
import { ENDPOINT } from './remote.js';
import { syncOne, type SyncResult } from './sync-one.js';

/** Why an action on a remote account was not taken. */
export class AccountActionRefused extends Error {
  override name = 'AccountActionRefused';
  constructor(
    readonly reason: 'gone' | 'managed' | 'not-found' | 'out-of-scope' | 'already-linked' | 'paused' | 'invalid',
    message: string,
  ) {
    super(message);
  }
}

/** An adoption to record: the local object, the remote one, and the desired document already translated. */
export interface AdoptedLink {
  type: ResourceType;
  id: string;
  name: string | undefined;
  version: number;
  remote: Document;
  desired: Document;
  matchedOn: string;
  referencedIds: readonly string[];
}

/**
 * Takes a remote account over (full sync and the ledger share it): journals `sync.adopt` and links
 * it, acknowledging what the target holds of what Roster manages, so the next sync sends exactly
 * the difference. Only a run that really adopts calls it (decision 0209).
 */
export async function linkAdopted(db: Knex, connector: Connector, journal: PushJournal, adoption: AdoptedLink): Promise<void> {
  const remoteId = adoption.remote.id as string;
  journal.event('sync.adopt', { remoteId, matchedOn: adoption.matchedOn }, { type: adoption.type, id: adoption.id, name: adoption.name });
  await saveLink(db, connector.name, adoption.type, adoption.id, {
    remoteId,
    state: adoption.remote.active === false ? 'disabled' : 'active',
    acknowledged: managedPart(adoption.desired, adoption.remote),
    adopted: true,
    version: adoption.version,
    referencedIds: adoption.referencedIds,
  });
}

/** The remote object as the target holds it now; undefined when it is gone (404). */
async function readRemote(context: PushContext, type: ResourceType, remoteId: string): Promise<Document | undefined> {
  const response = await push({ ...context, dryRun: false }, { type }, { method: 'GET', path: `${ENDPOINT[type]}/${encodeURIComponent(remoteId)}` }, [404]);
  if (!response || response.status === 404) return undefined;
  return response.body as Document;
}

async function linkedLocally(db: Knex, connector: string, type: ResourceType, remoteId: string): Promise<string | undefined> {
  const row = (await db('sync_links').select('resource_id').where({ connector, resource_type: type, remote_id: remoteId }).first()) as { resource_id: string } | undefined;
  return row?.resource_id;
}

/**
 * Links the remote user `remoteId` to the local user `userId` and brings the account to the
 * desired state. Refused when the user is unknown, outside the connector's scope or linked to
 * another account already, or the remote account is gone or managed by now.
 */
export async function adoptRemoteUser(db: Knex, connector: Connector, userId: string, remoteId: string, requestId: string): Promise<{ result: SyncResult; userName: string | undefined }> {
  const journal = new PushJournal(db, connector.name, requestId);
  try {
    const { row, inScope, link } = await readSyncState(db, connector, 'User', userId);
    if (!row) throw new AccountActionRefused('not-found', `No user ${userId}`);
    const userName = typeof row.resource.userName === 'string' ? row.resource.userName : undefined;
    if (!inScope) throw new AccountActionRefused('out-of-scope', `User ${userName ?? userId} is outside connector ${connector.name}'s scope (users.filter), so Roster would not keep the account`);
    if (link?.remoteId) throw new AccountActionRefused('already-linked', `User ${userName ?? userId} is linked to remote account ${link.remoteId} on ${connector.name} already`);
    const managedBy = await linkedLocally(db, connector.name, 'User', remoteId);
    if (managedBy) throw new AccountActionRefused('managed', `Remote account ${remoteId} is managed by Roster now (user ${managedBy})`);
    const context = { db, connector, journal, dryRun: false };
    const remote = await readRemote(context, 'User', remoteId);
    if (!remote) throw new AccountActionRefused('gone', `Remote account ${remoteId} is no longer on ${connector.name}`);
    const mapped = connector.profile.mapUser(row.resource, userId);
    mapped.active ??= true;
    const { document, referencedIds } = await toTargetReferences(db, connector, mapped);
    await linkAdopted(db, connector, journal, { type: 'User', id: userId, name: userName, version: row.version, remote, desired: document, matchedOn: 'operator', referencedIds });
    await journal.flush();
    // Now an ordinary linked account: the per-object sync sends what differs from the desired state.
    const result = await syncOne({ db, connector, type: 'User', id: userId, attempt: 0, requestId, journal });
    return { result, userName };
  } finally {
    await journal.flush();
  }
}

/**
 * Disables (PATCH active=false, or PUT where the profile updates that way) or deletes a remote
 * account Roster does not manage, after the connector's mass-change guard admits it. A connector
 * in dry-run mode journals the request and sends nothing (returns false).
 */
export async function deprovisionRemote(
  db: Knex,
  connector: Connector,
  target: { type: ResourceType; remoteId: string; name: string },
  how: 'disable' | 'delete',
  requestId: string,
): Promise<{ sent: boolean }> {
  const { type, remoteId, name } = target;
  if (type === 'Group' && how === 'disable') throw new AccountActionRefused('invalid', 'A group cannot be disabled in SCIM; delete it instead');
  const journal = new PushJournal(db, connector.name, requestId);
  try {
    const managedBy = await linkedLocally(db, connector.name, type, remoteId);
    if (managedBy) throw new AccountActionRefused('managed', `Remote ${type === 'User' ? 'account' : 'group'} ${remoteId} is managed by Roster now (${managedBy}); deprovision it in Roster`);
    const dryRun = connector.config.dryRun;
    const context = { db, connector, journal, dryRun };
    const resource = { type, name };
    if (!dryRun && !(await admitDeprovisions(db, connector.name, connector.config.guard))) {
      journal.event('sync.paused', { reason: 'mass-change guard', pending: how, remoteId }, undefined);
      throw new AccountActionRefused('paused', `Connector ${connector.name} is paused by the mass-change guard; review, then: npm run roster -- sync approve ${connector.name}`);
    }
    const path = `${ENDPOINT[type]}/${encodeURIComponent(remoteId)}`;
    let request: { method: 'DELETE' | 'PATCH' | 'PUT'; path: string; body?: unknown };
    if (how === 'delete') request = { method: 'DELETE', path };
    else if (connector.profile.userUpdate === 'put') {
      const current = await readRemote(context, type, remoteId);
      if (!current) throw new AccountActionRefused('gone', `Remote account ${remoteId} is no longer on ${connector.name}`);
      request = { method: 'PUT', path, body: { ...current, active: false } };
    } else request = { method: 'PATCH', path, body: patchBody([{ op: 'replace', path: 'active', value: false }]) };
    const response = await push(context, resource, request, [404]);
    if (!response) return { sent: false };
    if (response.status === 404) throw new AccountActionRefused('gone', `Remote ${type === 'User' ? 'account' : 'group'} ${remoteId} is no longer on ${connector.name}`);
    return { sent: true };
  } finally {
    await journal.flush();
  }
}
