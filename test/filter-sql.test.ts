import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { ScimError } from '../src/scim/errors.js';
import { parseFilter } from '../src/scim/filter/parse.js';
import { filterToSql, sortKeySql, type SqlFragment } from '../src/scim/filter/sql.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const HR = 'urn:ietf:params:scim:schemas:extension:roster:2.0:User';
const MANAGER_ID = '26118915-6090-4610-87e4-49d8ca9f808d';

interface Row {
  id: string;
  resource: Record<string, unknown>;
  version?: number;
  created: string;
}

const user = (resource: Record<string, unknown>, created: string, version = 1): Row => ({ id: randomUUID(), resource, version, created });

const users = {
  bjensen: user(
    {
      userName: 'bjensen',
      externalId: 'ext-1',
      name: { givenName: 'Barbara', familyName: 'Jensen' },
      displayName: 'Babs Jensen',
      title: 'Tour Guide',
      active: true,
      emails: [
        { value: 'bjensen@example.com', type: 'work', primary: true },
        { value: 'babs@home.example', type: 'home' },
      ],
      [ENT]: { department: 'Engineering', employeeNumber: '701984', manager: { value: MANAGER_ID } },
      [HR]: { startDate: '2020-03-01T00:00:00Z', location: 'Berlin, DE' },
    },
    '2024-01-01T00:00:00Z',
  ),
  jsmith: user(
    {
      userName: 'JSmith',
      externalId: 'EXT-2',
      name: { givenName: 'John', familyName: 'Smith' },
      title: 'Engineer "Senior"',
      active: false,
      emails: [{ value: 'john@corp.example', type: 'work' }],
      [ENT]: { department: 'engineering' },
      [HR]: { startDate: '2023-06-15T09:30:00+02:00' },
    },
    '2024-01-02T00:00:00Z',
    3,
  ),
  amelie: user(
    {
      userName: 'amélie',
      name: { givenName: 'Amélie', familyName: 'Dupont' },
      displayName: 'Amélie Dupont',
      title: '',
      active: true,
      emails: [{ value: 'AMELIE@Corp.Example', type: 'Work' }],
      [ENT]: { department: 'Sales' },
    },
    '2024-01-03T00:00:00Z',
  ),
  percent: user({ userName: 'per%cent_user', title: '100% sure', emails: [], active: true }, '2024-01-04T00:00:00Z'),
  backslash: user({ userName: 'back\\slash', title: 'C:\\path', active: null }, '2024-01-05T00:00:00Z'),
  noemail: user({ userName: 'noemail', [HR]: { endDate: '2024-12-31' } }, '2024-01-06T00:00:00Z'),
  zed: user(
    {
      userName: 'zed',
      displayName: 'Zed',
      active: true,
      emails: [
        { value: 'zed@corp.example', type: 'home' },
        { value: 'z@work.example', type: 'work', primary: true },
      ],
      phoneNumbers: [{ value: '+49 30 1234', type: 'work' }],
      roles: [{ value: 'admin' }],
      [ENT]: { department: 'Support', organization: 'ACME' },
    },
    '2024-01-07T00:00:00Z',
  ),
  emile: user({ userName: 'Émile', name: { givenName: 'émile' }, title: 'naïve café', active: false }, '2024-01-08T00:00:00Z'),
  obrien: user({ userName: "o'brien", title: "x'); DROP TABLE users; --" }, '2024-01-09T00:00:00Z'),
  carol: user(
    {
      userName: 'carol',
      name: { givenName: 'Carol', familyName: 'Zimmer' },
      active: true,
      emails: [
        { value: 'carol@corp.example', type: 'work', primary: false },
        { value: 'c@home', type: 'home', primary: true },
      ],
    },
    '2024-01-10T00:00:00Z',
  ),
};
type Name = keyof typeof users;
const ALL = Object.keys(users) as Name[];

const groups = {
  eng: { id: randomUUID(), resource: { displayName: 'Engineering' } },
  admins: { id: randomUUID(), resource: { displayName: 'Admins' } },
  staff: { id: randomUUID(), resource: { displayName: 'All Staff' } },
  empty: { id: randomUUID(), resource: { displayName: 'Empty' } },
};
type GroupName = keyof typeof groups;
const memberships: Array<[GroupName, string, 'User' | 'Group']> = [
  ['eng', users.bjensen.id, 'User'],
  ['eng', users.jsmith.id, 'User'],
  ['eng', users.carol.id, 'User'],
  ['admins', users.carol.id, 'User'],
  ['staff', groups.eng.id, 'Group'],
  ['staff', users.zed.id, 'User'],
];

