/**
 * What syncing one resource needs besides sending requests: a way to queue the groups whose
 * remote membership depends on a member that just appeared on or left the target.
 */
import type { Knex } from 'knex';
import type { Connector } from './connector.js';
import { enqueueSyncJobs } from './jobs.js';
import type { PushContext } from './push.js';

export interface SyncContext extends PushContext {
  /** The member became active, or stopped being active, on the target: re-sync its groups. */
  membershipChanged(memberId: string): Promise<void>;
  /** The target dropped the member (deleted it): forget the memberships it acknowledged. */
  forgetMemberships(memberId: string): Promise<void>;
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
  return {
    ...push,
    async membershipChanged(memberId) {
      if (push.dryRun) return;
      const groups = await groupsToRecheck(db, connector, memberId);
      await enqueueSyncJobs(db, groups.map((id) => ({ connector: connector.name, type: 'Group' as const, id })));
    },
    async forgetMemberships(memberId) {
      if (push.dryRun) return;
      await db('sync_members').where({ connector: connector.name, member_id: memberId }).delete();
    },
  };
}
