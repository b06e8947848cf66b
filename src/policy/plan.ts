/**
 * `policy plan`: what applying a policy would change, for every user, computed set-wise in SQL
 * (plan-sql.ts): per role and per group who gains and who loses (counts and a sample of user
 * names), the separation-of-duties conflicts, and how many users would lose access, which is what
 * the mass-revoke guard of `policy apply` checks.
 */
import type { Knex } from 'knex';
import type { Policy } from './policy-file.js';
import { changesSql } from './plan-sql.js';
import { appliedPolicyRow } from './policy-state.js';

export const SAMPLE_SIZE = 5;

export interface PlanLine {
  name: string;
  gains: number;
  losses: number;
  gainSample: string[];
  lossSample: string[];
}

export interface PlanViolation {
  conflict: string;
  users: number;
  sample: string[];
}

export interface Plan {
  policyVersion: string;
  policyFile: string;
  appliedVersion: string | null;
  totalUsers: number;
  roles: PlanLine[];
  groups: PlanLine[];
  violations: PlanViolation[];
  onConflict: Policy['onConflict'];
  /** Users who would lose at least one managed group. */
  usersLosingAccess: number;
  /** Users whose roles or memberships would change. */
  usersChanging: number;
}

interface SummaryRow {
  kind: 'role' | 'group' | 'violation';
  name: string;
  change: 'gain' | 'loss' | 'conflict';
  count: number;
  sample: string[];
}

/**
 * Runs one of the plan's statements in its own transaction with settings for one big analytical
 * query (docs/decisions/0107). PostgreSQL cannot see through the CTEs: it expects every rule to
 * match every user (5,000,000 pairs for 100,000 users × 50 rules; there are about 280,000). With
 * those estimates it JIT-compiled the statement (about 2 s of a 6.5 s plan) and chose merge joins
 * that sort half a million rows several times; hash joins are right for these sets at any size.
 * work_mem lets the hashes and sorts of a few hundred thousand pairs stay in memory. SET LOCAL ends
 * with the transaction.
 */
async function planQuery<T>(db: Knex, sql: string, bindings: unknown[]): Promise<{ rows: T[] }> {
  return db.transaction(async (tx) => {
    await tx.raw(`SET LOCAL jit = off; SET LOCAL enable_mergejoin = off; SET LOCAL work_mem = '64MB'`);
    return (await tx.raw(sql, bindings as Knex.RawBinding[])) as { rows: T[] };
  });
}