let db: TestDatabase;
let knex: Knex;

before(async () => {
  db = await createTestDatabase();
  knex = db.knex;
  await knex('users').insert(
    Object.values(users).map((u) => ({ id: u.id, resource: JSON.stringify(u.resource), version: u.version, created_at: u.created, updated_at: u.created })),
  );
  await knex('groups').insert(Object.values(groups).map((g) => ({ id: g.id, resource: JSON.stringify(g.resource) })));
  await knex('group_members').insert(memberships.map(([group, member_id, member_type]) => ({ group_id: groups[group].id, member_id, member_type })));
});

after(async () => {
  await db?.drop();
});

function placeholders(fragment: SqlFragment): number {
  return (fragment.sql.match(/\?/g) ?? []).length;
}

async function userMatches(filter: string): Promise<Name[]> {
  const fragment = filterToSql(parseFilter(filter), 'User', 'r');
  assert.equal(placeholders(fragment), fragment.bindings.length, `every ? is a binding: ${fragment.sql}`);
  const { rows } = (await knex.raw(`SELECT id FROM users r WHERE ${fragment.sql}`, fragment.bindings as Knex.RawBinding[])) as { rows: Array<{ id: string }> };
  const byId = new Map(ALL.map((name) => [users[name].id, name]));
  return rows.map((row) => byId.get(row.id)!).sort();
}

async function groupMatches(filter: string): Promise<GroupName[]> {
  const fragment = filterToSql(parseFilter(filter), 'Group', 'g');
  assert.equal(placeholders(fragment), fragment.bindings.length);
  const { rows } = (await knex.raw(`SELECT id FROM groups g WHERE ${fragment.sql}`, fragment.bindings as Knex.RawBinding[])) as { rows: Array<{ id: string }> };
  const byId = new Map<string, GroupName>((Object.keys(groups) as GroupName[]).map((name) => [groups[name].id, name]));
  return rows.map((row) => byId.get(row.id)!).sort();
}

const except = (...names: Name[]): Name[] => ALL.filter((name) => !names.includes(name));

async function expectUsers(cases: Array<[string, Name[]]>): Promise<void> {
  for (const [filter, expected] of cases) assert.deepEqual(await userMatches(filter), [...expected].sort(), filter);
}

function rejectsWith(fn: () => unknown, scimType: string, detail?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ScimError, String(error));
    assert.equal(error.status, 400);
    assert.equal(error.scimType, scimType, error.detail);
    if (detail) assert.match(error.detail, detail);
    return true;
  });
}

test('index-usable leaves have exactly the indexed expression', () => {
  assert.deepEqual(filterToSql(parseFilter('userName eq "bjensen"'), 'User', 'r'), { sql: "lower(r.resource->>'userName') = lower(?)", bindings: ['bjensen'] });
  assert.deepEqual(filterToSql(parseFilter('externalId eq "x"'), 'User', 'r'), { sql: "r.resource->>'externalId' = ?", bindings: ['x'] });
  assert.deepEqual(filterToSql(parseFilter('externalId eq "x"'), 'Group', 'g'), { sql: "g.resource->>'externalId' = ?", bindings: ['x'] });
  assert.deepEqual(filterToSql(parseFilter('displayName eq "Eng"'), 'Group', 'g'), { sql: "lower(g.resource->>'displayName') = lower(?)", bindings: ['Eng'] });
  const id = randomUUID();
  assert.deepEqual(filterToSql(parseFilter(`id eq "${id.toUpperCase()}"`), 'User', 'r'), { sql: 'r.id = ?::uuid', bindings: [id] });
  assert.throws(() => filterToSql(parseFilter('userName pr'), 'User', 'r; DROP TABLE users'), /invalid SQL alias/);
});

