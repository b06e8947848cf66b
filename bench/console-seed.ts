/**
 * The console bench's database, filled set-wise in SQL: PEOPLE people (HR attributes in the
 * Roster HR extension, a department, a title, every 50th a leaver), a policy in force (a role per
 * department and one for everyone active, each with its managed group; roles and memberships
 * written as the policy would have), one IdP-pushed group holding everyone (the 100,000-member
 * group), and ENTRIES_PER_PERSON journal entries per person spread over the last JOURNAL_DAYS days,
 * shaped like Roster's own: the HR import's create, the IdP's and the policy's membership adds,
 * attribute updates, a connector push, and for a leaver the deactivation and the removals.
 *
 * The journal rows carry chain positions but not real hashes (computing a million hashes is the
 * journal bench's business, not the console's): no console page verifies the chain on reading.
 */
import type { Knex } from 'knex';
import { createKnex, migrateToLatest } from '../src/db/knex.js';
import { parsePolicy } from '../src/policy/policy-file.js';
import { storeAppliedPolicy } from '../src/policy/policy-state.js';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const HR = 'urn:ietf:params:scim:schemas:extension:roster:2.0:User';
export const DEPARTMENTS = ['Engineering', 'Sales', 'Marketing', 'Finance', 'Support', 'Legal', 'People', 'Operations'];
const TITLES = ['Analyst', 'Engineer', 'Manager', 'Director', 'Specialist'];
const ENTRIES_PER_PERSON = 10;
const JOURNAL_DAYS = 20;
const POLICY_FILE = 'bench-policy.yaml';
/** Every LEAVER_EVERY-th person is deactivated and has a leaver receipt. */
export const LEAVER_EVERY = 50;

export interface ConsoleSeed {
  /** The IdP group with every person in it. */
  everyoneGroupId: string;
  /** Active people created more than a week ago (their as-of-last-week page has content). */
  samplePeople: string[];
  leavers: string[];
  journalIds: number[];
  people: number;
  journalEntries: number;
}

export function benchPolicy(): string {
  const roles = DEPARTMENTS.map((d) => `  - name: dept-${d.toLowerCase()}\n    when: '${ENTERPRISE}:department eq "${d}"'\n    groups: [${d} Team]`);
  return `version: 1\nroles:\n  - name: all-staff\n    when: 'active eq true'\n    groups: [All Staff]\n${roles.join('\n')}\n`;
}

async function seedPeople(knex: Knex, people: number): Promise<void> {
  await knex.raw(
    `CREATE UNLOGGED TABLE bench_people AS
     SELECT n, gen_random_uuid() AS id, 'person' || n || '@example.com' AS user_name, (?::text[])[1 + n % ?::int] AS dept,
            (?::text[])[1 + n % ?::int] AS title, n % ?::int <> 0 AS active,
            now() - make_interval(days => ?::int) + (n - 1) * ?::int * make_interval(days => ?::int) / ?::int AS created
       FROM generate_series(1, ?::int) AS n`,
    [DEPARTMENTS, DEPARTMENTS.length, TITLES, TITLES.length, LEAVER_EVERY, JOURNAL_DAYS, ENTRIES_PER_PERSON, JOURNAL_DAYS, people * ENTRIES_PER_PERSON, people],
  );
  await knex.raw(`CREATE UNIQUE INDEX ON bench_people (n)`);
  await knex.raw(
    `INSERT INTO users (id, resource, created_at, updated_at)
     SELECT id, jsonb_build_object(
         'userName', user_name, 'displayName', 'Person ' || n, 'name', jsonb_build_object('givenName', 'Person', 'familyName', 'N' || n),
         'emails', jsonb_build_array(jsonb_build_object('value', user_name, 'type', 'work', 'primary', true)),
         'title', title, 'active', active, 'externalId', 'hr-' || lpad(n::text, 8, '0'),
         ?::text, jsonb_build_object('department', dept, 'employeeNumber', (100000 + n)::text),
         ?::text, jsonb_build_object('location', 'Site ' || n % 7, 'costCenter', 'CC' || n % 40, 'hireDate', to_char(created, 'YYYY-MM-DD'))),
       date_trunc('milliseconds', created), date_trunc('milliseconds', created)
       FROM bench_people`,
    [ENTERPRISE, HR],
  );
}

async function insertGroup(knex: Knex, name: string, managedBy: string | null): Promise<string> {
  const { rows } = (await knex.raw(
    `INSERT INTO groups (id, resource, managed_by, created_at, updated_at)
     VALUES (gen_random_uuid(), jsonb_build_object('displayName', ?::text), ?, now() - make_interval(days => ?::int), now() - make_interval(days => ?::int)) RETURNING id`,
    [name, managedBy, JOURNAL_DAYS + 1, JOURNAL_DAYS + 1],
  )) as { rows: Array<{ id: string }> };
  return rows[0]!.id;
}

