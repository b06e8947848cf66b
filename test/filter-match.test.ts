/**
 * matchesFilter (in memory) must agree with filterToSql (PostgreSQL) on the same data: every filter
 * below runs both ways over the same resources, including awkward stored shapes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { ScimError } from '../src/scim/errors.js';
import { matchesFilter } from '../src/scim/filter/match.js';
import { parseFilter } from '../src/scim/filter/parse.js';
import { filterToSql } from '../src/scim/filter/sql.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const HR = 'urn:ietf:params:scim:schemas:extension:roster:2.0:User';

interface Stored {
  id: string;
  resource: Record<string, unknown>;
  version: number;
  created: string;
}

let sequence = 0;
function stored(resource: Record<string, unknown>, version = 1): Stored {
  sequence++;
  return { id: randomUUID(), resource, version, created: new Date(Date.UTC(2024, 0, sequence, 12, 0, 0, sequence)).toISOString() };
}

const users: Stored[] = [
  stored({
    userName: 'bjensen',
    externalId: 'ext-1',
    name: { givenName: 'Barbara', familyName: 'Jensen' },
    title: 'Tour Guide',
    active: true,
    emails: [
      { value: 'bjensen@example.com', type: 'work', primary: true },
      { value: 'babs@home.example', type: 'home' },
    ],
    [ENT]: { department: 'Engineering', manager: { value: 'mgr-1' } },
    [HR]: { startDate: '2020-03-01T00:00:00Z', employmentType: 'Employee' },
  }),
  stored(
    {
      userName: 'JSmith',
      externalId: 'EXT-2',
      title: 'Engineer "Senior"',
      active: false,
      emails: [{ value: 'john@corp.example', type: 'Work' }],
      [ENT]: { department: 'engineering' },
      [HR]: { startDate: '2023-06-15T09:30:00.123456+02:00', employmentType: 'Contractor' },
    },
    7,
  ),
  stored({ userName: 'amélie', displayName: 'Amélie', title: '', active: true, emails: [], name: {} }),
  // Awkward shapes: emails not an array, elements that are not objects, nulls inside elements.
  stored({ userName: 'odd-1', emails: { value: 'x@corp.example' }, title: null, active: 'true' }),
  stored({ userName: 'odd-2', emails: ['y@corp.example', null, { value: null, type: 'work' }], [HR]: { startDate: 'not a date' } }),
  stored({ userName: 'odd-3', emails: [{ type: 'home' }], phoneNumbers: [{ value: '+1 555', primary: true }], [HR]: { startDate: '2024-02-29' } }),
  stored({ userName: 'per%cent_\\', title: '100% \\ sure', roles: [{ value: 'Admin', primary: true }] }),
  stored({ userName: 'Émile', title: 'naïve café', name: { givenName: 'ÉMILE' } }),
  stored({ userName: 'zz-astral', title: '😀 smile', displayName: 'ｚ fullwidth' }),
  stored({ userName: 'a-b', title: 'ab', [ENT]: { organization: 'ACME', manager: {} } }),
  stored({ userName: 'ab', title: 'a-b', nickName: 'Zed' }),
];

const groups: Stored[] = [stored({ displayName: 'Engineering', externalId: 'g-1' }), stored({ displayName: 'Admins' }), stored({ displayName: 'Nested' }), stored({ displayName: 'empty' })];
const [eng, admins, nested] = groups as [Stored, Stored, Stored, Stored];
const members: Array<[Stored, Stored, 'User' | 'Group']> = [
  [eng, users[0]!, 'User'],
  [eng, users[1]!, 'User'],
  [admins, users[1]!, 'User'],
  [nested, eng, 'Group'],
  [nested, users[6]!, 'User'],
];

/** The wire form matchesFilter sees: the stored document plus id, meta and membership. */
function wire(type: 'User' | 'Group', row: Stored): Record<string, unknown> {
  const meta = { resourceType: type, created: row.created, lastModified: row.created, version: `W/"${row.version}"` };
  const extra =
    type === 'User'
      ? { groups: members.filter(([, m]) => m === row).map(([g]) => ({ value: g.id, display: g.resource.displayName, type: 'direct' })) }
      : { members: members.filter(([g]) => g === row).map(([, m, memberType]) => ({ value: m.id, type: memberType })) };
  return { ...row.resource, id: row.id, meta, ...extra };
}

let db: TestDatabase;
let knex: Knex;

