/**
 * The crash-safe create-and-adopt protocol (decision 0205), written once for users and groups:
 *  1. A link in state 'creating' means an earlier POST may have reached the target before the
 *     process died: look the object up by externalId (its Roster id) and adopt it if found.
 *  2. Otherwise mark the link 'creating' (committed on its own, before anything is sent), so a crash
 *     after the POST is noticed by the next attempt.
 *  3. POST. A 409 is resolved by looking the object up by `matchOn` and adopting it; with
 *     `matchOn: none`, or no match, the object is rejected (parked) with the 409 recorded.
 *  4. A created object is linked as active with the document the target acknowledged; an answer
 *     without an id is retried later.
 * What differs between users and groups (the match attribute, the wording of the rejection, what
 * is journaled before the POST, how an adopted object is brought to its desired state, what is
 * queued after a create) is passed in.
 */
import type { Document } from '../../connectors/profile.js';
import type { ResourceType } from './connector.js';
import { markCreating, saveLink, type Link } from './links.js';
import { push, Rejected, RetryLater } from './push.js';
import { ENDPOINT, lookupRemote, remoteIdOf } from './remote.js';
import type { SyncContext } from './sync-context.js';

export interface Creation {
  /** The local object: its type, id, and name (userName or displayName) for the journal. */
  resource: { type: ResourceType; id: string; name?: string | undefined };
  /** The desired remote document, already in the target's ids: the POST body and what is acknowledged. */
  document: Document;
  /** The local version the document was built from. */
  version: number;
  /** The local ids the document refers to (references.ts), recorded with the link; absent: unchanged. */
  referencedIds?: readonly string[] | undefined;
  /** The attribute a 409 is resolved by ('none': never adopt on a 409); journaled as sync.adopt's matchedOn. */
  matchOn: string;
  /** Why the object is rejected when a 409 found nothing to adopt. */
  unmatchedConflict: string;
  /** Runs right before the POST goes out (e.g. journal the references it leaves out). */
  beforePost?: () => void;
  /** Runs after the created object's link is saved (e.g. queue what depends on its presence). */
  afterCreated?: () => Promise<void>;
  /** Links an existing remote object (sync.adopt is journaled already) and brings it to the desired state. */
  adopt(existing: Document, remoteId: string): Promise<void>;
}

/** Creates the object on the target, or adopts the one there. The remote id; undefined when a dry run did not create it. */
export async function createOrAdopt(context: SyncContext, link: Link | undefined, creation: Creation): Promise<string | undefined> {
  const { db, connector } = context;
  const { resource, document, matchOn } = creation;
  if (link?.state === 'creating') {
    // The last attempt may have reached the target before the process died: look before creating.
    const existing = await lookupRemote(context, resource, 'externalId', resource.id);
    if (existing) return adopt(context, creation, existing);
  }
  if (!context.dryRun) await markCreating(db, connector.name, resource.type, resource.id);
  creation.beforePost?.();
  const path = ENDPOINT[resource.type];
  const response = await push(context, resource, { method: 'POST', path, body: document }, [409]);
  if (!response) return undefined; // dry run
  if (response.status === 409) {
    const value = matchOn === 'none' ? undefined : document[matchOn];
    const existing = typeof value === 'string' ? await lookupRemote(context, resource, matchOn, value) : undefined;
    if (!existing) throw new Rejected(creation.unmatchedConflict, { method: 'POST', path, body: document }, { status: 409, body: response.body ?? response.text });
    return adopt(context, creation, existing);
  }
  const remoteId = remoteIdOf(response.body);
  if (!remoteId) throw new RetryLater('unavailable', `POST ${path}: the target answered without an id`);
  await saveLink(db, connector.name, resource.type, resource.id, {
    remoteId,
    state: 'active',
    acknowledged: document,
    version: creation.version,
    referencedIds: creation.referencedIds,
  });
  await creation.afterCreated?.();
  return remoteId;
}

async function adopt(context: SyncContext, creation: Creation, existing: Document): Promise<string> {
  const remoteId = existing.id as string;
  if (!context.dryRun) context.journal.event('sync.adopt', { remoteId, matchedOn: creation.matchOn }, creation.resource);
  await creation.adopt(existing, remoteId);
  return remoteId;
}
