/**
 * The ledger of orphaned and drifting downstream accounts (issue 17, decision 0600). Every full
 * or report-only sync records, per connector, each remote account Roster does not manage (an
 * orphan) and each managed object whose remote state differs from the desired one (drift), one
 * row per finding, keyed so the next run updates it instead of adding another. A row stays until
 * it is no longer seen by a later full sync of its connector; an operator's action (adopt,
 * disable, delete, ignore until a date) is kept on the row and journaled with the operator.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE governance_ledger (
      id bigserial PRIMARY KEY,
      connector text NOT NULL,
      kind text NOT NULL CHECK (kind IN ('orphan', 'drift')),
      resource_type text NOT NULL CHECK (resource_type IN ('User', 'Group')),
      -- orphan: the remote id; drift: the local id and the kind of drift ('<uuid>:attributes').
      item_key text NOT NULL,
      -- The remote id (orphans; drift on a linked object), the local object (drift; an adopted orphan).
      remote_id text,
      resource_id uuid,
      -- userName or displayName, as the target (orphans) or Roster (drift) names it.
      name text NOT NULL,
      -- orphan: a summary of the remote account; drift: what differs (attributes, values, members).
      details jsonb NOT NULL,
      status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'ignored', 'adopted', 'disabled', 'deleted', 'repaired')),
      first_seen_at timestamptz NOT NULL DEFAULT now(),
      last_seen_at timestamptz NOT NULL DEFAULT now(),
      -- The full sync that last saw it: rows a later run of the same connector did not see are removed.
      seen_by text NOT NULL,
      ignored_reason text,
      ignored_until timestamptz,
      acted_by text,
      acted_at timestamptz,
      UNIQUE (connector, kind, resource_type, item_key)
    );
    CREATE INDEX governance_ledger_status ON governance_ledger (connector, status, id);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE governance_ledger`);
}
