/**
 * console_tasks: a long action started in the console (a full or report-only sync, an HR import
 * apply) runs in the background of the Roster process that took the request; this row is its
 * progress and, once finished, its report or its error. In the database rather than in memory so
 * the status page and its JSON answer from any Roster process behind a load balancer, and a task
 * whose process stopped is seen as interrupted (its heartbeat, updated_at, stops moving).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE console_tasks (
      id text PRIMARY KEY,
      kind text NOT NULL CHECK (kind IN ('sync', 'import')),
      title text NOT NULL,
      started_by text NOT NULL,
      request_id text NOT NULL,
      state text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done', 'failed')),
      phase text NOT NULL DEFAULT 'starting',
      done integer NOT NULL DEFAULT 0,
      total integer NOT NULL DEFAULT 0,
      result jsonb,
      error text,
      started_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE console_tasks`);
}
