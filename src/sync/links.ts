/**
 * The remote-id table (sync_links) and the acknowledged memberships (sync_members): what each
 * target last confirmed. One statement per function. Writes commit on their own (autocommit),
 * right after the target answered, so a crash a moment later still knows what the target has.
 */
import type { Knex } from 'knex';
import { isResourceId } from '../store/rows.js';
import type { Connector, ResourceType } from './connector.js';
import type { OutboxInsert } from './push-journal.js';

export interface Link {
  remoteId: string | null;
  state: 'creating' | 'active' | 'disabled';
  acknowledged: Record<string, unknown> | null;
  adopted: boolean;
}

export async function getLink(db: Knex, connector: string, type: ResourceType, id: string): Promise<Link | undefined> {
  const row = (await db('sync_links')
    .select('remote_id', 'state', 'acknowledged', 'adopted')
    .where({ connector, resource_type: type, resource_id: id })
    .first()) as { remote_id: string | null; state: Link['state']; acknowledged: Link['acknowledged']; adopted: boolean } | undefined;
  return row ? { remoteId: row.remote_id, state: row.state, acknowledged: row.acknowledged, adopted: row.adopted } : undefined;
}

export interface SyncState {
  /** The local resource, when it exists. */
  row: { resource: Record<string, unknown>; version: number } | undefined;
  /** It exists and is in the connector's scope. */
  inScope: boolean;
  link: Link | undefined;
}

interface SyncStateRow {
  found: boolean;
  resource: Record<string, unknown>;
  version: number;
  in_scope: boolean;
  linked: boolean;
  remote_id: string | null;
  state: Link['state'];
  acknowledged: Link['acknowledged'];
  adopted: boolean;
}

/**
 * The statement behind readSyncState, for a caller that sends it in a round trip of its own
 * (withSyncLocks reads it right after taking the object's lock). Undefined for an id that is not a
 * Roster resource id (it must not reach the ::uuid cast).
 */
export function syncStateQuery(db: Knex, connector: Connector, type: ResourceType, id: string): Knex.Raw | undefined {
  if (!isResourceId(id)) return undefined;
  const scope = connector.scopeSql(type);
  return db.raw(
    `SELECT r.id IS NOT NULL AS found, r.resource, r.version, coalesce(${scope.sql}, false) AS in_scope,
            l.resource_id IS NOT NULL AS linked, l.remote_id, l.state, l.acknowledged, l.adopted
       FROM (SELECT ?::uuid AS id) AS k
       LEFT JOIN ${type === 'User' ? 'users' : 'groups'} r ON r.id = k.id
       LEFT JOIN sync_links l ON l.connector = ? AND l.resource_type = ? AND l.resource_id = k.id`,
    [...scope.bindings, id, connector.name, type],
  );
}

/** The row syncStateQuery returned, as a SyncState. */
export function toSyncState(row: unknown): SyncState {
  const r = row as SyncStateRow;
  return {
    row: r.found ? { resource: r.resource, version: r.version } : undefined,
    inScope: r.found && r.in_scope,
    link: r.linked ? { remoteId: r.remote_id, state: r.state, acknowledged: r.acknowledged, adopted: r.adopted } : undefined,
  };
}

/**
 * What one sync starts from, in one round trip: the local resource, whether it is in scope (the
 * same SQL condition as the enqueue and the full sync) and its link on this connector.
 */
export async function readSyncState(db: Knex, connector: Connector, type: ResourceType, id: string): Promise<SyncState> {
  const query = syncStateQuery(db, connector, type, id);
  if (!query) return { row: undefined, inScope: false, link: await getLink(db, connector.name, type, id) };
  const { rows } = (await query) as { rows: SyncStateRow[] };
  return toSyncState(rows[0]);
}

/** Records that a create is about to be sent, so a retry after a crash looks before creating again. */
export async function markCreating(db: Knex, connector: string, type: ResourceType, id: string): Promise<void> {
  await db.raw(
    `INSERT INTO sync_links (connector, resource_type, resource_id, state) VALUES (?, ?, ?, 'creating')
     ON CONFLICT (connector, resource_type, resource_id) DO UPDATE SET state = 'creating', remote_id = NULL, updated_at = now()`,
    [connector, type, id],
  );
}

