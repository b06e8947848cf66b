/**
 * resource_counts in slots (decision 0708): a resource type's total is the sum of its rows, and a
 * transaction adds its creates and deletes to the slot of its connection (pg_backend_pid() % 16).
 * With one row per type, every create locked that row until commit, so two transactions that
 * create users ran one after the other; with slots they run side by side unless their
 * connections share a slot. The existing total stays in slot 0.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE resource_counts ADD COLUMN slot smallint NOT NULL DEFAULT 0;
    ALTER TABLE resource_counts DROP CONSTRAINT resource_counts_pkey;
    ALTER TABLE resource_counts ADD PRIMARY KEY (resource_type, slot);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    UPDATE resource_counts c SET total = s.total
      FROM (SELECT resource_type, sum(total) AS total FROM resource_counts GROUP BY resource_type) s
     WHERE c.resource_type = s.resource_type AND c.slot = 0;
    DELETE FROM resource_counts WHERE slot <> 0;
    ALTER TABLE resource_counts DROP CONSTRAINT resource_counts_pkey;
    ALTER TABLE resource_counts DROP COLUMN slot;
    ALTER TABLE resource_counts ADD PRIMARY KEY (resource_type);
  `);
}
