/**
 * Responses that carry the whole stored document are spliced from PostgreSQL's document text
 * (render.ts renderResourceText); responses reshaped by attributes/excludedAttributes are built
 * from the parsed document. Both must give the same JSON for the same resource.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { serializeScimBody } from '../src/http/scim-response.js';
import { JsonText } from '../src/scim/render.js';
import { ENTERPRISE, GROUP_SCHEMA, HR, PATCH_OP, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

// None of these users has a nickName: excluding it forces the parsed-document path without
// changing what the response should contain.
const FORCE_OBJECT_PATH = 'excludedAttributes=nickName';

const USERS = [
  { schemas: [USER_SCHEMA], userName: 'plain@example.com' },
  {
    schemas: [USER_SCHEMA, ENTERPRISE, HR],
    userName: 'zoë.ñandú@example.com',
    name: { givenName: 'Zoë "Quote" \\ Backslash', familyName: '山田', formatted: 'Zoë 山田 😀' },
    displayName: 'Tab\there, newline\nthere',
    active: false,
    emails: [{ value: 'zoe@example.com', type: 'work', primary: true }, { value: 'z@home.example', type: 'home' }],
    // The manager must be an existing user (a reference): MANAGER is replaced by its id below.
    [ENTERPRISE]: { employeeNumber: '0042', department: 'Finance', manager: { value: 'MANAGER' } },
    [HR]: { location: 'Zürich', employmentType: 'Contractor', endDate: '2027-01-31T00:00:00Z' },
  },
];

test('a GET by id gives the same JSON from the document text as from the parsed document', async () => {
  const group = await server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'Rendered Group' } });
  const manager = await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'manager@example.com' } });
  for (const body of USERS) {
    const created = await server.request('POST', '/Users', { body: JSON.parse(JSON.stringify(body).replace('"MANAGER"', JSON.stringify(manager.body.id))) });
    assert.equal(created.status, 201, created.text);
    const id = created.body.id as string;
    await server.request('PATCH', `/Groups/${group.body.id}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: id }] }] } });
    const fromText = await server.request('GET', `/Users/${id}`);
    const fromObject = await server.request('GET', `/Users/${id}?${FORCE_OBJECT_PATH}`);
    assert.equal(fromText.status, 200);
    assert.deepEqual(fromText.body, fromObject.body);
    assert.deepEqual(Object.keys(fromText.body), Object.keys(fromObject.body), 'same member order');
    // PostgreSQL writes `"key": value`, JSON.stringify `"key":value`: proof that both paths ran.
    assert.match(fromText.text, /"userName": "/);
    assert.doesNotMatch(fromObject.text, /"userName": "/);
    assert.equal(fromText.body.groups[0].display, 'Rendered Group');
    assert.equal(fromText.headers.get('etag'), fromText.body.meta.version);
  }
  const groupText = await server.request('GET', `/Groups/${group.body.id}`);
  const groupObject = await server.request('GET', `/Groups/${group.body.id}?excludedAttributes=externalId`);
  assert.deepEqual(groupText.body, groupObject.body);
  assert.equal(groupText.body.members.length, USERS.length);
});

test('a page of users is the same from the document text as from the parsed document', async () => {
  const fromText = await server.request('GET', '/Users?count=10&sortBy=userName');
  const fromObject = await server.request('GET', `/Users?count=10&sortBy=userName&${FORCE_OBJECT_PATH}`);
  assert.equal(fromText.status, 200);
  assert.ok(fromText.body.Resources.length >= USERS.length);
  assert.deepEqual(fromText.body, fromObject.body);
  assert.match(fromText.text, /"userName": "/);
  const filtered = await server.request('GET', `/Users?filter=${encodeURIComponent('userName sw "zo"')}`);
  assert.equal(filtered.body.Resources[0][HR].location, 'Zürich');
  const search = await server.request('POST', '/.search', { body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], count: 50 } });
  assert.equal(search.status, 200);
  assert.equal(search.body.Resources.length, search.body.totalResults);
});

test('serializeScimBody splices JSON text into bodies and lists, and serialises everything else', () => {
  assert.equal(serializeScimBody(new JsonText('{"a": 1}')), '{"a": 1}');
  const list = serializeScimBody({ totalResults: 2, Resources: [new JsonText('{"id": "1"}'), { id: '2' }] });
  assert.deepEqual(JSON.parse(list), { totalResults: 2, Resources: [{ id: '1' }, { id: '2' }] });
  assert.deepEqual(JSON.parse(serializeScimBody({ Resources: [new JsonText('{}')] })), { Resources: [{}] });
  assert.equal(serializeScimBody({ Resources: [] }), '{"Resources":[]}');
  assert.equal(serializeScimBody({ detail: 'x' }), '{"detail":"x"}');
});

test('a user lists direct groups, and indirect ones once a group is nested in another', async () => {
  const user = (await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'nested@example.com' } })).body;
  const team = (await server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'Team', members: [{ value: user.id }] } })).body;
  const direct = await server.request('GET', `/Users/${user.id}`);
  assert.deepEqual(direct.body.groups.map((g: { display: string; type: string }) => [g.display, g.type]), [['Team', 'direct']]);

  const division = (await server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'Division', members: [{ value: team.id, type: 'Group' }] } })).body;
  const company = (await server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'Company', members: [{ value: division.id, type: 'Group' }] } })).body;
  // Nearest first: Division contains Team (depth 2), Company contains Division (depth 3).
  const expected = [['Team', 'direct'], ['Division', 'indirect'], ['Company', 'indirect']];
  for (const path of [`/Users/${user.id}`, `/Users/${user.id}?${FORCE_OBJECT_PATH}`]) {
    const read = await server.request('GET', path);
    assert.deepEqual(read.body.groups.map((g: { display: string; type: string }) => [g.display, g.type]), expected, path);
  }
  const page = await server.request('GET', `/Users?filter=${encodeURIComponent('userName eq "nested@example.com"')}`);
  assert.deepEqual(page.body.Resources[0].groups.map((g: { value: string }) => g.value), [team.id, division.id, company.id]);
  // A cycle (Company contains Team) ends at the depth limit instead of looping.
  await server.request('PATCH', `/Groups/${company.id}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: team.id, type: 'Group' }] }] } });
  const cyclic = await server.request('GET', `/Users/${user.id}`);
  assert.equal(cyclic.status, 200);
  // Company now contains Team directly: both Company and Division are at depth 2, then by name.
  assert.deepEqual(cyclic.body.groups.map((g: { display: string }) => g.display), ['Team', 'Company', 'Division']);
});
