/**
 * Policy: which groups Roster owns, the roles each user holds (and since when), exception grants,
 * separation-of-duties violations, and the policy version currently applied.
 *
 * - `groups.managed_by` marks a group as owned by the policy (NULL: the IdP's group). SCIM clients
 *   may read a managed group but not change its members (src/policy/managed-groups.ts).
 * - `policy_roles` is the evaluated state per user; group memberships stay in group_members, so
 *   SCIM reads and filters see them like any other membership.
 * - `policy_state` holds one row: the policy text applied last, so every Roster process (and the
 *   CLI) evaluates the same version, whatever file it was started with.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE groups ADD COLUMN managed_by text;
    CREATE INDEX groups_managed ON groups (id) WHERE managed_by IS NOT NULL;

    CREATE TABLE policy_state (
      singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
      version text NOT NULL,
      source_name text NOT NULL,
      source_text text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(),
      applied_by text NOT NULL
    );

    CREATE TABLE policy_roles (
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      role text NOT NULL,
      -- Milliseconds, as JavaScript compares them: "first granted" must mean the same in SQL (plan) and in memory.
      granted_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp()),
      policy_version text NOT NULL,
      PRIMARY KEY (user_id, role)
    );
    CREATE INDEX policy_roles_role ON policy_roles (role);

    -- An exception: a managed group given outside the rules, with a reason and an expiry.
    CREATE TABLE policy_exceptions (
      id uuid PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      group_id uuid NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
      reason text NOT NULL,
      granted_by text NOT NULL,
      granted_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      expires_at timestamptz NOT NULL,
      ended_at timestamptz,
      ended_by text
    );
    CREATE UNIQUE INDEX policy_exceptions_open ON policy_exceptions (user_id, group_id) WHERE ended_at IS NULL;
    CREATE INDEX policy_exceptions_group ON policy_exceptions (group_id) WHERE ended_at IS NULL;

    -- Open separation-of-duties violations, so each is journaled once when it arises.
    CREATE TABLE policy_violations (
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      conflict text NOT NULL,
      since timestamptz NOT NULL DEFAULT clock_timestamp(),
      policy_version text NOT NULL,
      PRIMARY KEY (user_id, conflict)
    );
  `);
}

export async function down(): Promise<void> {
  throw new Error('Roster migrations are forward-only');
}
