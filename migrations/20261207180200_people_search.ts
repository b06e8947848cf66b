/**
 * The console's plain-text people search (src/store/people-search.ts): one text per user holding
 * the names people search by (userName, displayName, given and family name, externalId, emails),
 * lower-cased, under a trigram index, so "contains" finds a person among 100,000 in milliseconds
 * instead of six LIKE scans of every row.
 *
 * pg_trgm ships with PostgreSQL and is a trusted extension (a database owner may create it). Where
 * it cannot be created, the index is left out and the search still works, scanning (docs/console.md).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE FUNCTION roster_user_search_text(resource jsonb) RETURNS text
      LANGUAGE sql IMMUTABLE PARALLEL SAFE
      RETURN lower(concat(resource->>'userName', ' ', resource->>'displayName', ' ', resource->'name'->>'givenName', ' ',
        resource->'name'->>'familyName', ' ', resource->>'externalId', ' ', jsonb_path_query_array(resource, '$.emails[*].value')::text));
  `);
  await knex.raw('SAVEPOINT people_search_trgm');
  try {
    await knex.raw('CREATE EXTENSION IF NOT EXISTS pg_trgm');
    await knex.raw('CREATE INDEX users_search_text ON users USING gin (roster_user_search_text(resource) gin_trgm_ops)');
    await knex.raw('RELEASE SAVEPOINT people_search_trgm');
  } catch {
    await knex.raw('ROLLBACK TO SAVEPOINT people_search_trgm');
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP INDEX IF EXISTS users_search_text; DROP FUNCTION roster_user_search_text(jsonb)`);
}
