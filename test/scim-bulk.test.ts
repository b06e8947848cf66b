import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { GROUP_SCHEMA, PATCH_OP, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';

const BULK = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

const bulk = (Operations: unknown[], extra: Record<string, unknown> = {}) => server.request('POST', '/Bulk', { body: { schemas: [BULK], Operations, ...extra } });

test('creates users and a group that refers to them by bulkId, in any order', async () => {
  const res = await bulk([
    { method: 'POST', path: '/Groups', bulkId: 'g1', data: { schemas: [GROUP_SCHEMA], displayName: 'Bulk Group', members: [{ type: 'User', value: 'bulkId:u1' }, { type: 'User', value: 'bulkId:u2' }] } },
    { method: 'POST', path: '/Users', bulkId: 'u1', data: { schemas: [USER_SCHEMA], userName: 'bulk1@example.com' } },
    { method: 'POST', path: '/Users', bulkId: 'u2', data: { schemas: [USER_SCHEMA], userName: 'bulk2@example.com' } },
    { method: 'PATCH', path: '/Users/bulkId:u1', data: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: 'Bulk' }] } },
  ]);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.schemas, ['urn:ietf:params:scim:api:messages:2.0:BulkResponse']);
  assert.deepEqual(res.body.Operations.map((o: { status: string }) => o.status), ['201', '201', '201', '200']);
  const group = await server.request('GET', res.body.Operations[0].location);
  assert.equal(group.body.members.length, 2);
  const user = await server.request('GET', res.body.Operations[1].location);
  assert.equal(user.body.title, 'Bulk');
  const { rows } = await server.db.knex.raw(`SELECT DISTINCT source FROM journal`);
  assert.deepEqual(rows.map((r: { source: string }) => r.source), ['bulk']);
});

test('circular bulkId references fail with 409 and create nothing (no duplicates)', async () => {
  const before = (await server.db.knex.raw(`SELECT count(*)::int AS n FROM groups`)).rows[0].n;
  const res = await bulk([
    { method: 'POST', path: '/Groups', bulkId: 'ga', data: { schemas: [GROUP_SCHEMA], displayName: 'GA', members: [{ type: 'Group', value: 'bulkId:gb' }] } },
    { method: 'POST', path: '/Groups', bulkId: 'gb', data: { schemas: [GROUP_SCHEMA], displayName: 'GB', members: [{ type: 'Group', value: 'bulkId:ga' }] } },
  ]);
  assert.deepEqual(res.body.Operations.map((o: { status: string }) => o.status), ['409', '409']);
  assert.equal((await server.db.knex.raw(`SELECT count(*)::int AS n FROM groups`)).rows[0].n, before);
});

test('one failing operation does not stop the others; failOnErrors stops after N errors', async () => {
  const res = await bulk([
    { method: 'POST', path: '/Users', bulkId: 'x1', data: { schemas: [USER_SCHEMA], userName: 'bulk1@example.com' } },
    { method: 'POST', path: '/Users', bulkId: 'x2', data: { schemas: [USER_SCHEMA], userName: 'bulk3@example.com' } },
  ]);
  assert.equal(res.body.Operations[0].status, '409');
  assert.equal(res.body.Operations[0].response.scimType, 'uniqueness');
  assert.equal(res.body.Operations[1].status, '201');
  const stopped = await bulk(
    [
      { method: 'DELETE', path: '/Users/00000000-0000-4000-8000-000000000000' },
      { method: 'POST', path: '/Users', bulkId: 'y1', data: { schemas: [USER_SCHEMA], userName: 'never@example.com' } },
    ],
    { failOnErrors: 1 },
  );
  assert.equal(stopped.body.Operations.length, 1);
  assert.equal(stopped.body.Operations[0].status, '404');
  const never = await server.request('GET', `/Users?filter=${encodeURIComponent('userName eq "never@example.com"')}`);
  assert.equal(never.body.totalResults, 0);
});

test('a version in a bulk operation is checked like If-Match', async () => {
  const id = (await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'bulkver@example.com' } })).body.id;
  const res = await bulk([
    { method: 'PUT', path: `/Users/${id}`, version: 'W/"9"', data: { schemas: [USER_SCHEMA], userName: 'bulkver@example.com', title: 'x' } },
    { method: 'DELETE', path: `/Users/${id}`, version: 'W/"1"' },
  ]);
  assert.deepEqual(res.body.Operations.map((o: { status: string }) => o.status), ['412', '204']);
});
