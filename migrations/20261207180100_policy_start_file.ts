/**
 * policy_state.start_file_version: the version of the policy file `serve` last started with
 * (decision 0502). Start-up compares it with the file it reads now: an unchanged file does not
 * revert a policy applied later from the console or the CLI; a changed file is a deploy and is
 * applied, unless a later apply would be overwritten silently.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE policy_state ADD COLUMN start_file_version text`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE policy_state DROP COLUMN start_file_version`);
}