test('string operators; userName is case-insensitive, externalId case-exact', async () => {
  await expectUsers([
    ['userName eq "bjensen"', ['bjensen']],
    ['userName eq "BJENSEN"', ['bjensen']],
    ['userName eq "jsmith"', ['jsmith']],
    ['externalId eq "ext-2"', []],
    ['externalId eq "EXT-2"', ['jsmith']],
    ['userName ne "bjensen"', except('bjensen')],
    ['userName co "SMI"', ['jsmith']],
    ['userName sw "b"', ['backslash', 'bjensen']],
    ['userName ew "USER"', ['percent']],
    ['userName gt "n"', ['emile', 'noemail', 'obrien', 'percent', 'zed']],
    ['userName ge "zed"', ['emile', 'zed']],
    ['userName lt "c"', ['amelie', 'backslash', 'bjensen']],
    ['userName le "carol"', ['amelie', 'backslash', 'bjensen', 'carol']],
  ]);
});

test('LIKE metacharacters, quotes, backslashes and unicode in values are literal', async () => {
  await expectUsers([
    ['userName co "%"', ['percent']],
    ['userName co "_"', ['percent']],
    ['userName sw "per%c"', ['percent']],
    ['userName co "\\\\"', ['backslash']],
    ['userName eq "back\\\\slash"', ['backslash']],
    ['title co "\\""', ['jsmith']],
    ['title eq "Engineer \\"Senior\\""', ['jsmith']],
    ['title eq "C:\\\\path"', ['backslash']],
    ['title co "%"', ['percent']],
    ['userName eq "o\'brien"', ['obrien']],
    ['name.givenName eq "AMÉLIE"', ['amelie']],
    ['name.givenName eq "Am\\u00c9lie"', ['amelie']],
    ['userName eq "émile"', ['emile']],
    ['title co "CAFÉ"', ['emile']],
  ]);
});

test('pr, ne and eq null treat absent, null, "" and [] as no value', async () => {
  await expectUsers([
    ['title pr', ['backslash', 'bjensen', 'emile', 'jsmith', 'obrien', 'percent']],
    ['not (title pr)', ['amelie', 'carol', 'noemail', 'zed']],
    ['title eq null', ['amelie', 'carol', 'noemail', 'zed']],
    ['title ne null', ['backslash', 'bjensen', 'emile', 'jsmith', 'obrien', 'percent']],
    ['title ne "Tour Guide"', except('bjensen')],
    ['emails pr', ['amelie', 'bjensen', 'carol', 'jsmith', 'zed']],
    ['displayName ne null', ['amelie', 'bjensen', 'zed']],
    ['addresses pr', []],
    ['name pr', ['amelie', 'bjensen', 'carol', 'emile', 'jsmith']],
  ]);
});

test('booleans compare as JSON booleans', async () => {
  await expectUsers([
    ['active eq true', ['amelie', 'bjensen', 'carol', 'percent', 'zed']],
    ['active eq false', ['emile', 'jsmith']],
    ['active ne true', ['backslash', 'emile', 'jsmith', 'noemail', 'obrien']],
    ['active pr', ['amelie', 'bjensen', 'carol', 'emile', 'jsmith', 'percent', 'zed']],
  ]);
});

test('multi-valued attributes: any element, implied .value, value paths on one element', async () => {
  await expectUsers([
    ['emails co "corp"', ['amelie', 'carol', 'jsmith', 'zed']],
    ['emails.value co "corp"', ['amelie', 'carol', 'jsmith', 'zed']],
    ['emails.type eq "work"', ['amelie', 'bjensen', 'carol', 'jsmith', 'zed']],
    // Two leaves may match different elements; a value path must match one element.
    ['emails.type eq "work" and emails.value co "corp"', ['amelie', 'carol', 'jsmith', 'zed']],
    ['emails[type eq "work" and value co "corp"]', ['amelie', 'carol', 'jsmith']],
    ['emails.type ne "work"', ['backslash', 'emile', 'noemail', 'obrien', 'percent']],
    ['emails[not (type eq "work")]', ['bjensen', 'carol', 'zed']],
    ['emails[type ne "work"]', ['bjensen', 'carol', 'zed']],
    ['emails.primary eq true', ['bjensen', 'carol', 'zed']],
    ['emails[type eq "work"] and not (emails[type eq "home"])', ['amelie', 'jsmith']],
    ['phoneNumbers co "30"', ['zed']],
    ['roles eq "ADMIN"', ['zed']],
    ['name[givenName sw "b" or familyName eq "smith"]', ['bjensen', 'jsmith']],
  ]);
});