/** The policy in force, its roles and managed memberships, and the IdP's everyone group. */
async function seedAccess(knex: Knex): Promise<string> {
  const policy = parsePolicy(benchPolicy(), POLICY_FILE);
  await knex.transaction((tx) => storeAppliedPolicy(tx, policy, 'bench'));
  const everyone = await insertGroup(knex, 'Everyone', null);
  const allStaff = await insertGroup(knex, 'All Staff', POLICY_FILE);
  await knex.raw(`CREATE UNLOGGED TABLE bench_groups (name text PRIMARY KEY, id uuid NOT NULL)`);
  await knex.raw(`INSERT INTO bench_groups VALUES ('Everyone', ?), ('All Staff', ?)`, [everyone, allStaff]);
  for (const d of DEPARTMENTS) await knex.raw(`INSERT INTO bench_groups VALUES (?, ?)`, [d, await insertGroup(knex, `${d} Team`, POLICY_FILE)]);
  await knex.raw(
    `INSERT INTO policy_roles (user_id, role, granted_at, policy_version)
     SELECT id, 'all-staff', created, ? FROM bench_people WHERE active
     UNION ALL SELECT id, 'dept-' || lower(dept), created, ? FROM bench_people WHERE active`,
    [policy.version, policy.version],
  );
  await knex.raw(
    `INSERT INTO group_members (group_id, member_id, member_type, added_at)
     SELECT ?::uuid, id, 'User', created FROM bench_people
     UNION ALL SELECT ?::uuid, id, 'User', created FROM bench_people WHERE active
     UNION ALL SELECT g.id, p.id, 'User', p.created FROM bench_people p JOIN bench_groups g ON g.name = p.dept WHERE p.active`,
    [everyone, allStaff],
  );
  await knex.raw(`UPDATE resource_counts SET total = (SELECT count(*) FROM users) WHERE resource_type = 'User'`);
  await knex.raw(`UPDATE resource_counts SET total = (SELECT count(*) FROM groups) WHERE resource_type = 'Group'`);
  return everyone;
}

/**
 * Entry k (1..10) of person n sits at chain position (n-1)*10 + k: a person's entries are close
 * together in time, and the groups' entries run through the whole journal.
 */
const journalSql = (total: number, from: number, to: number) => `
INSERT INTO journal (seq, prev_hash, hash, chain_version, at, actor, source, request_id, action, resource_type, resource_id, resource_name, member_ids, before, after, changes)
SELECT s.seq, 'bench', 'bench', 2, date_trunc('milliseconds', now() - make_interval(days => ${JOURNAL_DAYS}) + s.seq * make_interval(days => ${JOURNAL_DAYS}) / ${total}),
  e.actor, e.source, 'bench-' || p.n || '-' || e.step, e.action, e.rtype, e.rid, e.rname, e.members, e.before, e.after, e.changes
FROM bench_people p
CROSS JOIN LATERAL (SELECT (p.n - 1) * ${ENTRIES_PER_PERSON} AS base) b
CROSS JOIN LATERAL (VALUES
  (1, 'import:hr.csv', 'import', 'create', 'User', p.id, p.user_name, NULL::uuid[], NULL::jsonb,
     jsonb_build_object('userName', p.user_name, 'title', 'Trainee', 'active', true), '[]'::jsonb),
  (2, 'okta', 'scim', 'update', 'Group', (SELECT id FROM bench_groups WHERE name = 'Everyone'), 'Everyone', ARRAY[p.id], NULL, NULL,
     jsonb_build_object('membersAdded', jsonb_build_array(jsonb_build_object('value', p.id::text, 'type', 'User')))),
  (3, 'policy:${POLICY_FILE}', 'policy', 'update', 'Group', (SELECT id FROM bench_groups WHERE name = 'All Staff'), 'All Staff', ARRAY[p.id], NULL, NULL,
     jsonb_build_object('membersAdded', jsonb_build_array(jsonb_build_object('value', p.id::text, 'type', 'User')))),
  (4, 'policy:${POLICY_FILE}', 'policy', 'update', 'Group', (SELECT id FROM bench_groups WHERE name = p.dept), p.dept || ' Team', ARRAY[p.id], NULL, NULL,
     jsonb_build_object('membersAdded', jsonb_build_array(jsonb_build_object('value', p.id::text, 'type', 'User')))),
  (5, 'import:hr.csv', 'import', 'update', 'User', p.id, p.user_name, NULL, jsonb_build_object('userName', p.user_name, 'title', 'Trainee'),
     jsonb_build_object('userName', p.user_name, 'title', p.title), jsonb_build_array(jsonb_build_object('path', 'title', 'before', 'Trainee', 'after', p.title))),
  (6, 'import:hr.csv', 'import', 'update', 'User', p.id, p.user_name, NULL, jsonb_build_object('userName', p.user_name),
     jsonb_build_object('userName', p.user_name), jsonb_build_array(jsonb_build_object('path', '${HR}:location', 'before', 'Site 0', 'after', 'Site ' || p.n % 7))),
  (7, 'connector:crm', 'sync', 'sync.push', 'User', p.id, p.user_name, NULL, NULL, NULL,
     jsonb_build_object('connector', 'crm', 'method', 'PATCH', 'path', '/Users/' || p.n, 'status', 200, 'outcome', 'ok', 'latencyMs', 20 + p.n % 80)),
  (8, 'okta', 'scim', 'update', 'User', p.id, p.user_name, NULL, jsonb_build_object('userName', p.user_name),
     jsonb_build_object('userName', p.user_name), jsonb_build_array(jsonb_build_object('path', 'nickName', 'after', 'P' || p.n))),
  (9, 'import:hr.csv', 'import', 'update', 'User', p.id, p.user_name, NULL, jsonb_build_object('userName', p.user_name, 'active', true),
     jsonb_build_object('userName', p.user_name, 'active', p.active),
     CASE WHEN p.active THEN jsonb_build_array(jsonb_build_object('path', 'phoneNumbers', 'after', '+1 555 ' || p.n))
          ELSE jsonb_build_array(jsonb_build_object('path', 'active', 'before', true, 'after', false)) END),
  (10, 'policy:${POLICY_FILE}', 'policy', 'update', 'Group', (SELECT id FROM bench_groups WHERE name = 'All Staff'), 'All Staff', ARRAY[p.id], NULL, NULL,
     CASE WHEN p.active THEN jsonb_build_object('attributes', '[]'::jsonb)
          ELSE jsonb_build_object('membersRemoved', jsonb_build_array(jsonb_build_object('value', p.id::text, 'type', 'User'))) END)
) AS e(step, actor, source, action, rtype, rid, rname, members, before, after, changes)
CROSS JOIN LATERAL (SELECT b.base + e.step AS seq) s
WHERE p.n BETWEEN ${from} AND ${to}`;

