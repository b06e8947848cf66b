/**
 * Request sequences shaped like Microsoft's "Develop and plan provisioning for a SCIM endpoint"
 * tutorial and its "Known issues ... SCIM 2.0 protocol compliance" article (aadOptscim062020),
 * sent over HTTP exactly as Entra ID sends them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ENTERPRISE, GROUP_SCHEMA, PATCH_OP, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

const q = encodeURIComponent;
const patchBody = (Operations: unknown[]) => ({ body: { schemas: [PATCH_OP], Operations } });

describe('Entra ID user lifecycle (tutorial shapes)', () => {
  let id: string;
  const userName = 'Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1';

  test('Get User by query, zero results', async () => {
    const res = await server.request('GET', `/Users?filter=${q(`userName eq "${userName}"`)}`);
    assert.equal(res.status, 200);
    assert.equal(res.body.totalResults, 0);
    assert.deepEqual(res.body.Resources, []);
  });

  test('Create User', async () => {
    const res = await server.request('POST', '/Users', {
      body: {
        schemas: [USER_SCHEMA, ENTERPRISE],
        externalId: '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef',
        userName,
        active: true,
        emails: [{ primary: true, type: 'work', value: 'Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2b@testuser.com' }],
        meta: { resourceType: 'User' },
        name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
        roles: [],
      },
    });
    assert.equal(res.status, 201, res.text);
    id = res.body.id;
    assert.equal(res.body.externalId, '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef');
  });

  test('Get User, and by userName and externalId query', async () => {
    assert.equal((await server.request('GET', `/Users/${id}`)).body.userName, userName);
    const byName = await server.request('GET', `/Users?filter=${q(`userName eq "${userName}"`)}`);
    assert.equal(byName.body.totalResults, 1);
    const byExternal = await server.request('GET', `/Users?filter=${q('externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"')}`);
    assert.equal(byExternal.body.Resources[0].id, id);
  });

  test('Update User [Multi-valued properties]', async () => {
    const res = await server.request('PATCH', `/Users/${id}`, patchBody([
      { op: 'Replace', path: 'emails[type eq "work"].value', value: 'updatedEmail@microsoft.com' },
      { op: 'Replace', path: 'name.familyName', value: 'updatedFamilyName' },
    ]));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.emails[0].value, 'updatedEmail@microsoft.com');
    assert.equal(res.body.name.familyName, 'updatedFamilyName');
  });

  test('Update User [Single-valued properties]', async () => {
    const res = await server.request('PATCH', `/Users/${id}`, patchBody([{ op: 'Replace', path: 'userName', value: '5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com' }]));
    assert.equal(res.status, 200);
    assert.equal(res.body.userName, '5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com');
  });

  test('Disable User, before the flag ("False" string) and after it (boolean)', async () => {
    const before = await server.request('PATCH', `/Users/${id}`, patchBody([{ op: 'Replace', path: 'active', value: 'False' }]));
    assert.equal(before.status, 200, before.text);
    assert.equal(before.body.active, false);
    const enable = await server.request('PATCH', `/Users/${id}`, patchBody([{ op: 'Replace', value: { active: 'True' } }]));
    assert.equal(enable.body.active, true);
    const afterFlag = await server.request('PATCH', `/Users/${id}`, patchBody([{ op: 'replace', path: 'active', value: false }]));
    assert.equal(afterFlag.body.active, false);
  });

  test('path-less replace with dotted and URN keys (with the flag)', async () => {
    const res = await server.request('PATCH', `/Users/${id}`, patchBody([
      { op: 'replace', value: { displayName: 'Flag User', 'name.givenName': 'Given', [`${ENTERPRISE}:employeeNumber`]: '12345', [`${ENTERPRISE}:department`]: 'Finance' } },
    ]));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.name.givenName, 'Given');
    assert.equal(res.body[ENTERPRISE].employeeNumber, '12345');
    assert.ok(res.body.schemas.includes(ENTERPRISE));
  });

  test('Add to a filtered path with no match creates the element', async () => {
    const res = await server.request('PATCH', `/Users/${id}`, patchBody([
      { op: 'Add', path: 'phoneNumbers[type eq "work"].value', value: '+1 555 0100' },
      { op: 'Add', path: 'addresses[type eq "work"].locality', value: 'Redmond' },
    ]));
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body.phoneNumbers, [{ type: 'work', value: '+1 555 0100' }]);
    assert.equal(res.body.addresses[0].locality, 'Redmond');
  });

  test('manager as a plain id string (before the flag) and as an object', async () => {
    const boss = (await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'boss@testuser.com' } })).body.id;
    const res = await server.request('PATCH', `/Users/${id}`, patchBody([{ op: 'Add', path: `${ENTERPRISE}:manager`, value: boss }]));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body[ENTERPRISE].manager.value, boss);
    const created = await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA, ENTERPRISE], userName: 'report@testuser.com', [ENTERPRISE]: { manager: boss } } });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body[ENTERPRISE].manager.value, boss);
  });

  test('roles with Entra role types are accepted', async () => {
    const res = await server.request('PATCH', `/Users/${id}`, patchBody([
      { op: 'Add', path: 'roles', value: [{ primary: 'True', type: 'WindowsAzureActiveDirectoryRole', display: 'Admin', value: 'Admin' }] },
    ]));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.roles[0].primary, true);
  });

  test('Delete User', async () => {
    assert.equal((await server.request('DELETE', `/Users/${id}`)).status, 204);
    assert.equal((await server.request('GET', `/Users/${id}`)).status, 404);
  });
});

describe('Entra ID group lifecycle (tutorial shapes)', () => {
  let groupId: string;
  let member1: string;
  let member2: string;

  test('Create Group with Entra\'s extra schema URN', async () => {
    member1 = (await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'm1@testuser.com' } })).body.id;
    member2 = (await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'm2@testuser.com' } })).body.id;
    const res = await server.request('POST', '/Groups', {
      body: {
        schemas: [GROUP_SCHEMA, 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group'],
        externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159',
        displayName: 'displayName',
        meta: { resourceType: 'Group' },
      },
    });
    assert.equal(res.status, 201, res.text);
    groupId = res.body.id;
  });

  test('Get Group and get by displayName, excluding members', async () => {
    const one = await server.request('GET', `/Groups/${groupId}?excludedAttributes=members`);
    assert.equal(one.body.displayName, 'displayName');
    assert.equal(one.body.members, undefined);
    const found = await server.request('GET', `/Groups?excludedAttributes=members&filter=${q('displayName eq "displayName"')}`);
    assert.equal(found.body.totalResults, 1);
  });

  test('Update Group [Non-member attributes] → 204', async () => {
    const res = await server.request('PATCH', `/Groups/${groupId}`, patchBody([{ op: 'Replace', path: 'displayName', value: '1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName' }]));
    assert.equal(res.status, 204);
  });

  test('Update Group [Add Members] with $ref null → 204', async () => {
    const res = await server.request('PATCH', `/Groups/${groupId}`, patchBody([{ op: 'Add', path: 'members', value: [{ $ref: null, value: member1 }, { $ref: null, value: member2 }] }]));
    assert.equal(res.status, 204, res.text);
  });

  test('Update Group [Remove Members], both the value-array and the filter shape → 204', async () => {
    const arrayShape = await server.request('PATCH', `/Groups/${groupId}`, patchBody([{ op: 'Remove', path: 'members', value: [{ $ref: null, value: member1 }] }]));
    assert.equal(arrayShape.status, 204);
    const filterShape = await server.request('PATCH', `/Groups/${groupId}`, patchBody([{ op: 'remove', path: `members[value eq "${member2}"]` }]));
    assert.equal(filterShape.status, 204);
    const res = await server.request('GET', `/Groups/${groupId}`);
    assert.deepEqual(res.body.members, []);
  });

  test('Delete Group', async () => {
    assert.equal((await server.request('DELETE', `/Groups/${groupId}`)).status, 204);
  });
});
