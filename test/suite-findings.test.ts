/**
 * What third-party SCIM suites (Okta's spec test, Microsoft's validator collection, an RFC
 * conformance suite) found against a fresh Roster, each fixed or decided (issue 14 item 6;
 * docs/decisions/0400-0404).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ENTERPRISE, GROUP_SCHEMA, PATCH_OP, snapshotCounts, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';

let server: TestServer;
let userId: string;
let groupId: string;
before(async () => {
  server = await startTestServer();
  userId = (await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'suite@example.com' } })).body.id;
  groupId = (await server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'Suite' } })).body.id;
});
after(async () => {
  await server.close();
});

describe('0400: the method is checked before the body is parsed', () => {
  for (const path of ['/ServiceProviderConfig', '/Schemas', '/ResourceTypes', `/Schemas/${USER_SCHEMA}`, '/ResourceTypes/User']) {
    test(`POST ${path} with a non-JSON body is 405 with Allow: GET`, async () => {
      const res = await server.request('POST', path, { rawBody: 'this is not json', headers: { 'content-type': 'application/scim+json' } });
      assert.equal(res.status, 405, res.text);
      assert.equal(res.headers.get('allow'), 'GET');
      assert.equal(res.body.status, '405');
    });
  }
  test('POST /Users/{id} with a non-JSON body is 405 too', async () => {
    const res = await server.request('POST', `/Users/${userId}`, { rawBody: '{{{', headers: { 'content-type': 'application/scim+json' } });
    assert.equal(res.status, 405, res.text);
    assert.equal(res.headers.get('allow'), 'GET, PUT, PATCH, DELETE');
  });
});

test('0401: /Schemas publishes the Group members.display as readOnly', async () => {
  const res = await server.request('GET', `/Schemas/${GROUP_SCHEMA}`);
  assert.equal(res.status, 200);
  const members = (res.body.attributes as Array<{ name: string; subAttributes?: Array<{ name: string; mutability: string }> }>).find((a) => a.name === 'members')!;
  assert.equal(members.subAttributes!.find((a) => a.name === 'display')!.mutability, 'readOnly');
  assert.equal(members.subAttributes!.find((a) => a.name === 'value')!.mutability, 'immutable');
});

describe('0402: a member with the wrong type is told the type is wrong', () => {
  test('POST /Groups with an existing user given as type Group', async () => {
    const before = await snapshotCounts(server.db);
    const res = await server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'Typed', members: [{ value: userId, type: 'Group', $ref: `${server.scimUrl}/Users/${userId}` }] } });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.scimType, 'invalidValue');
    assert.match(res.body.detail, /is a User, but its "type" says Group/);
    assert.doesNotMatch(res.body.detail, /not found/);
    assert.deepEqual(await snapshotCounts(server.db), before);
  });
  test('PATCH add of an existing group given as type User', async () => {
    const other = (await server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'Nested' } })).body.id;
    const res = await server.request('PATCH', `/Groups/${groupId}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: other, type: 'User' }] }] } });
    assert.equal(res.status, 400, res.text);
    assert.match(res.body.detail, /is a Group, but its "type" says User/);
  });
});

test('0403: an extension object carrying its own "schemas" is accepted, and the nested list is not stored', async () => {
  const res = await server.request('POST', '/Users', {
    body: { schemas: [USER_SCHEMA, ENTERPRISE], userName: 'nested.schemas@example.com', [ENTERPRISE]: { schemas: [ENTERPRISE], department: 'Audit' } },
  });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(res.body[ENTERPRISE], { department: 'Audit' });
  const bad = await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA, ENTERPRISE], userName: 'nested.bad@example.com', [ENTERPRISE]: { schemas: 'x', department: 'Audit' } } });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.scimType, 'invalidValue');
});

test('0404: a PUT with a misspelt attribute (Microsoft\'s collection expects it ignored) is refused, naming it, and changes nothing', async () => {
  const before = await snapshotCounts(server.db);
  const res = await server.request('PUT', `/Users/${userId}`, { body: { schemas: [USER_SCHEMA], userName: 'suite@example.com', displayNmae: 'Typo' } });
  assert.equal(res.status, 400, res.text);
  assert.equal(res.body.scimType, 'invalidValue');
  assert.match(res.body.detail, /displayNmae/);
  assert.deepEqual(await snapshotCounts(server.db), before);
});