async function seedJournal(knex: Knex, people: number, log: (line: string) => void): Promise<void> {
  const chunk = 10_000;
  const started = Date.now();
  for (let from = 1; from <= people; from += chunk) {
    const to = Math.min(people, from + chunk - 1);
    await knex.raw(journalSql(people * ENTRIES_PER_PERSON, from, to));
    if (to % 50_000 === 0 || to === people) log(`  journal: ${(to * ENTRIES_PER_PERSON).toLocaleString('en-US')} entries (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
  await knex.raw(`UPDATE journal_chain SET seq = (SELECT max(seq) FROM journal), hash = 'bench'`);
}

export async function seedConsole(url: string, people: number, log: (line: string) => void): Promise<ConsoleSeed> {
  const knex = createKnex({ url, poolMax: 1 });
  try {
    await migrateToLatest(knex);
    await knex.raw(`SET synchronous_commit = off`);
    const started = Date.now();
    await seedPeople(knex, people);
    log(`  ${people.toLocaleString('en-US')} people (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    const everyoneGroupId = await seedAccess(knex);
    log(`  policy roles and memberships (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    await seedJournal(knex, people, log);
    for (const table of ['users', 'groups', 'group_members', 'policy_roles', 'journal']) await knex.raw(`VACUUM (ANALYZE) ${table}`);
    await knex.raw('CHECKPOINT').catch(() => log('  (CHECKPOINT not permitted for this role; skipped)'));
    log(`  VACUUM ANALYZE, CHECKPOINT done (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    const pick = async (where: string, limit: number) =>
      ((await knex.raw(`SELECT id FROM bench_people WHERE ${where} ORDER BY random() LIMIT ?`, [limit])) as { rows: Array<{ id: string }> }).rows.map((r) => r.id);
    const samplePeople = await pick(`active AND created < now() - interval '8 days'`, 200);
    const leavers = await pick('NOT active', 200);
    const journalIds = ((await knex.raw(`SELECT id FROM journal TABLESAMPLE SYSTEM (1) LIMIT 200`)) as { rows: Array<{ id: string }> }).rows.map((r) => Number(r.id));
    const { rows } = (await knex.raw(`SELECT count(*)::int AS n FROM journal`)) as { rows: Array<{ n: number }> };
    await knex.raw(`DROP TABLE bench_people, bench_groups`);
    return { everyoneGroupId, samplePeople, leavers, journalIds, people, journalEntries: rows[0]!.n };
  } finally {
    await knex.destroy();
  }
}
