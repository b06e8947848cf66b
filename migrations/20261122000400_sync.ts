/**
 * Outbound sync state (issue 4). Everything a sync worker must share with other processes lives
 * here, never in process memory:
 *  - sync_links: the remote-id table, one row per (connector, local resource), with the attributes
 *    the target last acknowledged (the base the next diff is computed from);
 *  - sync_members: the group memberships the target last acknowledged, one row per member, so a
 *    membership diff is a set difference in SQL, proportional to the group, never a full PUT;
 *  - sync_parked: objects a target rejected for their content, with the request and response;
 *  - sync_connectors: per-connector runtime state shared by every process (rate-limit slot,
 *    circuit breaker, mass-change guard, last success);
 *  - sync_worker_heartbeats: liveness of job-queue workers, so a job held by a killed process is
 *    released in seconds rather than graphile-worker's 4-hour lock expiry (decision 0203).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE sync_links (
      connector text NOT NULL,
      resource_type text NOT NULL CHECK (resource_type IN ('User', 'Group')),
      resource_id uuid NOT NULL,
      -- NULL while a create is in flight: a retry must look the object up before creating again.
      remote_id text,
      -- 'creating' | 'active' | 'disabled' (deprovisioned with active=false)
      state text NOT NULL CHECK (state IN ('creating', 'active', 'disabled')),
      acknowledged jsonb,
      adopted boolean NOT NULL DEFAULT false,
      synced_version bigint,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (connector, resource_type, resource_id)
    );
    CREATE UNIQUE INDEX sync_links_remote ON sync_links (connector, resource_type, remote_id);

    CREATE TABLE sync_members (
      connector text NOT NULL,
      group_id uuid NOT NULL,
      member_id uuid NOT NULL,
      member_type text NOT NULL CHECK (member_type IN ('User', 'Group')),
      remote_id text NOT NULL,
      PRIMARY KEY (connector, group_id, member_id)
    );

    CREATE TABLE sync_parked (
      connector text NOT NULL,
      resource_type text NOT NULL,
      resource_id uuid NOT NULL,
      parked_at timestamptz NOT NULL DEFAULT now(),
      reason text NOT NULL,
      request jsonb,
      response jsonb,
      PRIMARY KEY (connector, resource_type, resource_id)
    );

    CREATE TABLE sync_connectors (
      connector text PRIMARY KEY,
      -- Rate limit (GCRA): the earliest time the next request may start, shared by all processes.
      next_request_at timestamptz NOT NULL DEFAULT '-infinity',
      circuit text NOT NULL DEFAULT 'closed' CHECK (circuit IN ('closed', 'open', 'half-open')),
      consecutive_failures integer NOT NULL DEFAULT 0,
      circuit_opened_count integer NOT NULL DEFAULT 0,
      circuit_until timestamptz,
      last_success_at timestamptz,
      last_failure_at timestamptz,
      last_error text,
      -- Mass-change guard: deprovisions counted in the current window; paused until approved.
      guard_window_start timestamptz NOT NULL DEFAULT now(),
      guard_deprovisions integer NOT NULL DEFAULT 0,
      paused_at timestamptz,
      paused_reason text,
      last_full_sync_at timestamptz
    );

    CREATE TABLE sync_worker_heartbeats (
      worker_id text PRIMARY KEY,
      heartbeat_at timestamptz NOT NULL DEFAULT now()
    );
  `);
}

export async function down(): Promise<void> {
  throw new Error('Roster migrations are forward-only');
}