before(async () => {
  db = await createTestDatabase();
  knex = db.knex;
  const rows = (list: Stored[]) => list.map((r) => ({ id: r.id, resource: JSON.stringify(r.resource), version: r.version, created_at: r.created, updated_at: r.created }));
  await knex('users').insert(rows(users));
  await knex('groups').insert(rows(groups));
  await knex('group_members').insert(members.map(([g, m, member_type]) => ({ group_id: g.id, member_id: m.id, member_type })));
});

after(async () => {
  await db?.drop();
});

async function bySql(type: 'User' | 'Group', filter: string): Promise<string[]> {
  const fragment = filterToSql(parseFilter(filter), type, 'r');
  const table = type === 'User' ? 'users' : 'groups';
  const { rows } = (await knex.raw(`SELECT id FROM ${table} r WHERE ${fragment.sql}`, fragment.bindings as Knex.RawBinding[])) as { rows: Array<{ id: string }> };
  return rows.map((row) => row.id).sort();
}

function inMemory(type: 'User' | 'Group', filter: string): string[] {
  const node = parseFilter(filter);
  const list = type === 'User' ? users : groups;
  return list.filter((row) => matchesFilter(node, wire(type, row), { type })).map((row) => row.id).sort();
}

const userName = (ids: string[]) => ids.map((id) => users.find((u) => u.id === id)?.resource.userName);

const USER_FILTERS = [
  'userName eq "BJENSEN"',
  'userName ne "bjensen"',
  'userName co "%"',
  'userName co "_\\\\"',
  'userName sw "a"',
  'userName ew "-b"',
  'userName gt "a-b"',
  'userName lt "ab"',
  'userName ge "émile"',
  'externalId eq "ext-2"',
  'externalId eq "EXT-2"',
  'not (externalId eq "ext-1")',
  'title pr',
  'title eq null',
  'title ne null',
  'title ne "Tour Guide"',
  'title co "\\""',
  'title co "\\\\"',
  'title gt "ab"',
  'title gt "ｚ"',
  'title lt "😀"',
  'displayName gt "z"',
  'title eq "NAÏVE CAFÉ"',
  'name.givenName eq "émile"',
  'name pr',
  'name.givenName pr',
  'active eq true',
  'active ne true',
  'active pr',
  'emails pr',
  'emails co "corp"',
  'emails.value pr',
  'emails.value eq null',
  'emails.type eq "work"',
  'emails.type ne "work"',
  'emails[type eq "work" and value co "corp"]',
  'emails[not (type eq "work")]',
  'emails[type ne "work"]',
  'emails[value pr]',
  'emails.primary eq true',
  'phoneNumbers[primary eq true]',
  'roles eq "admin"',
  'name[givenName sw "b" or familyName pr]',
  'name[not (givenName eq "x")]',
  `${ENT}:department eq "ENGINEERING"`,
  `${ENT}:manager pr`,
  `${ENT}:manager eq "MGR-1"`,
  `${ENT}:manager[value sw "mgr"]`,
  `${ENT}:organization pr and not (${ENT}:department pr)`,
  `${HR}:startDate gt "2021-01-01T00:00:00Z"`,
  `${HR}:startDate eq "2023-06-15T07:30:00.123456Z"`,
  `${HR}:startDate lt "2023-06-15T07:30:00.123457Z"`,
  `${HR}:startDate ge "2024-02-29T00:00:00+00:00"`,
  `${HR}:startDate pr`,
  `${HR}:employmentType eq "contractor" and not (groups.display eq "Engineering")`,
  `meta.created gt "${users[4]!.created}"`,
  `meta.created eq "${users[4]!.created}"`,
  `meta.lastModified le "${users[2]!.created}"`,
  'meta.resourceType eq "User"',
  'meta.resourceType eq "user"',
  'meta.version eq "W/\\"7\\""',
  'meta.version sw "W/\\"1"',
  `id eq "${users[3]!.id.toUpperCase()}"`,
  'id eq "not-a-uuid"',
  'id ne "not-a-uuid"',
  `id co "${users[5]!.id.slice(9, 13)}"`,
  `groups eq "${eng.id}"`,
  'groups.display co "ADMIN"',
  'groups[display eq "engineering" and type eq "direct"]',
  'groups pr',
  `not (groups.value eq "${admins.id}")`,
  'not (userName eq "bjensen" or title pr)',
  'userName sw "odd" and (emails pr or title pr)',
  'userName sw "odd" or userName sw "a" and active eq true',
];

