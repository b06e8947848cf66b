import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createKnex } from '../src/db/knex.js';
import { createApp } from '../src/compose/app.js';
import { WritePath } from '../src/write/write-path.js';
import { PATCH_OP, snapshotCounts, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';
import { assertRefused, type RefusalCase } from './support/refusals.js';

let server: TestServer;
let userId: string;
let groupId: string;
before(async () => {
  server = await startTestServer({ maxBodyBytes: 64 * 1024 });
  userId = (await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'existing@example.com', active: true } })).body.id;
  await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'existing2@example.com' } });
  groupId = (await server.request('POST', '/Groups', { body: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Existing' } })).body.id;
});
after(async () => {
  await server.close();
});

/** A case below 400 is input Roster must accept: it answers that status and changes nothing. */
type BadInput = RefusalCase & { status: number };

const q = encodeURIComponent;
const userBody = (extra: Record<string, unknown>) => ({ body: { schemas: [USER_SCHEMA], userName: 'new@example.com', ...extra } });
const deepNot = 'not ('.repeat(40) + 'userName eq "a"' + ')'.repeat(40);
const manyOrs = Array.from({ length: 100 }, (_, i) => `userName eq "u${i}"`).join(' or ');
const dnfBomb = Array.from({ length: 16 }, (_, i) => `(title eq "a${i}" or title eq "b${i}")`).join(' and ');

const cases: BadInput[] = [
  { name: 'malformed JSON', method: 'POST', path: () => '/Users', options: () => ({ rawBody: '{"schemas": [' }), status: 400, scimType: 'invalidSyntax' },
  { name: 'JSON array instead of object', method: 'POST', path: () => '/Users', options: () => ({ body: [1, 2] }), status: 400, scimType: 'invalidSyntax' },
  { name: 'no schemas', method: 'POST', path: () => '/Users', options: () => ({ body: { userName: 'x@example.com' } }), status: 400, scimType: 'invalidSyntax' },
  { name: 'text/plain body', method: 'POST', path: () => '/Users', options: () => ({ rawBody: 'userName=x', headers: { 'content-type': 'text/plain' } }), status: 400, scimType: 'invalidSyntax' },
  { name: 'missing userName', method: 'POST', path: () => '/Users', options: () => ({ body: { schemas: [USER_SCHEMA], displayName: 'x' } }), status: 400, scimType: 'invalidValue' },
  { name: 'userName of the wrong type', method: 'POST', path: () => '/Users', options: () => ({ body: { schemas: [USER_SCHEMA], userName: 42 } }), status: 400, scimType: 'invalidValue' },
  { name: 'active of the wrong type', method: 'POST', path: () => '/Users', options: () => userBody({ active: 'maybe' }), status: 400, scimType: 'invalidValue' },
  { name: 'emails not an array of objects', method: 'POST', path: () => '/Users', options: () => userBody({ emails: 'a@b.c' }), status: 400, scimType: 'invalidValue' },
  { name: 'unknown attribute', method: 'POST', path: () => '/Users', options: () => userBody({ favouriteColour: 'blue' }), status: 400, scimType: 'invalidValue', detail: /favouriteColour/ },
  { name: 'unknown sub-attribute', method: 'POST', path: () => '/Users', options: () => userBody({ name: { givenName: 'A', middleInitial: 'B' } }), status: 400, scimType: 'invalidValue', detail: /middleInitial/ },
  { name: 'unknown schema extension', method: 'POST', path: () => '/Users', options: () => userBody({ 'urn:example:custom:1.0:User': { x: 1 } }), status: 400, scimType: 'invalidValue' },
  { name: 'bad dateTime in HR extension', method: 'POST', path: () => '/Users', options: () => userBody({ 'urn:ietf:params:scim:schemas:extension:roster:2.0:User': { startDate: 'next tuesday' } }), status: 400, scimType: 'invalidValue' },
  { name: 'body over the limit', method: 'POST', path: () => '/Users', options: () => userBody({ displayName: 'x'.repeat(70 * 1024) }), status: 413 },
  { name: 'PUT with wrong type', method: 'PUT', path: () => `/Users/${userId}`, options: () => userBody({ active: 17 }), status: 400, scimType: 'invalidValue' },
  { name: 'PUT taking an existing userName', method: 'PUT', path: () => `/Users/${userId}`, options: () => ({ body: { schemas: [USER_SCHEMA], userName: 'EXISTING2@example.com' } }), status: 409, scimType: 'uniqueness' },
  { name: 'PATCH without PatchOp schema', method: 'PATCH', path: () => `/Users/${userId}`, options: () => ({ body: { Operations: [{ op: 'replace', path: 'active', value: false }] } }), status: 400, scimType: 'invalidSyntax' },
  { name: 'PATCH with unknown op', method: 'PATCH', path: () => `/Users/${userId}`, options: () => ({ body: { schemas: [PATCH_OP], Operations: [{ op: 'merge', path: 'active', value: false }] } }), status: 400, scimType: 'invalidSyntax' },
  { name: 'PATCH of an unknown path', method: 'PATCH', path: () => `/Users/${userId}`, options: () => ({ body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'shoeSize', value: 9 }] } }), status: 400, scimType: 'invalidPath' },
  { name: 'PATCH remove without path', method: 'PATCH', path: () => `/Users/${userId}`, options: () => ({ body: { schemas: [PATCH_OP], Operations: [{ op: 'remove' }] } }), status: 400, scimType: 'noTarget' },
  { name: 'PATCH of a readOnly attribute', method: 'PATCH', path: () => `/Users/${userId}`, options: () => ({ body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'id', value: 'x' }] } }), status: 400, scimType: 'mutability' },
  { name: 'PATCH with a wrong value type', method: 'PATCH', path: () => `/Users/${userId}`, options: () => ({ body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: 'perhaps' }] } }), status: 400, scimType: 'invalidValue' },
  { name: 'PATCH second op fails: first is not applied', method: 'PATCH', path: () => `/Users/${userId}`, options: () => ({ body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: 'Boss' }, { op: 'replace', path: 'nope', value: 1 }] } }), status: 400, scimType: 'invalidPath' },
  { name: 'group PATCH adding a missing member', method: 'PATCH', path: () => `/Groups/${groupId}`, options: () => ({ body: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: '11111111-1111-4111-8111-111111111111' }] }] } }), status: 400, scimType: 'invalidValue' },
  { name: 'group PATCH adding a member with no value', method: 'PATCH', path: () => `/Groups/${groupId}`, options: () => ({ body: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ display: 'x' }] }] } }), status: 400, scimType: 'invalidValue' },
  { name: 'filter: missing value', method: 'GET', path: () => `/Users?filter=${q('userName eq')}`, status: 400, scimType: 'invalidFilter' },
  { name: 'filter: unquoted string', method: 'GET', path: () => `/Users?filter=${q('userName eq bob')}`, status: 400, scimType: 'invalidFilter' },
  { name: 'filter: unknown operator', method: 'GET', path: () => `/Users?filter=${q('userName like "b%"')}`, status: 400, scimType: 'invalidFilter' },
  { name: 'filter: unknown attribute', method: 'GET', path: () => `/Users?filter=${q('shoeSize gt 9')}`, status: 400, scimType: 'invalidFilter' },
  { name: 'filter: unbalanced parentheses', method: 'GET', path: () => `/Users?filter=${q('(userName eq "a"')}`, status: 400, scimType: 'invalidFilter' },
  { name: 'filter: gt on a boolean', method: 'GET', path: () => `/Users?filter=${q('active gt true')}`, status: 400, scimType: 'invalidFilter' },
  { name: 'filter: SQL in a value is just a value', method: 'GET', path: () => `/Users?filter=${q(`userName eq "x' OR 1=1 --"`)}`, status: 200 },
  { name: 'filter: SQL as an attribute', method: 'GET', path: () => `/Users?filter=${q('userName) OR (1=1 eq "x"')}`, status: 400, scimType: 'invalidFilter' },
  { name: 'filter: over-long', method: 'GET', path: () => `/Users?filter=${q('userName eq "' + 'a'.repeat(5000) + '"')}`, status: 400, scimType: 'invalidFilter' },
  { name: 'filter: too many comparisons', method: 'GET', path: () => `/Users?filter=${q(manyOrs)}`, status: 400, scimType: 'invalidFilter' },
  { name: 'filter: nested too deep', method: 'GET', path: () => `/Users?filter=${q(deepNot)}`, status: 400, scimType: 'invalidFilter' },
  { name: 'filter: DNF bomb is cheap and valid', method: 'GET', path: () => `/Users?filter=${q(dnfBomb)}`, status: 200 },
  { name: 'sortBy injection', method: 'GET', path: () => `/Users?sortBy=${q('userName; DROP TABLE users')}`, status: 400, scimType: 'invalidValue' },
  { name: 'sortBy unknown attribute', method: 'GET', path: () => '/Users?sortBy=shoeSize', status: 400, scimType: 'invalidValue' },
  { name: 'sortOrder invalid', method: 'GET', path: () => '/Users?sortOrder=sideways', status: 400, scimType: 'invalidValue' },
  { name: 'startIndex not a number', method: 'GET', path: () => '/Users?startIndex=abc', status: 400, scimType: 'invalidValue' },
  { name: 'count not a number', method: 'GET', path: () => '/Users?count=1e9', status: 400, scimType: 'invalidValue' },
  { name: 'unknown user id', method: 'GET', path: () => '/Users/00000000-0000-4000-8000-000000000000', status: 404 },
  { name: 'malformed user id', method: 'GET', path: () => `/Users/${q("1' OR '1'='1")}`, status: 404 },
  { name: 'PATCH of an unknown id', method: 'PATCH', path: () => '/Users/00000000-0000-4000-8000-000000000000', options: () => ({ body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] } }), status: 404 },
  { name: 'DELETE of an unknown group', method: 'DELETE', path: () => '/Groups/00000000-0000-4000-8000-000000000000', status: 404 },
  { name: 'POST to /Schemas', method: 'POST', path: () => '/Schemas', options: () => ({ body: {} }), status: 405 },
  { name: 'POST to /ResourceTypes/User', method: 'POST', path: () => '/ResourceTypes/User', options: () => ({ body: {} }), status: 405 },
  { name: 'PUT to /ServiceProviderConfig', method: 'PUT', path: () => '/ServiceProviderConfig', options: () => ({ body: {} }), status: 405 },
  { name: 'DELETE on /Users', method: 'DELETE', path: () => '/Users', status: 405 },
  { name: 'unknown endpoint', method: 'GET', path: () => '/Widgets', status: 404 },
  { name: 'bulk without BulkRequest schema', method: 'POST', path: () => '/Bulk', options: () => ({ body: { Operations: [] } }), status: 400, scimType: 'invalidSyntax' },
  { name: 'bulk with too many operations', method: 'POST', path: () => '/Bulk', options: () => ({ body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations: Array.from({ length: 1001 }, (_, i) => ({ method: 'DELETE', path: `/Users/${i}` })) } }), status: 413 },
];

