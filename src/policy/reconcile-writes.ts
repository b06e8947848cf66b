/**
 * Writes what a reconciliation decided (src/policy/reconcile-decide.ts), set-wise: one statement
 * per kind of change for all users, memberships through the membership store.
 */
import type { Knex } from 'knex';
import { runFolded } from '../db/folded.js';
import { userMembershipAdds, userMembershipRemoves } from '../store/member-store.js';
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

/** The writes of several reconciliations as one (they are about distinct users). */
export function mergeWrites(all: readonly ReconcileWrites[]): ReconcileWrites {
  if (all.length === 1) return all[0]!;
  return {
    memberAdds: all.flatMap((w) => w.memberAdds),
    memberRemoves: all.flatMap((w) => w.memberRemoves),
    roleDeletes: all.flatMap((w) => w.roleDeletes),
    roleInserts: all.flatMap((w) => w.roleInserts),
    expiredIds: all.flatMap((w) => w.expiredIds),
    violationInserts: all.flatMap((w) => w.violationInserts),
    violationDeletes: all.flatMap((w) => w.violationDeletes),
    schedules: all.flatMap((w) => w.schedules),
    touchedGroups: new Set(all.flatMap((w) => [...w.touchedGroups])),
  };
}

/**
 * The memberships, roles, exception ends and violations in one statement (runFolded: none of them
 * reads another's rows), then the re-evaluation jobs.
 */
export async function writeReconciliation(tx: Knex.Transaction, policy: Policy, writes: ReconcileWrites): Promise<void> {
  const { memberAdds, memberRemoves, roleDeletes, roleInserts, expiredIds, violationInserts, violationDeletes, schedules } = writes;
  await runFolded(tx, [
    userMembershipAdds(memberAdds),
    userMembershipRemoves(memberRemoves),
    roleDeletes.length
      ? {
          sql: `DELETE FROM policy_roles r USING unnest(?::uuid[], ?::text[]) AS d(user_id, role) WHERE r.user_id = d.user_id AND r.role = d.role`,
          bindings: [roleDeletes.map((d) => d.userId), roleDeletes.map((d) => d.role)],
        }
      : undefined,
    roleInserts.length
      ? {
          sql: `INSERT INTO policy_roles (user_id, role, policy_version) SELECT r.user_id, r.role, ? FROM unnest(?::uuid[], ?::text[]) AS r(user_id, role)
       ON CONFLICT (user_id, role) DO NOTHING`,
          bindings: [policy.version, roleInserts.map((r) => r.user_id), roleInserts.map((r) => r.role)],
        }
      : undefined,
    expiredIds.length
      ? { sql: `UPDATE policy_exceptions SET ended_at = expires_at, ended_by = 'expiry' WHERE id = ANY(?::uuid[])`, bindings: [expiredIds] }
      : undefined,
    violationInserts.length
      ? {
          sql: `INSERT INTO policy_violations (user_id, conflict, policy_version) SELECT * FROM unnest(?::uuid[], ?::text[], ?::text[])
       ON CONFLICT (user_id, conflict) DO NOTHING`,
          bindings: [violationInserts.map((v) => v.user_id), violationInserts.map((v) => v.conflict), violationInserts.map((v) => v.policy_version)],
        }
      : undefined,
    violationDeletes.length
      ? {
          sql: `DELETE FROM policy_violations v USING unnest(?::uuid[], ?::text[]) AS d(user_id, conflict) WHERE v.user_id = d.user_id AND v.conflict = d.conflict`,
          bindings: [violationDeletes.map((d) => d.userId), violationDeletes.map((d) => d.conflict)],
        }
      : undefined,
  ]);
  await scheduleReevaluations(tx, schedules);
}
