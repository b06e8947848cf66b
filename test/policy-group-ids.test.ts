/**
 * The managed groups' ids remembered per policy version (src/policy/managed-group-ids.ts, decision
 * 0702): a joiner's reconciliation does not look the groups up by name, and when the remembered
 * ids no longer hold (a group deleted and recreated, as after a restore, or released) the joiner
 * still lands in the right group, journaled, and the chain verifies.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyJournal } from '../src/journal/verify.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { ALL_STAFF_POLICY, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';

const POLICY = ALL_STAFF_POLICY;

let db: TestDatabase;
let server: TestServer;
before(async () => {
  db = await createTestDatabase();
  server = await startTestServer({ policy: POLICY, db });
});
after(async () => {
  await server?.close();
  await db?.drop();
});

const joiner = (userName: string) => ({ schemas: [USER_SCHEMA], userName, active: true });

async function allStaff(): Promise<{ id: string; managed_by: string | null; version: number }> {
  const { rows } = await db.knex.raw(`SELECT id::text, managed_by, version FROM groups WHERE resource->>'displayName' = 'All Staff'`);
  assert.equal(rows.length, 1, 'one All Staff group');
  return rows[0];
}

async function joinsAllStaff(userName: string): Promise<{ statements: string[]; groupId: string }> {
  const statements: string[] = [];
  const listen = (q: { sql: string }) => statements.push(q.sql);
  db.knex.on('query', listen);
  const response = await server.request('POST', '/Users', { body: joiner(userName) });
  db.knex.off('query', listen);
  assert.equal(response.status, 201, response.text);
  const group = await allStaff();
  assert.deepEqual(
    response.body.groups.map((g: { value: string; display: string }) => [g.value, g.display]),
    [[group.id, 'All Staff']],
  );
  const { rows } = await db.knex.raw(`SELECT 1 FROM group_members WHERE group_id = ? AND member_id = ?`, [group.id, response.body.id]);
  assert.equal(rows.length, 1, `${userName} is a member of All Staff`);
  const { rows: journal } = await db.knex.raw(`SELECT 1 FROM journal WHERE action = 'members.add' AND resource_id = ? AND changes::text LIKE ?`, [group.id, `%${response.body.id}%`]);
  assert.equal(journal.length, 1, 'the membership is journaled on the group');
  return { statements, groupId: group.id };
}

const looksUpByName = (statements: string[]) => statements.some((sql) => /lower\(resource->>'displayName'\) = ANY/.test(sql));

test('a joiner after the first takes the remembered group id: no lookup by name, and the group version still moves', async () => {
  await joinsAllStaff('first@example.com');
  const before = await allStaff();
  const { statements } = await joinsAllStaff('second@example.com');
  assert.equal(looksUpByName(statements), false, 'the remembered id is used');
  assert.equal((await allStaff()).version, before.version + 1, 'the group got a new version (its ETag changes)');
  assert.equal((await verifyJournal(db.knex)).ok, true);
});

test('a managed group deleted and recreated behind the process (a restore): the next joiner finds the new group', async () => {
  await joinsAllStaff('before-restore@example.com');
  const old = await allStaff();
  await db.knex.raw(`DELETE FROM groups WHERE id = ?`, [old.id]);
  const { statements, groupId } = await joinsAllStaff('after-restore@example.com');
  assert.notEqual(groupId, old.id, 'a new All Staff group');
  assert.equal(looksUpByName(statements), true, 'the stale id was noticed and the group looked up');
  assert.equal((await allStaff()).managed_by, 'policy.yaml');
  // And it is remembered again.
  assert.equal(looksUpByName((await joinsAllStaff('later@example.com')).statements), false);
});

test('a managed group released behind the process: the next joiner takes it over again instead of trusting the memory', async () => {
  await joinsAllStaff('before-release@example.com');
  const group = await allStaff();
  await db.knex.raw(`UPDATE groups SET managed_by = NULL WHERE id = ?`, [group.id]);
  const { statements, groupId } = await joinsAllStaff('after-release@example.com');
  assert.equal(groupId, group.id);
  assert.equal(looksUpByName(statements), true);
  assert.equal((await allStaff()).managed_by, 'policy.yaml', 'managed again');
  assert.equal((await verifyJournal(db.knex)).ok, true);
});
