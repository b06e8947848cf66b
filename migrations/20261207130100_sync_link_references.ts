/**
 * Which local resources each linked object's pushed document refers to (the enterprise `manager`,
 * any `$ref`), per connector (decision 0208). A reference goes out in the target's id, and only
 * once the referenced object exists there; when it appears on (or leaves) the target, the objects
 * that refer to it are synced again. Finding them is one probe of this GIN index instead of a scan
 * of every user's document.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE sync_links ADD COLUMN referenced_ids uuid[];
    CREATE INDEX sync_links_referenced ON sync_links USING gin (referenced_ids) WHERE referenced_ids IS NOT NULL;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP INDEX sync_links_referenced;
    ALTER TABLE sync_links DROP COLUMN referenced_ids;
  `);
}
