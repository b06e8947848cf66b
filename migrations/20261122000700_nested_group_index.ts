/**
 * A partial index over the memberships whose member is a group (nesting). Reads of a user's
 * `groups` ask first whether any nesting exists at all; with this index that is one probe, and
 * when there is none they take the plain join instead of the recursive walk (member-store.ts).
 * The recursive step also looks up "groups containing group X" here, an index a fraction of the size.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE INDEX group_members_nested ON group_members (member_id) WHERE member_type = 'Group'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX group_members_nested');
}
