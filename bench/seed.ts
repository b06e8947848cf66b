/**
 * Fills a fresh bench database in SQL: Roster's migrations, then users made by generate_series in
 * chunks (realistic documents: userName, name, emails, active, externalId, enterprise extension),
 * one large and one 10-member group, resource_counts set to the row counts, VACUUM ANALYZE and a
 * CHECKPOINT. Then
 * reads back what the load needs: random user ids, users that can still be added to each group,
 * and the row in the middle of the default (created_at, id) order for deep cursor paging.
 */
import pg from 'pg';
import { createKnex, migrateToLatest } from '../src/db/knex.js';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const GIVEN = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'John', 'Katherine', 'Ken',
  'Margaret', 'Niklaus', 'Radia', 'Tim', 'Shafi', 'Leslie', 'Hedy', 'Dennis', 'Sophie', 'Linus'];
const FAMILY = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'McCarthy', 'Johnson',
  'Thompson', 'Hamilton', 'Wirth', 'Perlman', 'Berners-Lee', 'Goldwasser', 'Lamport', 'Lamarr', 'Ritchie',
  'Wilson', 'Torvalds', 'Backus', 'Kay', 'Cerf', 'Kahn', 'Hoare'];
const DEPARTMENTS = ['Engineering', 'Sales', 'Marketing', 'Finance', 'Support', 'Legal', 'People', 'Operations'];
const CHUNK = 100_000;
const SAMPLE = 20_000;
export const SMALL_GROUP_MEMBERS = 10;

/** The userName of seeded user n (1-based); the SQL below builds the same string. */
export function seededUserName(n: number): string {
  const given = GIVEN[n % GIVEN.length]!;
  const family = FAMILY[Math.floor(n / GIVEN.length) % FAMILY.length]!;
  return `${given}.${family}.${n}@example.com`.toLowerCase();
}

export interface SeedPlan {
  users: number;
  largeGroupMembers: number;
}

export interface SeedResult {
  largeGroupId: string;
  smallGroupId: string;
  /** Random ids of seeded users. */
  sampleUserIds: string[];
  /** Random users that are not yet members of the large / small group. */
  largeCandidates: string[];
  smallCandidates: string[];
  /** Position of the row in the middle of the default list order. */
  middle: { id: string; createdAt: Date };
}

const USERS_SQL = `
INSERT INTO users (id, resource, created_at, updated_at)
SELECT gen_random_uuid(),
  jsonb_build_object(
    'userName', lower(g || '.' || f || '.' || n || '@example.com'),
    'name', jsonb_build_object('givenName', g, 'familyName', f, 'formatted', g || ' ' || f),
    'displayName', g || ' ' || f,
    'emails', jsonb_build_array(jsonb_build_object('value', lower(g || '.' || f || '.' || n || '@example.com'), 'type', 'work', 'primary', true)),
    'active', n % 50 <> 0,
    'externalId', 'hr-' || lpad(n::text, 8, '0'),
    '${ENTERPRISE}', jsonb_build_object('employeeNumber', (100000 + n)::text, 'department', d)
  ),
  ts, ts
FROM (
  SELECT n,
    ($1::text[])[1 + n % cardinality($1::text[])] AS g,
    ($2::text[])[1 + (n / cardinality($1::text[])) % cardinality($2::text[])] AS f,
    ($3::text[])[1 + n % cardinality($3::text[])] AS d,
    timestamptz '2024-01-01 00:00:00+00' + n * interval '1 second' AS ts
  FROM generate_series($4::int, $5::int) AS n
) s`;

async function insertGroup(client: pg.Client, displayName: string, externalId: string): Promise<string> {
  const { rows } = await client.query<{ id: string }>(
    `INSERT INTO groups (id, resource) VALUES (gen_random_uuid(), jsonb_build_object('displayName', $1::text, 'externalId', $2::text)) RETURNING id`,
    [displayName, externalId],
  );
  return rows[0]!.id;
}

