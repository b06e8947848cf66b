/** Fast SQL seeding for tests that need many rows (bypasses the API on purpose, like a restore). */
import type { Knex } from 'knex';

export async function seedUsers(knex: Knex, count: number, prefix: string): Promise<string[]> {
  const { rows } = await knex.raw(
    `INSERT INTO users (id, resource)
     SELECT gen_random_uuid(), jsonb_build_object('userName', ? || n || '@example.com', 'active', true)
     FROM generate_series(1, ?) AS n RETURNING id`,
    [prefix, count],
  );
  await knex.raw(`UPDATE resource_counts SET total = (SELECT count(*) FROM users) WHERE resource_type = 'User'`);
  return rows.map((r: { id: string }) => r.id);
}

export async function addMembersBySql(knex: Knex, groupId: string, userIds: string[]): Promise<void> {
  await knex.raw(
    `INSERT INTO group_members (group_id, member_id, member_type) SELECT ?, unnest(?::uuid[]), 'User'`,
    [groupId, userIds],
  );
}

/** Records every SQL statement the server's knex runs while `work` runs. */
export async function captureQueries(knex: Knex, work: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const listener = (query: { sql: string }) => seen.push(query.sql);
  knex.on('query', listener);
  try {
    await work();
  } finally {
    knex.removeListener('query', listener);
  }
  return seen;
}
