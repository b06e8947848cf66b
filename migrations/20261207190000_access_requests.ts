/**
 * Access requests (issue 17, decision 0601): a person asks for an entry of the policy's catalog,
 * for themselves (console) or an operator asks on their behalf (ops API, CLI); each approval stage
 * is decided in order by one of its approvers; an approval of the last stage grants the access as
 * exceptions (policy_exceptions.request_id names the request, so reviews and the person page can
 * say "granted by request #n"). A request undecided by expires_at expires (a queued job).
 *
 * console_sessions.email: the signed-in person's email claim, to find them among Roster's users.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE access_requests (
      id bigserial PRIMARY KEY,
      catalog_entry text NOT NULL,
      -- Who gets the access.
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      -- Who asked: the journal actor, and the Roster user when the asker is one (self-service, or an operator found among users).
      requested_by text NOT NULL,
      requester_user_id uuid REFERENCES users(id) ON DELETE SET NULL,
      justification text,
      -- How long the access should last: days from approval, or until a date.
      duration_days integer CHECK (duration_days > 0),
      requested_until timestamptz,
      status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied', 'withdrawn', 'expired')),
      -- Stages decided so far (0 = waiting for the first); stage_count from the catalog entry at request time.
      stage integer NOT NULL DEFAULT 0,
      stage_count integer NOT NULL CHECK (stage_count > 0),
      policy_version text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      expires_at timestamptz NOT NULL,
      closed_at timestamptz,
      closed_by text,
      closed_reason text,
      granted_until timestamptz,
      CHECK (duration_days IS NOT NULL OR requested_until IS NOT NULL)
    );
    CREATE INDEX access_requests_pending ON access_requests (created_at) WHERE status = 'pending';
    CREATE INDEX access_requests_user ON access_requests (user_id, id DESC);
    CREATE INDEX access_requests_requester ON access_requests (requester_user_id, id DESC);

    -- One decision per stage: the approver (a Roster user), the actor who recorded it, and why.
    CREATE TABLE access_request_decisions (
      request_id bigint NOT NULL REFERENCES access_requests(id) ON DELETE CASCADE,
      stage integer NOT NULL,
      decision text NOT NULL CHECK (decision IN ('approve', 'deny')),
      approver_user_id uuid REFERENCES users(id) ON DELETE SET NULL,
      approver_name text NOT NULL,
      actor text NOT NULL,
      reason text NOT NULL,
      decided_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      PRIMARY KEY (request_id, stage)
    );

    ALTER TABLE policy_exceptions ADD COLUMN request_id bigint REFERENCES access_requests(id) ON DELETE SET NULL;
    CREATE INDEX policy_exceptions_request ON policy_exceptions (request_id) WHERE request_id IS NOT NULL;

    ALTER TABLE console_sessions ADD COLUMN email text;
  `);
}

export async function down(): Promise<void> {
  throw new Error('Roster migrations are forward-only');
}
