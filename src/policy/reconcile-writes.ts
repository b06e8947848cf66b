/**
 * Writes what a reconciliation decided (src/policy/reconcile-decide.ts), set-wise: one statement
 * per kind of change for all users, memberships through the membership store.
 */
import type { Knex } from 'knex';
import { addUserMemberships, removeUserMemberships } from '../store/member-store.js';
import { bumpVersion } from '../store/resource-store.js';
import type { Policy } from './policy-file.js';
import type { ReconcileWrites } from './reconcile-decide.js';
import { scheduleReevaluations } from './schedule.js';

/**
 * Every group whose members changed gets a new version, once; rows locked in id order. FOR NO KEY
 * UPDATE, the lock the UPDATE itself takes: FOR UPDATE would also conflict with the KEY SHARE locks
 * that another transaction's group_members inserts hold on the same groups (foreign key), and two
 * such transactions deadlocked (concurrent movers: test/policy-lifecycle.test.ts).
 */
export async function bumpGroupVersions(tx: Knex.Transaction, touchedGroups: ReadonlySet<string>): Promise<void> {
  if (touchedGroups.size === 1) await bumpVersion(tx, 'Group', [...touchedGroups][0]!);
  else if (touchedGroups.size > 1) {
    await tx.raw(
      `UPDATE groups SET version = version + 1, updated_at = date_trunc('milliseconds', now())
        WHERE id IN (SELECT id FROM groups WHERE id = ANY(?::uuid[]) ORDER BY id FOR NO KEY UPDATE)`,
      [[...touchedGroups].sort()],
    );
  }
}

/** The memberships, roles, exception ends, violations and re-evaluation jobs, in this order. */
export async function writeReconciliation(tx: Knex.Transaction, policy: Policy, writes: ReconcileWrites): Promise<void> {
  const { memberAdds, memberRemoves, roleDeletes, roleInserts, expiredIds, violationInserts, violationDeletes, schedules } = writes;
  await addUserMemberships(tx, memberAdds);
  await removeUserMemberships(tx, memberRemoves);
  if (roleDeletes.length) {
    await tx.raw(`DELETE FROM policy_roles r USING unnest(?::uuid[], ?::text[]) AS d(user_id, role) WHERE r.user_id = d.user_id AND r.role = d.role`, [
      roleDeletes.map((d) => d.userId),
      roleDeletes.map((d) => d.role),
    ]);
  }
  if (roleInserts.length) {
    await tx.raw(
      `INSERT INTO policy_roles (user_id, role, policy_version) SELECT r.user_id, r.role, ? FROM unnest(?::uuid[], ?::text[]) AS r(user_id, role)
       ON CONFLICT (user_id, role) DO NOTHING`,
      [policy.version, roleInserts.map((r) => r.user_id), roleInserts.map((r) => r.role)],
    );
  }
  if (expiredIds.length) await tx('policy_exceptions').whereIn('id', expiredIds).update({ ended_at: tx.raw('expires_at'), ended_by: 'expiry' });
  if (violationInserts.length) await tx('policy_violations').insert(violationInserts).onConflict(['user_id', 'conflict']).ignore();
  if (violationDeletes.length) {
    await tx.raw(`DELETE FROM policy_violations v USING unnest(?::uuid[], ?::text[]) AS d(user_id, conflict) WHERE v.user_id = d.user_id AND v.conflict = d.conflict`, [
      violationDeletes.map((d) => d.userId),
      violationDeletes.map((d) => d.conflict),
    ]);
  }
  await scheduleReevaluations(tx, schedules);
}
