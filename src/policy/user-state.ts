/**
 * What the policy engine knows about one user, read in one statement (the policy hook runs on
 * every user write, so it costs a single round trip when nothing changes): the managed groups the
 * user is in, the roles held and since when, open exception grants, open separation-of-duties
 * violations, and the version of the policy in force.
 */
import type { Knex } from 'knex';

export interface OpenException {
  id: string;
  groupName: string;
  expiresAt: Date;
  reason: string;
}

export interface UserPolicyState {
  policyVersion: string | undefined;
  /** Managed groups the user is a member of, by lower-cased name. */
  memberships: Map<string, { id: string; name: string }>;
  /** Roles held, with the time each was granted. */
  roles: Map<string, Date>;
  exceptions: OpenException[];
  violations: Set<string>;
}

interface StateRow {
  kind: 'member' | 'role' | 'exception' | 'violation' | 'policy';
  key: string;
  name: string | null;
  at: Date | null;
  extra: string | null;
}

export async function loadUserPolicyState(tx: Knex.Transaction | Knex, userId: string): Promise<UserPolicyState> {
  const { rows } = (await tx.raw(
    `SELECT 'member' AS kind, g.id::text AS key, g.resource->>'displayName' AS name, NULL::timestamptz AS at, NULL::text AS extra
       FROM group_members gm JOIN groups g ON g.id = gm.group_id
      WHERE gm.member_id = ? AND g.managed_by IS NOT NULL
     UNION ALL SELECT 'role', role, NULL, granted_at, NULL FROM policy_roles WHERE user_id = ?
     UNION ALL SELECT 'exception', e.id::text, g.resource->>'displayName', e.expires_at, e.reason
       FROM policy_exceptions e JOIN groups g ON g.id = e.group_id WHERE e.user_id = ? AND e.ended_at IS NULL
     UNION ALL SELECT 'violation', conflict, NULL, since, NULL FROM policy_violations WHERE user_id = ?
     UNION ALL SELECT 'policy', version, NULL, NULL, NULL FROM policy_state`,
    [userId, userId, userId, userId],
  )) as { rows: StateRow[] };
  const state: UserPolicyState = { policyVersion: undefined, memberships: new Map(), roles: new Map(), exceptions: [], violations: new Set() };
  for (const row of rows) {
    switch (row.kind) {
      case 'member':
        state.memberships.set(row.name!.toLowerCase(), { id: row.key, name: row.name! });
        break;
      case 'role':
        state.roles.set(row.key, row.at!);
        break;
      case 'exception':
        state.exceptions.push({ id: row.key, groupName: row.name!, expiresAt: row.at!, reason: row.extra ?? '' });
        break;
      case 'violation':
        state.violations.add(row.key);
        break;
      case 'policy':
        state.policyVersion = row.key;
        break;
    }
  }
  return state;
}
