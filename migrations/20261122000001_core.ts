/**
 * Core storage: users, groups, group membership, bearer tokens, and the change journal.
 * Each resource keeps its SCIM representation in `resource` (JSONB, wire-shaped, canonical names);
 * server-owned values are columns. Membership is its own table so one member costs one row.
 * Timestamps are kept to the millisecond, the precision meta.created/lastModified are rendered
 * with, so a filter on a rendered value matches the row it came from.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE users (
      id uuid PRIMARY KEY,
      resource jsonb NOT NULL,
      password_hash text,
      version bigint NOT NULL DEFAULT 1,
      created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
      updated_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now())
    );
    -- userName is unique case-insensitively (RFC 7643 §4.1.1: caseExact false, uniqueness server).
    CREATE UNIQUE INDEX users_user_name_unique ON users (lower(resource->>'userName'));
    CREATE INDEX users_external_id ON users ((resource->>'externalId'));
    -- employeeNumber is caseExact false in the enterprise schema, so filters compare lower() values.
    CREATE INDEX users_employee_number ON users (lower(resource->'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'->>'employeeNumber'));
    CREATE INDEX users_updated_at ON users (updated_at, id);
    CREATE INDEX users_created_at ON users (created_at, id);

    CREATE TABLE groups (
      id uuid PRIMARY KEY,
      resource jsonb NOT NULL,
      version bigint NOT NULL DEFAULT 1,
      created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
      updated_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now())
    );
    CREATE UNIQUE INDEX groups_display_name_unique ON groups (lower(resource->>'displayName'));
    CREATE INDEX groups_external_id ON groups ((resource->>'externalId'));
    CREATE INDEX groups_updated_at ON groups (updated_at, id);
    CREATE INDEX groups_created_at ON groups (created_at, id);

    -- A member is a User or a Group. No foreign key on member_id because it points at one of two
    -- tables; deletes of users and groups remove their memberships in the same transaction.
    CREATE TABLE group_members (
      group_id uuid NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
      member_id uuid NOT NULL,
      member_type text NOT NULL CHECK (member_type IN ('User', 'Group')),
      added_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (group_id, member_id)
    );
    CREATE INDEX group_members_member ON group_members (member_id);

    -- Exact resource counts for unfiltered list responses (totalResults), kept by the write path in
    -- the same transaction, so a page of an unfiltered list never counts a million rows.
    CREATE TABLE resource_counts (
      resource_type text PRIMARY KEY,
      total bigint NOT NULL
    );
    INSERT INTO resource_counts VALUES ('User', 0), ('Group', 0);

    CREATE TABLE api_tokens (
      id uuid PRIMARY KEY,
      name text NOT NULL,
      token_hash text NOT NULL UNIQUE,
      scopes text[] NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      last_used_at timestamptz,
      revoked_at timestamptz
    );
    CREATE UNIQUE INDEX api_tokens_active_name ON api_tokens (name) WHERE revoked_at IS NULL;

    CREATE TABLE journal (
      id bigserial PRIMARY KEY,
      at timestamptz NOT NULL DEFAULT clock_timestamp(),
      actor text NOT NULL,
      source text NOT NULL,
      request_id text,
      action text NOT NULL,
      resource_type text,
      resource_id uuid,
      before jsonb,
      after jsonb,
      changes jsonb,
      reason jsonb
    );
    CREATE INDEX journal_resource ON journal (resource_type, resource_id, id);
    CREATE INDEX journal_request ON journal (request_id);
    CREATE INDEX journal_at ON journal (at);
  `);
}

export async function down(): Promise<void> {
  throw new Error('Roster migrations are forward-only');
}