const GROUP_FILTERS = [
  'displayName eq "ENGINEERING"',
  'displayName lt "B"',
  'externalId pr',
  `members eq "${users[1]!.id}"`,
  `members[value eq "${eng.id}" and type eq "Group"]`,
  'members.type eq "user"',
  'members pr',
  'not (members pr)',
  'meta.resourceType eq "Group"',
];

test('matchesFilter agrees with filterToSql on User resources', async () => {
  for (const filter of USER_FILTERS) {
    const expected = await bySql('User', filter);
    assert.deepEqual(userName(inMemory('User', filter)), userName(expected), filter);
  }
});

test('matchesFilter agrees with filterToSql on Group resources', async () => {
  for (const filter of GROUP_FILTERS) assert.deepEqual(inMemory('Group', filter), await bySql('Group', filter), filter);
});

test('the agreement table is not trivial: filters match some resources but not all', async () => {
  let partial = 0;
  for (const filter of USER_FILTERS) {
    const count = (await bySql('User', filter)).length;
    if (count > 0 && count < users.length) partial++;
  }
  assert.ok(partial >= USER_FILTERS.length - 8, `${partial} of ${USER_FILTERS.length} filters split the users`);
});

test('both reject the same filters with 400 invalidFilter', () => {
  const bad = [
    'nope eq "x"',
    'active eq "yes"',
    'active lt false',
    'meta.created eq "tomorrow"',
    `${HR}:startDate co "2024"`,
    'password eq "x"',
    'name eq "x"',
    'title gt null',
    'emails[nope pr]',
    'userName[value eq "x"]',
  ];
  for (const filter of bad) {
    for (const run of [() => filterToSql(parseFilter(filter), 'User', 'r'), () => matchesFilter(parseFilter(filter), wire('User', users[0]!), { type: 'User' })]) {
      assert.throws(run, (error: unknown) => error instanceof ScimError && error.status === 400 && error.scimType === 'invalidFilter', filter);
    }
  }
});

test('one element of a multi-valued attribute (PATCH value filters)', () => {
  const email = (filter: string, element: Record<string, unknown>) => matchesFilter(parseFilter(filter), element, { type: 'User', parent: 'emails' });
  assert.equal(email('type eq "work"', { value: 'a@x', type: 'Work' }), true);
  assert.equal(email('type eq "work"', { value: 'a@x', type: 'home' }), false);
  assert.equal(email('type eq "work"', { value: 'a@x' }), false);
  assert.equal(email('type ne "work"', { value: 'a@x' }), true);
  assert.equal(email('value co "@CORP" and primary eq true', { value: 'a@corp.example', primary: true }), true);
  assert.equal(email('value co "@CORP" and primary eq true', { value: 'a@corp.example' }), false);
  assert.equal(email('not (primary pr)', { value: 'a@corp.example' }), true);

  const member = '2819C223-7F76-453A-919D-413861904646';
  assert.equal(matchesFilter(parseFilter(`value eq "${member}"`), { value: member.toLowerCase(), type: 'User' }, { type: 'Group', parent: 'members' }), true);
  assert.equal(matchesFilter(parseFilter('type eq "home"'), { type: 'home', locality: 'Berlin' }, { type: 'User', parent: 'addresses' }), true);
  assert.equal(matchesFilter(parseFilter('value eq "boss"'), { value: 'BOSS' }, { type: 'User', parent: `${ENT}:manager` }), true);

  const rejects = (fn: () => unknown) => assert.throws(fn, (error: unknown) => error instanceof ScimError && error.scimType === 'invalidFilter');
  rejects(() => email('emails[type eq "work"]', { type: 'work' }));
  rejects(() => email('nope eq "x"', { type: 'work' }));
  rejects(() => email('emails.type eq "work"', { type: 'work' }));
  rejects(() => email('primary eq "yes"', { primary: true }));
  rejects(() => matchesFilter(parseFilter('value eq "x"'), {}, { type: 'User', parent: 'userName' }));
  rejects(() => matchesFilter(parseFilter('value eq "x"'), {}, { type: 'User', parent: 'nope' }));
});

test('a policy rule on one user', () => {
  const rule = parseFilter(`${HR}:employmentType eq "Contractor" and not (groups.display eq "Admins")`);
  const contractor = wire('User', users[1]!); // a contractor in Admins
  assert.equal(matchesFilter(rule, contractor, { type: 'User' }), false);
  assert.equal(matchesFilter(rule, { ...contractor, groups: [] }, { type: 'User' }), true);
  assert.equal(matchesFilter(rule, wire('User', users[0]!), { type: 'User' }), false);
});