test('extension attributes by URN, in any case', async () => {
  await expectUsers([
    [`${ENT}:department eq "engineering"`, ['bjensen', 'jsmith']],
    [`${ENT.toUpperCase()}:DEPARTMENT eq "Sales"`, ['amelie']],
    [`${ENT}:employeeNumber eq "701984"`, ['bjensen']],
    [`${ENT}:manager.value eq "${MANAGER_ID}"`, ['bjensen']],
    [`${ENT}:manager eq "${MANAGER_ID}"`, ['bjensen']],
    [`${ENT}:organization pr`, ['zed']],
    [`${HR}:location co "berlin"`, ['bjensen']],
  ]);
});

test('dateTime attributes compare as instants; meta comes from the columns', async () => {
  const [bjensen] = await knex('users').select('version').where({ id: users.bjensen.id });
  assert.equal(bjensen.version, 1);
  await expectUsers([
    [`${HR}:startDate gt "2021-01-01T00:00:00Z"`, ['jsmith']],
    // 09:30+02:00 is 07:30Z.
    [`${HR}:startDate lt "2023-06-15T08:00:00Z"`, ['bjensen', 'jsmith']],
    [`${HR}:startDate eq "2023-06-15T07:30:00Z"`, ['jsmith']],
    [`${HR}:endDate lt "2025-01-01"`, ['noemail']],
    [`${HR}:startDate pr`, ['bjensen', 'jsmith']],
    ['meta.created ge "2024-01-09T00:00:00Z"', ['carol', 'obrien']],
    ['meta.created gt "2024-01-09T00:00:00Z"', ['carol']],
    ['meta.created eq "2024-01-01T01:00:00+01:00"', ['bjensen']],
    ['meta.lastModified lt "2030-01-01T00:00:00Z"', ALL],
    ['meta.resourceType eq "User"', ALL],
    ['meta.resourceType eq "Group"', []],
    ['meta.version eq "W/\\"3\\""', ['jsmith']],
    ['meta.version eq "w/\\"3\\""', []],
    ['meta pr', ALL],
  ]);
});

test('id compares as uuid; a non-UUID matches nothing', async () => {
  await expectUsers([
    [`id eq "${users.bjensen.id}"`, ['bjensen']],
    [`id eq "${users.bjensen.id.toUpperCase()}"`, ['bjensen']],
    ['id eq "nope"', []],
    ['id ne "nope"', ALL],
    [`id ne "${users.bjensen.id}"`, except('bjensen')],
    [`id sw "${users.zed.id.slice(0, 8).toUpperCase()}"`, ['zed']],
    ['id pr', ALL],
  ]);
});

test("a user's groups come from group_members", async () => {
  await expectUsers([
    [`groups eq "${groups.eng.id}"`, ['bjensen', 'carol', 'jsmith']],
    [`groups.value eq "${groups.admins.id}"`, ['carol']],
    ['groups.value eq "not-a-uuid"', []],
    ['groups.display eq "admins"', ['carol']],
    ['groups.display sw "ENG"', ['bjensen', 'carol', 'jsmith']],
    ['groups[display eq "Admins" and type eq "direct"]', ['carol']],
    ['groups.type eq "indirect"', []],
    ['groups pr', ['bjensen', 'carol', 'jsmith', 'zed']],
    ['not (groups pr)', ['amelie', 'backslash', 'emile', 'noemail', 'obrien', 'percent']],
    [`groups.value ne "${groups.eng.id}"`, except('bjensen', 'carol', 'jsmith')],
  ]);
});

test("a group's members come from group_members", async () => {
  const cases: Array<[string, GroupName[]]> = [
    ['displayName eq "engineering"', ['eng']],
    ['displayName co "staff"', ['staff']],
    [`members eq "${users.carol.id}"`, ['admins', 'eng']],
    [`members.value eq "${groups.eng.id}"`, ['staff']],
    ['members[type eq "group"]', ['staff']],
    [`members[value eq "${users.zed.id}" and type eq "User"]`, ['staff']],
    ['members pr', ['admins', 'eng', 'staff']],
    ['not (members pr)', ['empty']],
    ['meta.resourceType eq "Group"', ['admins', 'empty', 'eng', 'staff']],
  ];
  for (const [filter, expected] of cases) assert.deepEqual(await groupMatches(filter), expected, filter);
});

