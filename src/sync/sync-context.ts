/**
 * What syncing one resource needs besides sending requests: a way to queue what depends on an
 * object that just appeared on or left the target: the groups whose remote membership lists it,
 * and the objects whose pushed documents refer to it (a user's manager, references.ts).
 */
import type { Knex } from 'knex';
import type { Connector } from './connector.js';
import { enqueueSyncJobs } from './jobs.js';
import { referrersOf } from './links.js';
import type { PushContext } from './push.js';

export interface SyncContext extends PushContext {
  /** The object became active, or stopped being active, on the target: re-sync its groups and its referrers. */
  presenceChanged(id: string): Promise<void>;
  /** The target dropped the member (deleted it): forget the memberships it acknowledged. */
  forgetMemberships(memberId: string): Promise<void>;
  /** The object's link is gone (deleted on the target): re-sync the objects that refer to it. */
  referrersChanged(id: string): Promise<void>;
}

/** Groups that list the member locally and are synced (in scope or linked), plus groups the target lists it in. */
async function groupsToRecheck(db: Knex, connector: Connector, memberId: string): Promise<string[]> {
  const scope = connector.scopeSql('Group');
  const { rows } = (await db.raw(
    `SELECT r.id::text AS id FROM group_members gm JOIN groups r ON r.id = gm.group_id
      WHERE gm.member_id = ? AND ((${scope.sql}) OR EXISTS (
        SELECT 1 FROM sync_links l WHERE l.connector = ? AND l.resource_type = 'Group' AND l.resource_id = r.id))
     UNION SELECT group_id::text FROM sync_members WHERE connector = ? AND member_id = ?`,
    [memberId, ...scope.bindings, connector.name, connector.name, memberId],
  )) as { rows: Array<{ id: string }> };
  return rows.map((row) => row.id);
}

export function createSyncContext(push: PushContext): SyncContext {
  const { db, connector } = push;
  const queueReferrers = async (id: string) => {
    const referrers = await referrersOf(db, connector.name, id);
    await enqueueSyncJobs(db, referrers.map((r) => ({ connector: connector.name, type: r.type, id: r.id })));
  };
  return {
    ...push,
    async presenceChanged(id) {
      if (push.dryRun) return;
      const groups = await groupsToRecheck(db, connector, id);
      await enqueueSyncJobs(db, groups.map((group) => ({ connector: connector.name, type: 'Group' as const, id: group })));
      await queueReferrers(id);
    },
    async forgetMemberships(memberId) {
      if (push.dryRun) return;
      await db('sync_members').where({ connector: connector.name, member_id: memberId }).delete();
    },
    async referrersChanged(id) {
      if (push.dryRun) return;
      await queueReferrers(id);
    },
  };
}
