/**
 * The effect of a policy on every user at once, in SQL: one pass over the users table evaluates
 * all rules (each rule's filter translated by filterToSql, the same engine the SCIM core uses), then
 * set operations compare the result with the roles held and the managed memberships stored.
 *
 * The CTEs produce `changes(kind, name, change, user_id)`:
 *   kind 'role'      name = role        change 'gain' | 'loss'
 *   kind 'group'     name = lower(group) change 'gain' | 'loss'
 *   kind 'violation' name = "a+b"       change 'conflict'
 * Semantics match evaluate.ts / reconcile-user.ts exactly (the property test checks it): the rule
 * filter from effectiveFilter, conflicts resolved as resolveConflicts does, exceptions only for groups the
 * policy names and only while the user is active.
 */
import type { FilterNode } from '../scim/filter/ast.js';
import { filterToSql, type SqlFragment } from '../scim/filter/sql.js';
import { effectiveFilter } from './evaluate.js';
import type { Policy } from './policy-file.js';

const NOT_DEACTIVATED = `NOT COALESCE(u.resource->'active' = 'false'::jsonb, false)`;

function join(parts: SqlFragment[], separator: string): SqlFragment {
  return { sql: parts.map((p) => p.sql).join(separator), bindings: parts.flatMap((p) => p.bindings) };
}

function values(rows: unknown[][], types: string[]): SqlFragment {
  return {
    sql: `VALUES ${rows.map(() => `(${types.map((t) => `?::${t}`).join(', ')})`).join(', ')}`,
    bindings: rows.flat(),
  };
}

/**
 * The rules' conditions over one row of `users u`, each distinct leaf (comparison, presence or
 * value filter) translated once: `leaves` are the SELECT list of a per-row subquery (`l0`, `l1`, …)
 * and each rule's condition combines those columns with the operators filterToSql itself emits for
 * `and`, `or` and `not` (`(a AND b)`, `(a OR b)`, `NOT COALESCE((a), false)`), so a rule's value,
 * NULL included, is exactly that of filterToSql over the whole filter. With 50 rules the same few
 * leaves recur (`active`, the department, the dates): 50 rules × 100,000 users read each attribute
 * out of the jsonb document once per leaf instead of once per rule.
 */
export function sharedRuleConditions(filters: FilterNode[], alias: string): { leaves: SqlFragment[]; conditions: string[] } {
  const index = new Map<string, number>();
  const leaves: SqlFragment[] = [];
  const combine = (node: FilterNode): string => {
    switch (node.kind) {
      case 'and':
        return `(${combine(node.left)} AND ${combine(node.right)})`;
      case 'or':
        return `(${combine(node.left)} OR ${combine(node.right)})`;
      case 'not':
        return `NOT COALESCE((${combine(node.operand)}), false)`;
      default: {
        const key = JSON.stringify(node);
        let n = index.get(key);
        if (n === undefined) {
          n = leaves.length;
          index.set(key, n);
          const leaf = filterToSql(node, 'User', alias);
          leaves.push({ sql: `(${leaf.sql}) AS l${n}`, bindings: leaf.bindings });
        }
        return `l${n}`;
      }
    }
  };
  const conditions = filters.map(combine);
  return { leaves, conditions };
}