test('not / and / or grouping', async () => {
  await expectUsers([
    ['not (userName eq "bjensen" or userName eq "zed")', except('bjensen', 'zed')],
    ['not (userName eq "bjensen") and not (userName eq "zed")', except('bjensen', 'zed')],
    ['(userName eq "zed" or userName eq "carol") and active eq true', ['carol', 'zed']],
    ['userName eq "zed" or userName eq "carol" and active eq false', ['zed']],
    ['not (not (userName eq "zed"))', ['zed']],
    // NULL-safety: externalId is absent for most users, so the bare comparison is NULL for them.
    ['not (externalId eq "ext-1")', except('bjensen')],
    ['not (externalId eq "ext-1" or title eq "Tour Guide")', except('bjensen')],
    ['not (active eq true and title pr)', except('bjensen', 'percent')],
  ]);
});

test('values cannot inject SQL; the table survives', async () => {
  await expectUsers([
    ["userName eq \"x' OR '1'='1\"", []],
    ['userName eq "\\"; DROP TABLE users; --"', []],
    ["title eq \"x'); DROP TABLE users; --\"", ['obrien']],
    ['userName eq "?"', []],
    ['userName co "?"', []],
    ['userName eq "$1"', []],
  ]);
  const { rows } = (await knex.raw('SELECT count(*)::int AS n FROM users')) as { rows: Array<{ n: number }> };
  assert.equal(rows[0]!.n, ALL.length);
});

test('comparisons the schema rules out are 400 invalidFilter naming the attribute', () => {
  const cases: Array<[string, RegExp]> = [
    ['nickname2 eq "x"', /unknown attribute "nickname2"/],
    ['emails.foo eq "x"', /unknown attribute "emails.foo"/],
    [`${ENT}:nope eq "x"`, /unknown attribute/],
    ['active eq "yes"', /active is a boolean/],
    ['active gt true', /"gt" is not defined for boolean attribute active/],
    ['active co "t"', /"co" compares strings/],
    ['x509Certificates.value gt "AAAA"', /not defined for binary/],
    ['meta.created eq "soon"', /meta.created is a dateTime/],
    ['meta.created eq "2024-02-30T00:00:00Z"', /dateTime/],
    ['meta.created co "2024"', /"co" compares strings/],
    [`${ENT}:employeeNumber eq 701984`, /is a string; put the value in double quotes/],
    ['userName eq true', /userName is a string/],
    ['userName gt null', /null can only be compared with eq or ne/],
    ['password eq "secret"', /password cannot be used in a filter/],
    ['meta.location eq "x"', /meta.location is not supported/],
    ['name eq "x"', /name is complex/],
    ['userName[value eq "x"]', /needs a complex attribute/],
    ['name.givenName[value eq "x"]', /needs a complex attribute/],
    ['emails[nope eq "x"]', /"nope" is not a sub-attribute of emails/],
    ['emails[name.givenName eq "x"]', /not a sub-attribute of emails/],
    ['groups.$ref eq "x"', /groups.\$ref is not supported/],
  ];
  for (const [filter, detail] of cases) rejectsWith(() => filterToSql(parseFilter(filter), 'User', 'r'), 'invalidFilter', detail);
  rejectsWith(() => filterToSql(parseFilter('members.display eq "x"'), 'Group', 'g'), 'invalidFilter', /members.display is not supported/);
  rejectsWith(() => filterToSql(parseFilter('userName eq "x"'), 'Group', 'g'), 'invalidFilter', /unknown attribute "userName" for Group/);
});

async function sortedUsers(path: string, direction: 'ASC' | 'DESC' = 'ASC'): Promise<Array<Name>> {
  const key = sortKeySql(path, 'User', 'r');
  assert.equal(placeholders(key), key.bindings.length);
  const { rows } = (await knex.raw(`SELECT r.id FROM users r ORDER BY ${key.sql} ${direction}, r.id`, key.bindings as Knex.RawBinding[])) as { rows: Array<{ id: string }> };
  const byId = new Map(ALL.map((name) => [users[name].id, name]));
  return rows.map((row) => byId.get(row.id)!);
}

