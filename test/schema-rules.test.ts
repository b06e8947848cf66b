/**
 * Schema rules, exactly (issue 14 item 2, docs/security.md "What Roster refuses"): values of the
 * declared type only, required attributes not blank, references to existing resources, PATCH
 * paths as the grammar writes them, SearchRequest bodies, cursors as Roster issued them, and
 * Roster-issued JWTs whose iat lies in the future. Each refusal changes nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { createClient } from '../src/oauth/client-store.js';
import { SigningKeyStore } from '../src/oauth/signing-keys.js';
import { ENTERPRISE, GROUP_SCHEMA, PATCH_OP, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';
import { assertRefused, type RefusalCase } from './support/refusals.js';

const SEARCH = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
let server: TestServer;
let userId: string;
let groupId: string;
before(async () => {
  server = await startTestServer();
  userId = (await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'rules@example.com' } })).body.id;
  groupId = (await server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'Rules' } })).body.id;
  for (let i = 0; i < 3; i++) await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: `page${i}@example.com` } });
});
after(async () => {
  await server.close();
});


const user = (extra: Record<string, unknown>) => ({ body: { schemas: [USER_SCHEMA, ENTERPRISE], userName: 'new.rules@example.com', ...extra } });
const patch = (...Operations: unknown[]) => ({ body: { schemas: [PATCH_OP], Operations } });
const MISSING = '6c0b0f3e-1d4c-4a5e-9a0c-2b7e1f3d9a11';

const refusals: RefusalCase[] = [
  { name: 'emails: [[[...]]]', method: 'POST', path: () => '/Users', options: () => user({ emails: [[[{ value: 'a@b.c' }]]] }), scimType: 'invalidValue', detail: /emails\[0\].*object/ },
  { name: 'emails: [[]]', method: 'POST', path: () => '/Users', options: () => user({ emails: [[]] }), scimType: 'invalidValue', detail: /emails\[0\]/ },
  { name: 'emails: [{}]', method: 'POST', path: () => '/Users', options: () => user({ emails: [{}] }), scimType: 'invalidValue', detail: /emails\[0\].*empty/ },
  { name: 'emails: ["text"]', method: 'POST', path: () => '/Users', options: () => user({ emails: ['a@b.c'] }), scimType: 'invalidValue', detail: /emails\[0\]/ },
  { name: 'PATCH add emails [{}]', method: 'PATCH', path: () => `/Users/${userId}`, options: () => patch({ op: 'add', path: 'emails', value: [{}] }), scimType: 'invalidValue', detail: /emails/ },
  { name: 'PATCH add emails [[]]', method: 'PATCH', path: () => `/Users/${userId}`, options: () => patch({ op: 'add', path: 'emails', value: [[]] }), scimType: 'invalidValue', detail: /emails/ },
  { name: 'name: [] (single-valued complex given an array)', method: 'POST', path: () => '/Users', options: () => user({ name: [{ givenName: 'A' }] }), scimType: 'invalidValue', detail: /name/ },
  { name: 'userName "   " on POST', method: 'POST', path: () => '/Users', options: () => user({ userName: '   ' }), scimType: 'invalidValue', detail: /userName.*blank/ },
  { name: 'userName "" via PATCH', method: 'PATCH', path: () => `/Users/${userId}`, options: () => patch({ op: 'replace', path: 'userName', value: '' }), scimType: 'invalidValue', detail: /userName/ },
  { name: 'userName " " via path-less PATCH', method: 'PATCH', path: () => `/Users/${userId}`, options: () => patch({ op: 'replace', value: { userName: ' ' } }), scimType: 'invalidValue', detail: /userName/ },
  { name: 'group displayName "" on POST', method: 'POST', path: () => '/Groups', options: () => ({ body: { schemas: [GROUP_SCHEMA], displayName: '' } }), scimType: 'invalidValue', detail: /displayName/ },
  { name: 'group renamed to "" by PATCH', method: 'PATCH', path: () => `/Groups/${groupId}`, options: () => patch({ op: 'replace', path: 'displayName', value: '' }), scimType: 'invalidValue', detail: /displayName/ },
  { name: 'group renamed to "  " by PUT', method: 'PUT', path: () => `/Groups/${groupId}`, options: () => ({ body: { schemas: [GROUP_SCHEMA], displayName: '  ' } }), scimType: 'invalidValue', detail: /displayName/ },
  { name: 'manager.value names no user (POST)', method: 'POST', path: () => '/Users', options: () => user({ [ENTERPRISE]: { manager: { value: MISSING } } }), scimType: 'invalidValue', detail: /manager.*6c0b0f3e/ },
  { name: 'manager.value names no user (PATCH)', method: 'PATCH', path: () => `/Users/${userId}`, options: () => patch({ op: 'add', path: `${ENTERPRISE}:manager`, value: { value: 'nobody' } }), scimType: 'invalidValue', detail: /manager/ },
  { name: 'manager.value names a group', method: 'POST', path: () => '/Users', options: () => user({ [ENTERPRISE]: { manager: { value: groupId } } }), scimType: 'invalidValue', detail: /manager/ },
  { name: 'members.value names nothing', method: 'POST', path: () => '/Groups', options: () => ({ body: { schemas: [GROUP_SCHEMA], displayName: 'Ghosts', members: [{ value: MISSING }] } }), scimType: 'invalidValue', detail: /6c0b0f3e/ },
  { name: 'PATCH path with a leading space', method: 'PATCH', path: () => `/Users/${userId}`, options: () => patch({ op: 'replace', path: ' title', value: 'x' }), scimType: 'invalidPath', detail: /space/ },
  { name: 'PATCH path with a trailing space', method: 'PATCH', path: () => `/Users/${userId}`, options: () => patch({ op: 'replace', path: 'title ', value: 'x' }), scimType: 'invalidPath', detail: /space/ },
  { name: 'PATCH path with a space before [', method: 'PATCH', path: () => `/Users/${userId}`, options: () => patch({ op: 'replace', path: 'emails [type eq "work"].value', value: 'x@y.z' }), scimType: 'invalidPath', detail: /space/ },
  { name: 'PATCH path with a space after ]', method: 'PATCH', path: () => `/Users/${userId}`, options: () => patch({ op: 'replace', path: 'emails[type eq "work"] .value', value: 'x@y.z' }), scimType: 'invalidPath', detail: /space/ },
  { name: '/.search with a null body', method: 'POST', path: () => '/.search', options: () => ({ rawBody: 'null' }), scimType: 'invalidSyntax', detail: /SearchRequest/ },
  { name: '/.search with 123', method: 'POST', path: () => '/.search', options: () => ({ rawBody: '123' }), scimType: 'invalidSyntax', detail: /SearchRequest/ },
  { name: '/.search with {}', method: 'POST', path: () => '/.search', options: () => ({ body: {} }), scimType: 'invalidSyntax', detail: /SearchRequest/ },
  { name: '/.search with an empty body', method: 'POST', path: () => '/.search', options: () => ({ rawBody: '' , headers: { 'content-type': 'application/scim+json' } }), scimType: 'invalidSyntax', detail: /SearchRequest/ },
  { name: '/Users/.search with null', method: 'POST', path: () => '/Users/.search', options: () => ({ rawBody: 'null' }), scimType: 'invalidSyntax', detail: /SearchRequest/ },
  { name: '/Users/.search with {}', method: 'POST', path: () => '/Users/.search', options: () => ({ body: {} }), scimType: 'invalidSyntax', detail: /SearchRequest/ },
  { name: '/Users/.search with no body at all', method: 'POST', path: () => '/Users/.search', scimType: 'invalidSyntax', detail: /SearchRequest/ },
  { name: '/Groups/.search with an array', method: 'POST', path: () => '/Groups/.search', options: () => ({ body: [SEARCH] }), scimType: 'invalidSyntax', detail: /SearchRequest/ },
];

describe('refused, changing nothing', () => {
  for (const c of refusals) {
    test(c.name, () => assertRefused(server, c));
  }
});

describe('still accepted', () => {
  test('manager.value naming an existing user; the user PATCHes other attributes after the manager is gone', async () => {
    const boss = (await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'boss.rules@example.com' } })).body.id;
    const res = await server.request('POST', '/Users', user({ userName: 'report.rules@example.com', [ENTERPRISE]: { manager: { value: boss } } }));
    assert.equal(res.status, 201, res.text);
    assert.equal((await server.request('DELETE', `/Users/${boss}`)).status, 204);
    const later = await server.request('PATCH', `/Users/${res.body.id}`, patch({ op: 'replace', path: 'title', value: 'Analyst' }));
    assert.equal(later.status, 200, later.text);
  });

  test('a PATCH path with spaces inside the filter, as the grammar allows', async () => {
    await server.request('PATCH', `/Users/${userId}`, patch({ op: 'add', path: 'emails', value: [{ value: 'w@example.com', type: 'work' }] }));
    const res = await server.request('PATCH', `/Users/${userId}`, patch({ op: 'replace', path: 'emails[type eq "work"].value', value: 'w2@example.com' }));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.emails[0].value, 'w2@example.com');
  });

  test('a SearchRequest with only its schemas lists everything', async () => {
    const res = await server.request('POST', '/Users/.search', { body: { schemas: [SEARCH] } });
    assert.equal(res.status, 200, res.text);
    assert.ok(res.body.totalResults >= 4);
  });
});

describe('cursors', () => {
  test('only the exact cursor Roster issued is accepted: extra "."-separated segments are invalidCursor', async () => {
    const first = await server.request('GET', '/Users?cursor=&count=2');
    assert.equal(first.status, 200);
    const cursor = first.body.nextCursor as string;
    assert.equal((await server.request('GET', `/Users?cursor=${encodeURIComponent(cursor)}&count=2`)).status, 200);
    for (const forged of [`${cursor}.extra`, `${cursor}.`, `${cursor}..x`, `x.${cursor}`, `${cursor}=`]) {
      const res = await server.request('GET', `/Users?cursor=${encodeURIComponent(forged)}&count=2`);
      assert.equal(res.status, 400, `${forged}: ${res.text}`);
      assert.equal(res.body.scimType, 'invalidCursor');
    }
  });

  test('an /ops/journal cursor is accepted only as issued', async () => {
    const first = await server.request('GET', `${server.url}/ops/journal?count=1`);
    assert.equal(first.status, 200);
    const cursor = first.body.nextCursor as string;
    for (const forged of [`${cursor}=`, `${cursor}.x`, ` ${cursor}`, `${cursor}AA`]) {
      const res = await server.request('GET', `${server.url}/ops/journal?count=1&cursor=${encodeURIComponent(forged)}`);
      assert.equal(res.status, 400, `${forged}: ${res.text}`);
      assert.equal(res.body.scimType, 'invalidCursor');
    }
  });
});

describe('Roster-issued JWTs', () => {
  test('an iat an hour in the future is refused; within the clock-skew allowance it is accepted', async () => {
    const { record, secret } = await createClient(server.db.knex, 'skew', ['scim:read']);
    const issued = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: record.clientId, client_secret: secret }).toString(),
    });
    const token = ((await issued.json()) as { access_token: string }).access_token;
    assert.equal((await server.request('GET', '/Users?count=1', { token })).status, 200);
    // The same claims, signed with Roster's own current key, but issued in the future.
    const claims = decodeJwt(token);
    const header = decodeProtectedHeader(token);
    const { key } = await new SigningKeyStore(server.db.knex, { keyRotationDays: 30, tokenTtlSeconds: 900 }).signingKey();
    const now = Math.floor(Date.now() / 1000);
    const resign = (iat: number) =>
      new SignJWT({ ...claims, iat, exp: iat + 900 }).setProtectedHeader({ alg: header.alg!, kid: header.kid!, typ: 'at+jwt' }).sign(key);
    const future = await server.request('GET', '/Users?count=1', { token: await resign(now + 3600) });
    assert.equal(future.status, 401, future.text);
    assert.match(future.body.detail, /issued in the future|not valid yet/);
    const slightlyAhead = await server.request('GET', '/Users?count=1', { token: await resign(now + 3) });
    assert.equal(slightlyAhead.status, 200, slightlyAhead.text);
  });
});