export function changesSql(policy: Policy, now: Date): SqlFragment {
  const groupKeys = [...policy.groups.keys()];
  const parts: SqlFragment[] = [];

  // One pass over users: every rule is a CASE in one array per row (much cheaper than a subquery
  // per rule and row), unnested into (user, role) pairs. The CASE is TRUE only when the rule
  // matches. The distinct leaves of all rules are computed once per user in a subquery (OFFSET 0
  // keeps PostgreSQL from inlining them back into every rule), see sharedRuleConditions.
  const { leaves, conditions } = sharedRuleConditions(
    policy.roles.map((role) => effectiveFilter(role, now)),
    'u',
  );
  const ruleChecks = policy.roles.map((role, i) => ({ sql: `CASE WHEN COALESCE((${conditions[i]}), false) THEN ?::text END`, bindings: [role.name] }));
  parts.push(
    ruleChecks.length
      ? {
          sql: `desired_roles AS MATERIALIZED (SELECT f.user_id, r.role
      FROM (SELECT u.id AS user_id, ${join(leaves, ', ').sql} FROM users u OFFSET 0) f
      CROSS JOIN LATERAL unnest(ARRAY[${join(ruleChecks, ', ').sql}]) AS r(role) WHERE r.role IS NOT NULL)`,
          bindings: [...join(leaves, '').bindings, ...join(ruleChecks, '').bindings],
        }
      : { sql: `desired_roles AS (SELECT NULL::uuid AS user_id, NULL::text AS role WHERE false)`, bindings: [] },
  );

  const pairs = policy.conflicts.map(([a, b], i) => [i, a, b]);
  parts.push(
    pairs.length
      ? {
          sql: `conflicts(n, a, b) AS (${values(pairs, ['int', 'text', 'text']).sql}),
  violations AS MATERIALIZED (
    SELECT d1.user_id, c.a, c.b FROM conflicts c
    JOIN desired_roles d1 ON d1.role = c.a
    JOIN desired_roles d2 ON d2.user_id = d1.user_id AND d2.role = c.b)`,
          bindings: values(pairs, ['int', 'text', 'text']).bindings,
        }
      : { sql: `violations AS (SELECT NULL::uuid AS user_id, NULL::text AS a, NULL::text AS b WHERE false)`, bindings: [] },
  );
  if (policy.onConflict === 'keep-first' && pairs.length) {
    // resolveConflicts in SQL, for the users with a conflict only: their matching roles ranked
    // (held first, earliest granted first, then policy order), then kept greedily one by one.
    const order = policy.roles.map((r, i) => [r.name, i]);
    parts.push({
      sql: `role_order(role, n) AS (${values(order, ['text', 'int']).sql}),
  conflicted AS (SELECT DISTINCT user_id FROM violations),
  ranked AS MATERIALIZED (
    SELECT d.user_id, d.role, row_number() OVER (PARTITION BY d.user_id ORDER BY (h.granted_at IS NULL), h.granted_at, o.n) AS k
      FROM desired_roles d JOIN conflicted cu ON cu.user_id = d.user_id JOIN role_order o ON o.role = d.role
      LEFT JOIN policy_roles h ON h.user_id = d.user_id AND h.role = d.role),
  greedy(user_id, k, accepted) AS (
    SELECT user_id, 0::bigint, ARRAY[]::text[] FROM conflicted
    UNION ALL
    SELECT g.user_id, g.k + 1,
      CASE WHEN EXISTS (SELECT 1 FROM conflicts c WHERE (c.a = r.role AND c.b = ANY(g.accepted)) OR (c.b = r.role AND c.a = ANY(g.accepted)))
           THEN g.accepted ELSE g.accepted || r.role END
      FROM greedy g JOIN ranked r ON r.user_id = g.user_id AND r.k = g.k + 1),
  losers AS (
    SELECT r.user_id, r.role FROM ranked r
      JOIN (SELECT DISTINCT ON (user_id) user_id, accepted FROM greedy ORDER BY user_id, k DESC) f ON f.user_id = r.user_id
     WHERE NOT (r.role = ANY(f.accepted))),
  kept_roles AS MATERIALIZED (
    SELECT d.user_id, d.role FROM desired_roles d
     WHERE NOT EXISTS (SELECT 1 FROM losers l WHERE l.user_id = d.user_id AND l.role = d.role))`,
      bindings: values(order, ['text', 'int']).bindings,
    });
  } else {
    parts.push({ sql: `kept_roles AS MATERIALIZED (SELECT user_id, role FROM desired_roles)`, bindings: [] });
  }

  const roleGroups = policy.roles.flatMap((role) => role.groups.map((g) => [role.name, g.toLowerCase()]));
  parts.push(
    roleGroups.length
      ? { sql: `role_groups(role, group_key) AS (${values(roleGroups, ['text', 'text']).sql})`, bindings: values(roleGroups, ['text', 'text']).bindings }
      : { sql: `role_groups AS (SELECT NULL::text AS role, NULL::text AS group_key WHERE false)`, bindings: [] },
  );
  parts.push({
    sql: `desired_members AS MATERIALIZED (
    SELECT k.user_id, rg.group_key FROM kept_roles k JOIN role_groups rg ON rg.role = k.role
    UNION
    SELECT e.user_id, lower(g.resource->>'displayName')
      FROM policy_exceptions e JOIN groups g ON g.id = e.group_id JOIN users u ON u.id = e.user_id
     WHERE e.ended_at IS NULL AND e.expires_at > ?::timestamptz AND ${NOT_DEACTIVATED}
       AND lower(g.resource->>'displayName') = ANY(?::text[]))`,
    bindings: [now.toISOString(), groupKeys],
  });
  parts.push({
    sql: `current_members AS MATERIALIZED (
    SELECT gm.member_id AS user_id, lower(g.resource->>'displayName') AS group_key
      FROM group_members gm JOIN groups g ON g.id = gm.group_id
     WHERE gm.member_type = 'User' AND (g.managed_by IS NOT NULL OR lower(g.resource->>'displayName') = ANY(?::text[])))`,
    bindings: [groupKeys],
  });
  parts.push({
    // Set differences as anti-joins (each side is already free of duplicates: kept_roles and
    // desired_members by construction, policy_roles by its key, current_members because group
    // names are unique case-insensitively), which hash the smaller side instead of both.
    sql: `changes AS (
    SELECT 'role' AS kind, k.role AS name, 'gain' AS change, k.user_id FROM kept_roles k
     WHERE NOT EXISTS (SELECT 1 FROM policy_roles h WHERE h.user_id = k.user_id AND h.role = k.role)
    UNION ALL SELECT 'role', h.role, 'loss', h.user_id FROM policy_roles h
     WHERE NOT EXISTS (SELECT 1 FROM kept_roles k WHERE k.user_id = h.user_id AND k.role = h.role)
    UNION ALL SELECT 'group', d.group_key, 'gain', d.user_id FROM desired_members d
     WHERE NOT EXISTS (SELECT 1 FROM current_members c WHERE c.user_id = d.user_id AND c.group_key = d.group_key)
    UNION ALL SELECT 'group', c.group_key, 'loss', c.user_id FROM current_members c
     WHERE NOT EXISTS (SELECT 1 FROM desired_members d WHERE d.user_id = c.user_id AND d.group_key = c.group_key)
    UNION ALL SELECT 'violation', a || '+' || b, 'conflict', user_id FROM violations)`,
    bindings: [],
  });
  const combined = join(parts, ',\n  ');
  return { sql: `WITH RECURSIVE ${combined.sql}`, bindings: combined.bindings };
}
