/**
 * Request sequences shaped like Okta's SCIM 2.0 reference: look up by userName with paging, create
 * with groups:[] and a password, PUT for profile updates, PATCH active=false to deprovision, and
 * group push with rename (id inside the value) and member add/remove.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GROUP_SCHEMA, PATCH_OP, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

const q = encodeURIComponent;

describe('Okta user lifecycle', () => {
  let id: string;
  let created: Record<string, unknown>;

  test('GET /Users?filter=userName eq …&startIndex=1&count=100 finds nobody', async () => {
    const res = await server.request('GET', `/Users?filter=${q('userName eq "test.user@okta.local"')}&startIndex=1&count=100`);
    assert.equal(res.status, 200);
    assert.equal(res.body.totalResults, 0);
  });

  test('POST /Users', async () => {
    const res = await server.request('POST', '/Users', {
      body: {
        schemas: [USER_SCHEMA],
        userName: 'test.user@okta.local',
        name: { givenName: 'Test', familyName: 'User' },
        emails: [{ primary: true, value: 'test.user@okta.local', type: 'work' }],
        displayName: 'Test User',
        locale: 'en-US',
        externalId: '00ujl29u0le5T6Aj10h7',
        groups: [],
        password: '1mz050nq',
        active: true,
      },
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.status, 201, res.text);
    id = res.body.id;
    created = res.body;
    assert.equal(res.body.password, undefined);
  });

  test('GET /Users/{id}', async () => {
    const res = await server.request('GET', `/Users/${id}`);
    assert.equal(res.body.userName, 'test.user@okta.local');
  });

  test('PUT /Users/{id} with the full resource (id and meta echoed back) updates the profile', async () => {
    const res = await server.request('PUT', `/Users/${id}`, {
      body: { ...created, name: { givenName: 'Another', familyName: 'User' } },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.name.givenName, 'Another');
    assert.equal(res.body.id, id);
  });

  test('PATCH active=false deprovisions; the user stays readable', async () => {
    const res = await server.request('PATCH', `/Users/${id}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] } });
    assert.equal(res.status, 200);
    assert.equal(res.body.active, false);
    assert.equal((await server.request('GET', `/Users/${id}`)).body.active, false);
  });

  test('PATCH password change', async () => {
    const before = (await server.db.knex('users').where({ id }).first()).password_hash;
    const res = await server.request('PATCH', `/Users/${id}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { password: 'n3w-Passw0rd' } }] } });
    assert.equal(res.status, 200);
    const after = (await server.db.knex('users').where({ id }).first()).password_hash;
    assert.notEqual(after, before);
  });
});

describe('Okta group push', () => {
  let groupId: string;
  let user1: string;
  let user2: string;

  test('POST /Groups with empty members', async () => {
    user1 = (await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'g1@okta.local' } })).body.id;
    user2 = (await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'g2@okta.local' } })).body.id;
    const res = await server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'Test SCIMv2', members: [] } });
    assert.equal(res.status, 201);
    groupId = res.body.id;
  });

  test('GET /Groups?startIndex=1&count=100', async () => {
    const res = await server.request('GET', '/Groups?startIndex=1&count=100');
    assert.equal(res.body.totalResults, 1);
  });

  test('PATCH rename with the group id inside the value object', async () => {
    const res = await server.request('PATCH', `/Groups/${groupId}`, {
      body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { id: groupId, displayName: 'Test SCIMv2 renamed' } }] },
    });
    assert.equal(res.status, 204, res.text);
    assert.equal((await server.request('GET', `/Groups/${groupId}`)).body.displayName, 'Test SCIMv2 renamed');
  });

  test('PATCH add then remove members (Okta shapes)', async () => {
    const add = await server.request('PATCH', `/Groups/${groupId}`, {
      body: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: user1, display: 'g1@okta.local' }, { value: user2, display: 'g2@okta.local' }] }] },
    });
    assert.equal(add.status, 204, add.text);
    const remove = await server.request('PATCH', `/Groups/${groupId}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: `members[value eq "${user1}"]` }] } });
    assert.equal(remove.status, 204);
    const res = await server.request('GET', `/Groups/${groupId}`);
    assert.deepEqual(res.body.members.map((m: { value: string }) => m.value), [user2]);
  });

  test('DELETE /Groups/{id}', async () => {
    assert.equal((await server.request('DELETE', `/Groups/${groupId}`)).status, 204);
  });
});
