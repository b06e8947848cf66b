/**
 * journal_outbox: journal entries a sync job has produced but that are not yet on the hash chain.
 * A job writes its entries here (one INSERT, no chain lock) before it completes, and a background
 * appender moves them onto the chain in batches, deleting them in the same transaction (decision
 * 0206). A process killed in between leaves them here for the next appender: none are lost.
 * `entries` is json, not jsonb, so the entries reach the chain exactly as the job wrote them.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE journal_outbox (
      id bigserial PRIMARY KEY,
      actor text NOT NULL,
      source text NOT NULL,
      request_id text,
      entries json NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      -- Failed appends of this row on its own; past a limit it is left for an operator (logged).
      failures integer NOT NULL DEFAULT 0,
      last_error text
    );
    CREATE INDEX journal_outbox_actor ON journal_outbox (actor, id);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE journal_outbox');
}