test('sort keys', async () => {
  assert.deepEqual(sortKeySql('userName', 'User', 'r'), { sql: "lower(r.resource->>'userName')", bindings: [] });
  assert.deepEqual(await sortedUsers('userName'), ['amelie', 'backslash', 'bjensen', 'carol', 'jsmith', 'noemail', 'obrien', 'percent', 'zed', 'emile']);
  assert.deepEqual((await sortedUsers('name.familyName')).slice(0, 4), ['amelie', 'bjensen', 'jsmith', 'carol']);
  // Absent values sort last ascending and first descending (PostgreSQL's defaults, as RFC 7644 §3.4.2.3 asks).
  assert.deepEqual((await sortedUsers('name.familyName', 'DESC')).slice(-4), ['carol', 'jsmith', 'bjensen', 'amelie']);
  // Multi-valued: the primary value, else the first.
  assert.deepEqual((await sortedUsers('emails')).slice(0, 5), ['amelie', 'bjensen', 'carol', 'jsmith', 'zed']);
  assert.deepEqual((await sortedUsers('emails.value')).slice(0, 5), ['amelie', 'bjensen', 'carol', 'jsmith', 'zed']);
  assert.deepEqual((await sortedUsers('meta.created', 'DESC')).slice(0, 3), ['carol', 'obrien', 'emile']);
  assert.deepEqual((await sortedUsers(`${HR}:startDate`)).slice(0, 2), ['bjensen', 'jsmith']);
  assert.deepEqual((await sortedUsers('active')).slice(0, 2).sort(), ['emile', 'jsmith']);
  assert.deepEqual((await sortedUsers('externalId')).slice(0, 2), ['jsmith', 'bjensen']); // case-exact: "E" < "e"
  assert.deepEqual(await sortedUsers('meta.resourceType'), [...ALL].sort((a, b) => (users[a].id < users[b].id ? -1 : 1)));
  assert.deepEqual((await sortedUsers(`${ENT}:manager`))[0], 'bjensen');
});

test('unknown or unsortable sortBy is 400 invalidValue, and injection attempts never reach SQL', async () => {
  for (const path of ['userName; DROP TABLE users', "userName') DESC; DROP TABLE users; --", 'nope', 'password', 'groups', 'groups.display', 'name', 'meta.location', '']) {
    rejectsWith(() => sortKeySql(path, 'User', 'r'), 'invalidValue');
  }
  rejectsWith(() => sortKeySql('members', 'Group', 'g'), 'invalidValue');
  const { rows } = (await knex.raw('SELECT count(*)::int AS n FROM users')) as { rows: Array<{ n: number }> };
  assert.equal(rows[0]!.n, ALL.length);
});

async function plan(table: 'users' | 'groups', alias: string, fragment: SqlFragment): Promise<string> {
  return knex.transaction(async (trx) => {
    // The tables are tiny; without this the planner rightly prefers a sequential scan.
    await trx.raw('SET LOCAL enable_seqscan = off');
    const { rows } = (await trx.raw(`EXPLAIN SELECT ${alias}.id FROM ${table} ${alias} WHERE ${fragment.sql}`, fragment.bindings as Knex.RawBinding[])) as {
      rows: Array<{ 'QUERY PLAN': string }>;
    };
    return rows.map((row) => row['QUERY PLAN']).join('\n');
  });
}

test('EXPLAIN: userName, externalId, id and Group displayName lookups use their indexes', async () => {
  assert.match(await plan('users', 'r', filterToSql(parseFilter('userName eq "BJensen"'), 'User', 'r')), /users_user_name_unique/);
  assert.match(await plan('users', 'r', filterToSql(parseFilter('externalId eq "ext-1"'), 'User', 'r')), /users_external_id/);
  assert.match(await plan('users', 'r', filterToSql(parseFilter(`id eq "${users.zed.id}"`), 'User', 'r')), /users_pkey/);
  assert.match(await plan('groups', 'g', filterToSql(parseFilter('displayName eq "admins"'), 'Group', 'g')), /groups_display_name_unique/);
  assert.match(
    await plan('users', 'r', filterToSql(parseFilter('userName eq "bjensen" and emails[type eq "work"]'), 'User', 'r')),
    /users_user_name_unique/,
  );
});