async function ids(client: pg.Client, sql: string, params: unknown[]): Promise<string[]> {
  return (await client.query<{ id: string }>(sql, params)).rows.map((row) => row.id);
}

const NON_MEMBERS_SQL = `SELECT u.id FROM users u
  WHERE NOT EXISTS (SELECT 1 FROM group_members gm WHERE gm.group_id = $1 AND gm.member_id = u.id)
  ORDER BY random() LIMIT $2`;

export async function seed(url: string, plan: SeedPlan, log: (line: string) => void): Promise<SeedResult> {
  const knex = createKnex({ url, poolMax: 1 });
  try {
    await migrateToLatest(knex);
  } finally {
    await knex.destroy();
  }

  const client = new pg.Client({ connectionString: url, application_name: 'roster-bench-seed' });
  await client.connect();
  try {
    await client.query(`SET synchronous_commit = off; SET maintenance_work_mem = '256MB'`);
    const started = Date.now();
    for (let from = 1; from <= plan.users; from += CHUNK) {
      const to = Math.min(plan.users, from + CHUNK - 1);
      await client.query(USERS_SQL, [GIVEN, FAMILY, DEPARTMENTS, from, to]);
      log(`  seeded users ${to.toLocaleString('en-US')}/${plan.users.toLocaleString('en-US')} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    }

    // Not named like any group of the repo's policy.yaml, which the bench's Roster enforces: a group
    // the policy names becomes managed, and SCIM clients may not PATCH its members.
    const largeGroupId = await insertGroup(client, 'Bench Large Group', 'grp-large');
    const smallGroupId = await insertGroup(client, 'Bench Small Group', 'grp-small');
    await client.query(
      `INSERT INTO group_members (group_id, member_id, member_type, added_at)
       SELECT $1, id, 'User', created_at FROM users ORDER BY created_at, id LIMIT $2`,
      [largeGroupId, plan.largeGroupMembers],
    );
    await client.query(
      `INSERT INTO group_members (group_id, member_id, member_type, added_at)
       SELECT $1, id, 'User', created_at FROM users ORDER BY created_at DESC, id DESC LIMIT $2`,
      [smallGroupId, SMALL_GROUP_MEMBERS],
    );
    await client.query(`UPDATE resource_counts SET total = (SELECT count(*) FROM users) WHERE resource_type = 'User'`);
    await client.query(`UPDATE resource_counts SET total = (SELECT count(*) FROM groups) WHERE resource_type = 'Group'`);
    log(`  groups: ${plan.largeGroupMembers.toLocaleString('en-US')} and ${SMALL_GROUP_MEMBERS} members (${((Date.now() - started) / 1000).toFixed(1)} s)`);

    await client.query('VACUUM (ANALYZE) users');
    await client.query('VACUUM (ANALYZE) groups');
    await client.query('VACUUM (ANALYZE) group_members');
    await client.query('ANALYZE');
    // Write the seed's dirty pages now, so the measurements do not pay for them.
    await client.query('CHECKPOINT').catch(() => log('  (CHECKPOINT not permitted for this role; skipped)'));
    log(`  VACUUM ANALYZE, CHECKPOINT done (${((Date.now() - started) / 1000).toFixed(1)} s)`);

    const sampleUserIds = await ids(client, 'SELECT id FROM users ORDER BY random() LIMIT $1', [SAMPLE]);
    const largeCandidates = await ids(client, NON_MEMBERS_SQL, [largeGroupId, SAMPLE]);
    const smallCandidates = await ids(client, NON_MEMBERS_SQL, [smallGroupId, SAMPLE]);
    const { rows } = await client.query<{ id: string; created_at: Date }>(
      'SELECT id, created_at FROM users ORDER BY created_at, id OFFSET $1 LIMIT 1',
      [Math.floor(plan.users / 2)],
    );
    const middle = rows[0]!;
    return { largeGroupId, smallGroupId, sampleUserIds, largeCandidates, smallCandidates, middle: { id: middle.id, createdAt: middle.created_at } };
  } finally {
    await client.end();
  }
}