for (const c of cases) {
  test(`bad input: ${c.name} → ${c.status}${c.scimType ? ' ' + c.scimType : ''}, nothing changes`, async () => {
    if (c.status >= 400) return assertRefused(server, c);
    const before = await snapshotCounts(server.db);
    const res = await server.request(c.method, c.path(), c.options?.());
    assert.equal(res.status, c.status, res.text);
    assert.deepEqual(await snapshotCounts(server.db), before);
  });
}

test('the users table survived every injection attempt', async () => {
  const res = await server.request('GET', `/Users/${userId}`);
  assert.equal(res.status, 200);
  assert.equal(res.body.title, undefined, 'the failed PATCH applied none of its operations');
});

test('a database that is unreachable gives 503 with Retry-After, never 404', async () => {
  const db = createKnex({ url: 'postgres://postgres@127.0.0.1:1/nowhere' });
  const app = createApp({
    db,
    writePath: new WritePath(db),
    config: { bootstrapToken: 'x'.repeat(32), publicUrl: undefined, maxBodyBytes: 1024, defaultPageSize: 10, maxPageSize: 10, bulkMaxOperations: 10 },
  });
  const http = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => http.once('listening', resolve));
  try {
    const port = (http.address() as { port: number }).port;
    const res = await fetch(`http://127.0.0.1:${port}/scim/v2/Users/00000000-0000-4000-8000-000000000000`, { headers: { authorization: `Bearer ${'x'.repeat(32)}` } });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '5');
    const body = (await res.json()) as { status: string; detail: string };
    assert.equal(body.status, '503');
    assert.doesNotMatch(body.detail, /ECONNREFUSED|127\.0\.0\.1/);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(ready.status, 503);
  } finally {
    http.close();
    await db.destroy();
  }
});