export async function saveLink(...args: Parameters<typeof saveLinkQuery>): Promise<void> {
  await saveLinkQuery(...args);
}

/** The statement saveLink runs, for a caller that sends it itself (with the lock's COMMIT, locks.ts). */
export function saveLinkQuery(
  db: Knex,
  connector: string,
  type: ResourceType,
  id: string,
  link: {
    remoteId: string;
    state: 'active' | 'disabled';
    acknowledged: Record<string, unknown>;
    adopted?: boolean;
    version?: number | undefined;
    /** The local ids the pushed document refers to (references.ts); absent: unchanged. */
    referencedIds?: readonly string[] | undefined;
  },
  /** The job's journal entries so far, written to journal_outbox by the same statement (one commit instead of two). */
  outbox?: OutboxInsert | undefined,
): Knex.Raw {
  const journal = outbox ? `, journal AS (INSERT INTO journal_outbox (actor, source, request_id, entries) VALUES (?, ?, ?, ?::json))` : '';
  return db.raw(
    `WITH link AS (INSERT INTO sync_links (connector, resource_type, resource_id, remote_id, state, acknowledged, adopted, synced_version, referenced_ids)
     VALUES (?, ?, ?, ?, ?, ?::jsonb, ?, ?, NULLIF(?::uuid[], '{}'))
     ON CONFLICT (connector, resource_type, resource_id) DO UPDATE SET
       remote_id = EXCLUDED.remote_id, state = EXCLUDED.state, acknowledged = EXCLUDED.acknowledged,
       adopted = sync_links.adopted OR EXCLUDED.adopted, synced_version = EXCLUDED.synced_version,
       referenced_ids = CASE WHEN ? THEN EXCLUDED.referenced_ids ELSE sync_links.referenced_ids END, updated_at = now())${journal}
     SELECT 1`,
    [
      connector,
      type,
      id,
      link.remoteId,
      link.state,
      JSON.stringify(link.acknowledged),
      link.adopted ?? false,
      link.version ?? null,
      // No references is NULL (outside the GIN index), as for objects never synced since it existed.
      [...(link.referencedIds ?? [])],
      link.referencedIds !== undefined,
      ...(outbox ? [outbox.actor, outbox.source, outbox.requestId, outbox.entries] : []),
    ],
  );
}

/** Linked objects whose pushed document refers to this resource: to sync again when it appears on or leaves the target. */
export async function referrersOf(db: Knex, connector: string, id: string): Promise<Array<{ type: ResourceType; id: string }>> {
  const { rows } = (await db.raw(
    `SELECT resource_type AS type, resource_id::text AS id FROM sync_links WHERE referenced_ids @> ARRAY[?::uuid] AND referenced_ids IS NOT NULL AND connector = ?`,
    [id, connector],
  )) as { rows: Array<{ type: ResourceType; id: string }> };
  return rows;
}

export async function deleteLink(db: Knex, connector: string, type: ResourceType, id: string): Promise<void> {
  await db('sync_links').where({ connector, resource_type: type, resource_id: id }).delete();
  if (type === 'Group') await db('sync_members').where({ connector, group_id: id }).delete();
}

/** Local groups that have this resource as a direct member. */
export async function groupsContaining(db: Knex, memberId: string): Promise<string[]> {
  const { rows } = (await db.raw(`SELECT group_id FROM group_members WHERE member_id = ?`, [memberId])) as { rows: Array<{ group_id: string }> };
  return rows.map((r) => r.group_id);
}

export interface MemberDelta {
  memberId: string;
  memberType: ResourceType;
  remoteId: string;
}

/**
 * The membership change the target needs: members Roster wants there (local members whose own
 * object is active on this target) that it has not acknowledged, and acknowledged members Roster
 * no longer wants. Two set differences in SQL, so a 100,000-member group is never loaded whole.
 */
