/**
 * console_uploads: an HR export uploaded in the console, kept between its dry run and the
 * person's decision to apply it (a file input cannot be filled again by the server). Bound to the
 * session that uploaded it; deleted when applied, and after an hour by the console's sweep.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE console_uploads (
      id text PRIMARY KEY,
      session_hash text NOT NULL,
      file_name text NOT NULL,
      csv_text text NOT NULL,
      columns_text text,
      full_import boolean NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE console_uploads`);
}