test('a storage fault is 500 with a request id and no internals, never 404', async () => {
  const other = await startTestServer();
  try {
    const id = (await other.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'outage@example.com' } })).body.id;
    await other.db.knex.raw(`ALTER TABLE users RENAME TO users_gone`);
    const res = await other.request('GET', `/Users/${id}`);
    assert.equal(res.status, 500);
    assert.doesNotMatch(res.text, /users_gone|relation|SELECT/i);
    assert.match(res.body.detail, /request id/);
    assert.equal(res.headers.get('x-request-id') !== null, true);
    await other.db.knex.raw(`ALTER TABLE users_gone RENAME TO users`);
  } finally {
    await other.close();
  }
});

/** Sends raw bytes as a request and returns the raw response text. */
function rawRequest(url: string, request: Buffer): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.end(request));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}

test('a request that is not valid HTTP (a raw non-ASCII byte in the URL) gets a SCIM 400, not a bare one', async () => {
  const target = '/scim/v2/Users?filter=userName%20eq%20%22ANA.M\u00dcLLER@example.com%22';
  const response = await rawRequest(server.url, Buffer.concat([Buffer.from(`GET ${target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer x\r\n\r\n`, 'utf8')]));
  const [head, body] = response.split('\r\n\r\n');
  assert.match(head!, /^HTTP\/1\.1 400 Bad Request/);
  assert.match(head!, /content-type: application\/scim\+json/i);
  const error = JSON.parse(body!);
  assert.deepEqual(error.schemas, ['urn:ietf:params:scim:api:messages:2.0:Error']);
  assert.equal(error.status, '400');
  assert.equal(error.scimType, 'invalidSyntax');
  assert.match(error.detail, /percent-encode/);
});
