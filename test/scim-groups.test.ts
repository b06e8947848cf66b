import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GROUP_SCHEMA, PATCH_OP, snapshotCounts, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';
import { addMembersBySql, captureQueries, seedUsers } from './support/seed.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

async function createUser(userName: string): Promise<string> {
  const res = await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName } });
  assert.equal(res.status, 201);
  return res.body.id;
}

async function createGroup(displayName: string, members: string[] = []): Promise<string> {
  const res = await server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName, members: members.map((value) => ({ value })) } });
  assert.equal(res.status, 201, res.text);
  return res.body.id;
}

const patch = (id: string, Operations: unknown[], headers: Record<string, string> = {}) =>
  server.request('PATCH', `/Groups/${id}`, { body: { schemas: [PATCH_OP], Operations }, headers });

const memberIds = async (groupId: string) => {
  const res = await server.request('GET', `/Groups/${groupId}`);
  return (res.body.members as Array<{ value: string }>).map((m) => m.value).sort();
};

describe('Groups', () => {
  test('create with members: 201, Location, members with display, type and $ref', async () => {
    const alice = await createUser('alice.g@example.com');
    const res = await server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'Finance Reporting', members: [{ value: alice }] } });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('location'), `${server.scimUrl}/Groups/${res.body.id}`);
    assert.deepEqual(res.body.members, [{ value: alice, display: 'alice.g@example.com', type: 'User', $ref: `${server.scimUrl}/Users/${alice}` }]);
    const user = await server.request('GET', `/Users/${alice}`);
    assert.deepEqual(user.body.groups.map((g: { value: string; display: string }) => [g.value, g.display]), [[res.body.id, 'Finance Reporting']]);
  });

  test('displayName is unique case-insensitively: 409 uniqueness', async () => {
    await createGroup('Sales EMEA');
    const counts = await snapshotCounts(server.db);
    const res = await server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'sales emea' } });
    assert.equal(res.status, 409);
    assert.equal(res.body.scimType, 'uniqueness');
    assert.deepEqual(await snapshotCounts(server.db), counts);
  });

  test('members must exist: 400 invalidValue naming the id, nothing written', async () => {
    const counts = await snapshotCounts(server.db);
    const ghost = '00000000-0000-4000-8000-000000000000';
    const res = await server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'Ghosts', members: [{ value: ghost }] } });
    assert.equal(res.status, 400);
    assert.equal(res.body.scimType, 'invalidValue');
    assert.match(res.body.detail, new RegExp(ghost));
    assert.deepEqual(await snapshotCounts(server.db), counts);
  });

  test('PATCH add, add again (no duplicate), remove by filter, remove by value array; 204 with ETag', async () => {
    const [a, b, c] = [await createUser('pa@example.com'), await createUser('pb@example.com'), await createUser('pc@example.com')];
    const group = await createGroup('Patchers');
    const added = await patch(group, [{ op: 'add', path: 'members', value: [{ value: a }, { value: b }] }]);
    assert.equal(added.status, 204);
    assert.equal(added.headers.get('etag'), 'W/"2"');
    assert.deepEqual(await memberIds(group), [a, b].sort());

    const counts = await snapshotCounts(server.db);
    const again = await patch(group, [{ op: 'add', path: 'members', value: [{ value: a }] }]);
    assert.equal(again.status, 204);
    assert.deepEqual(await snapshotCounts(server.db), counts, 'adding an existing member changes nothing');

    await patch(group, [{ op: 'add', path: 'members', value: [{ value: c }] }]);
    await patch(group, [{ op: 'remove', path: `members[value eq "${a}"]` }]);
    assert.deepEqual(await memberIds(group), [b, c].sort());
    await patch(group, [{ op: 'remove', path: 'members', value: [{ value: b }] }]);
    assert.deepEqual(await memberIds(group), [c]);
  });

  test('PATCH replace members sets the list; remove members empties it', async () => {
    const [a, b] = [await createUser('ra@example.com'), await createUser('rb@example.com')];
    const group = await createGroup('Replacers', [a]);
    await patch(group, [{ op: 'replace', path: 'members', value: [{ value: b }] }]);
    assert.deepEqual(await memberIds(group), [b]);
    await patch(group, [{ op: 'remove', path: 'members' }]);
    assert.deepEqual(await memberIds(group), []);
  });

  test('PATCH returns 200 with the group when attributes are requested', async () => {
    const group = await createGroup('With body');
    const res = await server.request('PATCH', `/Groups/${group}?attributes=displayName`, {
      body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'displayName', value: 'With body 2' }] },
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.displayName, 'With body 2');
    assert.equal(res.body.members, undefined);
  });

  test('50 concurrent PATCHes adding different members to one group: all present', async () => {
    const users = await seedUsers(server.db.knex, 50, 'concurrent');
    const group = await createGroup('Concurrent');
    const results = await Promise.all(users.map((value) => patch(group, [{ op: 'add', path: 'members', value: [{ value }] }])));
    assert.deepEqual(results.map((r) => r.status), users.map(() => 204));
    assert.deepEqual(await memberIds(group), [...users].sort());
    const { rows } = await server.db.knex.raw(`SELECT version FROM groups WHERE id = ?`, [group]);
    assert.equal(rows[0].version, 51, 'every PATCH made exactly one new version');
  });

  test('adding or removing one member runs the same statements for a 10-member and a 5,000-member group', async () => {
    const small = await createGroup('Small');
    const large = await createGroup('Large');
    await addMembersBySql(server.db.knex, small, await seedUsers(server.db.knex, 10, 'small'));
    await addMembersBySql(server.db.knex, large, await seedUsers(server.db.knex, 5000, 'large'));
    const [newcomerSmall, newcomerLarge] = [await createUser('new.small@example.com'), await createUser('new.large@example.com')];
    const statements = async (group: string, member: string) =>
      (await captureQueries(server.db.knex, async () => {
        assert.equal((await patch(group, [{ op: 'add', path: 'members', value: [{ value: member }] }])).status, 204);
        assert.equal((await patch(group, [{ op: 'remove', path: `members[value eq "${member}"]` }])).status, 204);
      })).map((sql) => sql.replace(/\$\d+/g, '?'));
    const smallSql = await statements(small, newcomerSmall);
    const largeSql = await statements(large, newcomerLarge);
    assert.deepEqual(largeSql, smallSql);
    assert.ok(!largeSql.some((sql) => /FROM group_members gm\s+LEFT JOIN/.test(sql)), 'no statement reads the member list');
  });

  test('GET with excludedAttributes=members does not read the membership at all', async () => {
    const group = await createGroup('Excluded', [await createUser('ex@example.com')]);
    const sql = await captureQueries(server.db.knex, async () => {
      const one = await server.request('GET', `/Groups/${group}?excludedAttributes=members`);
      assert.equal(one.body.members, undefined);
      assert.equal(one.body.displayName, 'Excluded');
      const list = await server.request('GET', `/Groups?excludedAttributes=members&filter=${encodeURIComponent('displayName eq "Excluded"')}`);
      assert.equal(list.body.totalResults, 1);
      assert.equal(list.body.Resources[0].members, undefined);
    });
    assert.ok(sql.length > 0);
    assert.ok(!sql.some((s) => /group_members/.test(s)), `membership was read: ${sql.join('\n')}`);
  });

  test('nested groups: a group can contain a group but not itself', async () => {
    const child = await createGroup('Child');
    const parent = await createGroup('Parent', [child]);
    const res = await server.request('GET', `/Groups/${parent}`);
    assert.equal(res.body.members[0].type, 'Group');
    const grandchildUser = await createUser('nested.user@example.com');
    await patch(child, [{ op: 'add', path: 'members', value: [{ value: grandchildUser }] }]);
    const viaNesting = await server.request('GET', `/Users/${grandchildUser}`);
    assert.deepEqual(
      viaNesting.body.groups.map((g: { display: string; type: string }) => [g.display, g.type]),
      [['Child', 'direct'], ['Parent', 'indirect']],
    );
    const self = await patch(parent, [{ op: 'add', path: 'members', value: [{ value: parent }] }]);
    assert.equal(self.status, 400);
    assert.equal(self.body.scimType, 'invalidValue');
    const del = await server.request('DELETE', `/Groups/${child}`);
    assert.equal(del.status, 204);
    assert.deepEqual(await memberIds(parent), []);
  });

  test('PUT replaces the member list, touching only the difference', async () => {
    const [a, b, c] = [await createUser('puta@example.com'), await createUser('putb@example.com'), await createUser('putc@example.com')];
    const group = await createGroup('Put group', [a, b]);
    const res = await server.request('PUT', `/Groups/${group}`, { body: { schemas: [GROUP_SCHEMA], displayName: 'Put group', members: [{ value: b }, { value: c }] } });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.members.map((m: { value: string }) => m.value).sort(), [b, c].sort());
    const { rows } = await server.db.knex.raw(`SELECT changes FROM journal WHERE resource_id = ? ORDER BY id DESC LIMIT 1`, [group]);
    assert.deepEqual(rows[0].changes.membersAdded, [{ value: c, type: 'User' }]);
    assert.deepEqual(rows[0].changes.membersRemoved, [{ value: a, type: 'User' }]);
  });
});
