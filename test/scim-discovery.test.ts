import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ENTERPRISE, HR, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';

let server: TestServer;
before(async () => {
  server = await startTestServer({ maxPageSize: 500, bulkMaxOperations: 250 });
});
after(async () => {
  await server.close();
});

test('ServiceProviderConfig is honest about what Roster does', async () => {
  const res = await server.request('GET', '/ServiceProviderConfig');
  assert.equal(res.status, 200);
  const c = res.body;
  assert.equal(c.patch.supported, true);
  assert.equal(c.filter.supported, true);
  assert.equal(c.filter.maxResults, 500);
  assert.equal(c.sort.supported, true);
  assert.equal(c.etag.supported, true);
  assert.equal(c.bulk.supported, true);
  assert.equal(c.bulk.maxOperations, 250);
  assert.equal(c.bulk.maxPayloadSize, 1_048_576);
  assert.deepEqual(c.pagination, { cursor: true, index: true, defaultPaginationMethod: 'index', defaultPageSize: 100, maxPageSize: 500 });
  assert.equal(c.authenticationSchemes[0].type, 'oauthbearertoken');
  assert.equal(c.meta.location, `${server.scimUrl}/ServiceProviderConfig`);
});

test('ResourceTypes list User (with both extensions) and Group', async () => {
  const res = await server.request('GET', '/ResourceTypes');
  assert.equal(res.status, 200);
  const byId = Object.fromEntries(res.body.Resources.map((r: { id: string }) => [r.id, r]));
  assert.equal(byId.User.endpoint, '/Users');
  assert.deepEqual(byId.User.schemaExtensions.map((e: { schema: string }) => e.schema), [ENTERPRISE, HR]);
  assert.equal(byId.Group.endpoint, '/Groups');
  assert.equal((await server.request('GET', '/ResourceTypes/User')).body.id, 'User');
});

test('Schemas describe core, enterprise and the Roster HR extension', async () => {
  const res = await server.request('GET', '/Schemas');
  const ids = res.body.Resources.map((s: { id: string }) => s.id);
  for (const id of [USER_SCHEMA, ENTERPRISE, HR, 'urn:ietf:params:scim:schemas:core:2.0:Group']) assert.ok(ids.includes(id), id);
  const hr = await server.request('GET', `/Schemas/${HR}`);
  const attributes = Object.fromEntries(hr.body.attributes.map((a: { name: string }) => [a.name, a]));
  assert.deepEqual(Object.keys(attributes).sort(), ['employmentType', 'endDate', 'hrStatus', 'location', 'personId', 'startDate']);
  assert.equal(attributes.startDate.type, 'dateTime');
  assert.equal(attributes.personId.mutability, 'immutable');
});

test('discovery needs a token too; /Me is not supported', async () => {
  const res = await server.request('GET', '/Schemas', { token: null });
  assert.equal(res.status, 401);
  const me = await server.request('GET', '/Me');
  assert.equal(me.status, 501);
});