export async function computePlan(db: Knex, policy: Policy, now: Date = new Date()): Promise<Plan> {
  const changes = changesSql(policy, now);
  // One statement, so the rules are evaluated once: the summary rows, then three totals rows.
  // Counts are hashed; for the samples each user gets its rank by lower(userName) once (unique, so
  // the order is that of sorting by the name), and the changes are numbered per line by integers,
  // rather than sorting half a million (line, name) pairs by text.
  const [summary, applied] = await Promise.all([
    planQuery<SummaryRow | { kind: 'total'; name: string; count: number }>(
      db,
      `${changes.sql},
       lines AS MATERIALIZED (SELECT kind, name, change, count(*)::int AS count, row_number() OVER () AS line FROM changes GROUP BY kind, name, change),
       ranked_users AS MATERIALIZED (SELECT id, resource->>'userName' AS user_name, row_number() OVER (ORDER BY lower(resource->>'userName')) AS rank FROM users),
       sampled AS MATERIALIZED (
         SELECT line, user_name, rank FROM (
           SELECT l.line, u.user_name, u.rank, row_number() OVER (PARTITION BY l.line ORDER BY u.rank) AS n
             FROM changes c JOIN lines l ON l.kind = c.kind AND l.name = c.name AND l.change = c.change
             JOIN ranked_users u ON u.id = c.user_id) x
          WHERE n <= ${SAMPLE_SIZE})
       SELECT l.kind, l.name, l.change, l.count,
              ARRAY(SELECT s.user_name FROM sampled s WHERE s.line = l.line ORDER BY s.rank) AS sample
         FROM lines l
       UNION ALL SELECT 'total', 'users', '', (SELECT count(*)::int FROM users), NULL
       UNION ALL SELECT 'total', 'losing', '', (SELECT count(*)::int FROM (SELECT DISTINCT user_id FROM changes WHERE kind = 'group' AND change = 'loss') x), NULL
       UNION ALL SELECT 'total', 'changing', '', (SELECT count(*)::int FROM (SELECT DISTINCT user_id FROM changes WHERE kind <> 'violation') x), NULL`,
      changes.bindings,
    ),
    appliedPolicyRow(db),
  ]);
  const total = (name: string) => summary.rows.find((r) => r.kind === 'total' && r.name === name)?.count ?? 0;
  const lines = (kind: 'role' | 'group', names: string[]): PlanLine[] => {
    // Group names match case-insensitively (as displayName does); role names are exact, so "ops"
    // and "OPS" are two roles with a line each.
    const keyOf = (name: string) => (kind === 'group' ? name.toLowerCase() : name);
    const byName = new Map<string, PlanLine>(names.map((name) => [keyOf(name), { name, gains: 0, losses: 0, gainSample: [], lossSample: [] }]));
    for (const row of summary.rows.filter((r): r is SummaryRow => r.kind === kind)) {
      const key = keyOf(row.name);
      const line = byName.get(key) ?? byName.set(key, { name: row.name, gains: 0, losses: 0, gainSample: [], lossSample: [] }).get(key)!;
      if (row.change === 'gain') [line.gains, line.gainSample] = [row.count, row.sample];
      else [line.losses, line.lossSample] = [row.count, row.sample];
    }
    return [...byName.values()];
  };
  return {
    policyVersion: policy.version,
    policyFile: policy.sourceName,
    appliedVersion: applied?.version ?? null,
    totalUsers: total('users'),
    roles: lines('role', policy.roles.map((r) => r.name)),
    groups: lines('group', [...policy.groups.values()]),
    violations: summary.rows.filter((r): r is SummaryRow => r.kind === 'violation').map((r) => ({ conflict: r.name, users: r.count, sample: r.sample })),
    onConflict: policy.onConflict,
    usersLosingAccess: total('losing'),
    usersChanging: total('changing'),
  };
}

/** Users whose roles, memberships or conflicts the policy would change, for `policy apply`. */
export async function usersToReconcile(db: Knex, policy: Policy, now: Date = new Date()): Promise<string[]> {
  const changes = changesSql(policy, now);
  // Conflicts count only when they arise or resolve: a violation already recorded needs no visit.
  const { rows } = await planQuery<{ user_id: string }>(
    db,
    `${changes.sql}
     SELECT user_id FROM changes WHERE kind <> 'violation'
     UNION SELECT v.user_id FROM violations v
      WHERE NOT EXISTS (SELECT 1 FROM policy_violations pv WHERE pv.user_id = v.user_id AND pv.conflict = v.a || '+' || v.b)
     UNION SELECT pv.user_id FROM policy_violations pv
      WHERE NOT EXISTS (SELECT 1 FROM violations v WHERE v.user_id = pv.user_id AND pv.conflict = v.a || '+' || v.b)
     ORDER BY user_id`,
    changes.bindings,
  );
  return rows.map((r) => r.user_id);
}

/** The (user, role) pairs and (user, group) pairs the policy yields, for comparing with per-user evaluation. */
export async function desiredSets(db: Knex, policy: Policy, now: Date): Promise<{ roles: Array<[string, string]>; groups: Array<[string, string]> }> {
  const changes = changesSql(policy, now);
  const { rows } = await planQuery<{ kind: string; user_id: string; name: string }>(
    db,
    `${changes.sql}
     SELECT 'role' AS kind, user_id, role AS name FROM kept_roles
     UNION ALL SELECT 'group', user_id, group_key FROM desired_members`,
    changes.bindings,
  );
  return {
    roles: rows.filter((r) => r.kind === 'role').map((r) => [r.user_id, r.name]),
    groups: rows.filter((r) => r.kind === 'group').map((r) => [r.user_id, r.name]),
  };
}