export async function membershipDelta(
  db: Knex,
  connector: string,
  groupId: string,
  nestedGroups: boolean,
): Promise<{ add: MemberDelta[]; remove: MemberDelta[] }> {
  const desired = `SELECT gm.member_id, gm.member_type, l.remote_id
     FROM group_members gm
     JOIN sync_links l ON l.connector = ? AND l.resource_type = gm.member_type AND l.resource_id = gm.member_id
     WHERE gm.group_id = ? AND l.state = 'active' AND l.remote_id IS NOT NULL ${nestedGroups ? '' : `AND gm.member_type = 'User'`}`;
  const acknowledged = `SELECT member_id, member_type, remote_id FROM sync_members WHERE connector = ? AND group_id = ?`;
  const [added, removed] = await Promise.all([
    db.raw(`${desired} EXCEPT ${acknowledged} ORDER BY 1`, [connector, groupId, connector, groupId]),
    db.raw(`${acknowledged} EXCEPT ${desired} ORDER BY 1`, [connector, groupId, connector, groupId]),
  ]);
  const toDelta = (row: { member_id: string; member_type: ResourceType; remote_id: string }): MemberDelta => ({
    memberId: row.member_id,
    memberType: row.member_type,
    remoteId: row.remote_id,
  });
  return { add: (added as { rows: [] }).rows.map(toDelta), remove: (removed as { rows: [] }).rows.map(toDelta) };
}

export async function acknowledgeMembersAdded(db: Knex, connector: string, groupId: string, members: readonly MemberDelta[]): Promise<void> {
  if (members.length === 0) return;
  await db.raw(
    `INSERT INTO sync_members (connector, group_id, member_id, member_type, remote_id)
     SELECT ?, ?, m.id, m.type, m.remote FROM unnest(?::uuid[], ?::text[], ?::text[]) AS m(id, type, remote)
     ON CONFLICT (connector, group_id, member_id) DO UPDATE SET remote_id = EXCLUDED.remote_id, member_type = EXCLUDED.member_type`,
    [connector, groupId, members.map((m) => m.memberId), members.map((m) => m.memberType), members.map((m) => m.remoteId)],
  );
}

export async function acknowledgeMembersRemoved(db: Knex, connector: string, groupId: string, members: readonly MemberDelta[]): Promise<void> {
  if (members.length === 0) return;
  await db.raw(`DELETE FROM sync_members WHERE connector = ? AND group_id = ? AND member_id = ANY(?::uuid[])`, [
    connector,
    groupId,
    members.map((m) => m.memberId),
  ]);
}

/** Replaces the acknowledged membership with what the target was seen to hold (reconciliation). */
export async function replaceAcknowledgedMembers(db: Knex, connector: string, groupId: string, members: readonly MemberDelta[]): Promise<void> {
  await db.transaction(async (tx) => {
    await tx('sync_members').where({ connector, group_id: groupId }).delete();
    await acknowledgeMembersAdded(tx, connector, groupId, members);
  });
}

export interface ResourceLink extends Link {
  connector: string;
  updatedAt: Date;
}

/** One resource's remote accounts in the named connectors (primary-key lookups), for the console's person page. */
export async function linksOf(db: Knex, connectors: readonly string[], type: ResourceType, id: string): Promise<ResourceLink[]> {
  if (connectors.length === 0) return [];
  const { rows } = (await db.raw(
    `SELECT connector, remote_id, state, acknowledged, adopted, updated_at FROM sync_links
      WHERE connector = ANY(?::text[]) AND resource_type = ? AND resource_id = ? ORDER BY connector`,
    [[...connectors], type, id],
  )) as { rows: Array<{ connector: string; remote_id: string | null; state: Link['state']; acknowledged: Record<string, unknown> | null; adopted: boolean; updated_at: Date }> };
  return rows.map((r) => ({ connector: r.connector, remoteId: r.remote_id, state: r.state, acknowledged: r.acknowledged, adopted: r.adopted, updatedAt: r.updated_at }));
}
