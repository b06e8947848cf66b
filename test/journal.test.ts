import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createUser } from '../src/resources/users.js';
import { ENTERPRISE, GROUP_SCHEMA, PATCH_OP, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

const entriesFor = async (id: string) =>
  (await server.db.knex.raw(`SELECT action, actor, source, resource_type, before, after, changes FROM journal WHERE resource_id = ? ORDER BY id`, [id])).rows;

test('create, update and delete are journaled with before, after and the changed paths', async () => {
  const id = (await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA, ENTERPRISE], userName: 'j@example.com', title: 'Analyst', [ENTERPRISE]: { department: 'Finance' } } })).body.id;
  await server.request('PATCH', `/Users/${id}`, {
    body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: `${ENTERPRISE}:department`, value: 'Sales' }, { op: 'replace', path: 'title', value: 'Manager' }] },
  });
  await server.request('DELETE', `/Users/${id}`);
  const [create, update, remove] = await entriesFor(id);
  assert.equal(create.action, 'create');
  assert.equal(create.actor, 'bootstrap');
  assert.equal(create.resource_type, 'User');
  assert.equal(create.after.userName, 'j@example.com');
  assert.equal(update.action, 'update');
  assert.deepEqual(update.changes, [
    { path: 'title', before: 'Analyst', after: 'Manager' },
    { path: `${ENTERPRISE}:department`, before: 'Finance', after: 'Sales' },
  ]);
  assert.equal(update.before.title, 'Analyst');
  assert.equal(update.after.title, 'Manager');
  assert.equal(remove.action, 'delete');
  assert.equal(remove.before.title, 'Manager');
});

test('deleting a member journals its removal from each group', async () => {
  const user = (await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'member-j@example.com' } })).body.id;
  const group = (await server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'Journaled', members: [{ value: user }] } })).body.id;
  await server.request('DELETE', `/Users/${user}`);
  const entries = await entriesFor(group);
  assert.equal(entries.at(-1).action, 'members.remove');
  assert.deepEqual(entries.at(-1).changes, { membersRemoved: [{ value: user, type: 'User' }] });
});

test('a failed write journals nothing, and the write path runs hooks inside the same transaction', async () => {
  const seen: string[] = [];
  server.writePath.addHook(async (tx, changes) => {
    const { rows } = await tx.raw(`SELECT count(*)::int AS n FROM users WHERE resource->>'userName' = 'hooked@example.com'`);
    seen.push(`${changes.entries.length}:${rows[0].n}`);
    if (changes.entries.some((e) => (e.after as { title?: string } | undefined)?.title === 'veto')) throw new Error('vetoed by hook');
  });
  await server.writePath.run({ name: 'cli-test', source: 'cli', requestId: 'r1' }, (context) => createUser(context, { schemas: [USER_SCHEMA], userName: 'hooked@example.com' }));
  assert.deepEqual(seen, ['1:1'], 'the hook saw the uncommitted row');
  const before = (await server.db.knex.raw(`SELECT count(*)::int AS n FROM journal`)).rows[0].n;
  await assert.rejects(
    server.writePath.run({ name: 'cli-test', source: 'cli', requestId: 'r2' }, (context) => createUser(context, { schemas: [USER_SCHEMA], userName: 'vetoed@example.com', title: 'veto' })),
    /vetoed/,
  );
  assert.equal((await server.db.knex.raw(`SELECT count(*)::int AS n FROM journal`)).rows[0].n, before);
  assert.equal((await server.db.knex.raw(`SELECT count(*)::int AS n FROM users WHERE resource->>'userName' = 'vetoed@example.com'`)).rows[0].n, 0);
  const { rows } = await server.db.knex.raw(`SELECT actor, source, request_id FROM journal WHERE request_id = 'r1'`);
  assert.deepEqual(rows, [{ actor: 'cli-test', source: 'cli', request_id: 'r1' }]);
});
