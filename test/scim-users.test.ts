import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ENTERPRISE, HR, PATCH_OP, snapshotCounts, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

const user = (userName: string, extra: Record<string, unknown> = {}) => ({ schemas: [USER_SCHEMA], userName, ...extra });

describe('POST /Users', () => {
  test('creates a user: 201, Location, ETag, meta, extensions', async () => {
    const res = await server.request('POST', '/Users', {
      body: user('ada@example.com', {
        schemas: [USER_SCHEMA, ENTERPRISE, HR],
        name: { givenName: 'Ada', familyName: 'Lovelace' },
        emails: [{ value: 'ada@example.com', type: 'work', primary: true }],
        active: true,
        [ENTERPRISE]: { department: 'Finance', employeeNumber: 'E1' },
        [HR]: { location: 'London, UK', employmentType: 'Employee', startDate: '2024-01-15T00:00:00Z' },
      }),
    });
    assert.equal(res.status, 201);
    assert.match(res.headers.get('content-type') ?? '', /application\/scim\+json/);
    const id = res.body.id as string;
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.equal(res.headers.get('location'), `${server.scimUrl}/Users/${id}`);
    assert.equal(res.headers.get('etag'), res.body.meta.version);
    assert.equal(res.body.meta.resourceType, 'User');
    assert.equal(res.body.meta.location, `${server.scimUrl}/Users/${id}`);
    assert.deepEqual(res.body.schemas, [USER_SCHEMA, ENTERPRISE, HR]);
    assert.equal(res.body[ENTERPRISE].department, 'Finance');
    assert.equal(res.body[HR].location, 'London, UK');
    assert.deepEqual(res.body.groups, []);
  });

  test('stores and returns unicode exactly', async () => {
    const name = { givenName: 'Zoë', familyName: 'Ødegård-李', formatted: 'Zoë Ødegård-李 🚀' };
    const res = await server.request('POST', '/Users', { body: user('zoë.ødegård@example.com', { name }) });
    assert.equal(res.status, 201);
    const read = await server.request('GET', `/Users/${res.body.id}`);
    assert.deepEqual(read.body.name, name);
    assert.equal(read.body.userName, 'zoë.ødegård@example.com');
  });

  test('accepts application/json as well as application/scim+json', async () => {
    const res = await server.request('POST', '/Users', { body: user('json@example.com'), headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 201);
  });

  test('ignores readOnly values sent by the client (id, meta, groups)', async () => {
    const res = await server.request('POST', '/Users', {
      body: user('readonly@example.com', { id: 'client-chosen', meta: { created: '2000-01-01T00:00:00Z' }, groups: [{ value: 'x' }] }),
    });
    assert.equal(res.status, 201);
    assert.notEqual(res.body.id, 'client-chosen');
    assert.notEqual(res.body.meta.created, '2000-01-01T00:00:00.000Z');
    assert.deepEqual(res.body.groups, []);
  });

  test('userName is unique case-insensitively: 409 uniqueness, nothing written', async () => {
    await server.request('POST', '/Users', { body: user('Grace@Example.com') });
    const counts = await snapshotCounts(server.db);
    const res = await server.request('POST', '/Users', { body: user('grace@example.COM') });
    assert.equal(res.status, 409);
    assert.equal(res.body.scimType, 'uniqueness');
    assert.match(res.body.detail, /userName/);
    assert.deepEqual(await snapshotCounts(server.db), counts);
  });

  test('password is accepted, never returned and never journaled in clear', async () => {
    const res = await server.request('POST', '/Users', { body: user('secret@example.com', { password: 'Tr0ub4dor&3-unique' }) });
    assert.equal(res.status, 201);
    assert.equal(res.body.password, undefined);
    const read = await server.request('GET', `/Users/${res.body.id}`);
    assert.equal(read.body.password, undefined);
    const { rows } = await server.db.knex.raw(`SELECT password_hash FROM users WHERE id = ?`, [res.body.id]);
    assert.match(rows[0].password_hash, /^scrypt\$/);
    const journal = await server.db.knex.raw(`SELECT count(*)::int AS n FROM journal WHERE journal::text LIKE '%Tr0ub4dor%'`);
    assert.equal(journal.rows[0].n, 0);
  });
});

describe('GET, PUT, DELETE /Users/{id}', () => {
  test('PUT replaces mutable attributes and drops the ones left out', async () => {
    const created = await server.request('POST', '/Users', { body: user('put@example.com', { title: 'Analyst', nickName: 'P' }) });
    const id = created.body.id;
    const res = await server.request('PUT', `/Users/${id}`, { body: user('put@example.com', { title: 'Manager', id, meta: created.body.meta }) });
    assert.equal(res.status, 200);
    assert.equal(res.body.title, 'Manager');
    assert.equal(res.body.nickName, undefined);
    assert.notEqual(res.body.meta.version, created.body.meta.version);
  });

  test('PUT may set an immutable attribute once but not change it: 400 mutability', async () => {
    const created = await server.request('POST', '/Users', { body: user('immutable@example.com') });
    const id = created.body.id;
    const set = await server.request('PUT', `/Users/${id}`, { body: user('immutable@example.com', { [HR]: { personId: 'P-1' } }) });
    assert.equal(set.status, 200);
    const counts = await snapshotCounts(server.db);
    const change = await server.request('PUT', `/Users/${id}`, { body: user('immutable@example.com', { [HR]: { personId: 'P-2' } }) });
    assert.equal(change.status, 400);
    assert.equal(change.body.scimType, 'mutability');
    assert.match(change.body.detail, /personId/);
    assert.deepEqual(await snapshotCounts(server.db), counts);
  });

  test('PUT with the same content writes nothing and journals nothing', async () => {
    const created = await server.request('POST', '/Users', { body: user('same@example.com', { title: 'X' }) });
    const counts = await snapshotCounts(server.db);
    const res = await server.request('PUT', `/Users/${created.body.id}`, { body: user('same@example.com', { title: 'X' }) });
    assert.equal(res.status, 200);
    assert.equal(res.body.meta.version, created.body.meta.version);
    assert.deepEqual(await snapshotCounts(server.db), counts);
  });

  test('DELETE answers 204, then the user is 404 and gone from its groups', async () => {
    const created = await server.request('POST', '/Users', { body: user('leaver@example.com') });
    const id = created.body.id;
    const group = await server.request('POST', '/Groups', { body: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Leavers test', members: [{ value: id }] } });
    const del = await server.request('DELETE', `/Users/${id}`);
    assert.equal(del.status, 204);
    assert.equal(del.text, '');
    const read = await server.request('GET', `/Users/${id}`);
    assert.equal(read.status, 404);
    assert.equal(read.body.status, '404');
    const again = await server.request('DELETE', `/Users/${id}`);
    assert.equal(again.status, 404);
    const g = await server.request('GET', `/Groups/${group.body.id}`);
    assert.deepEqual(g.body.members, []);
  });

  test('PATCH that changes nothing writes nothing and journals nothing', async () => {
    const created = await server.request('POST', '/Users', { body: user('noop@example.com', { active: true }) });
    const counts = await snapshotCounts(server.db);
    const res = await server.request('PATCH', `/Users/${created.body.id}`, {
      body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: true }] },
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.meta.version, created.body.meta.version);
    assert.deepEqual(await snapshotCounts(server.db), counts);
  });

  test('concurrent PATCHes of one user lose no update (row lock)', async () => {
    const created = await server.request('POST', '/Users', { body: user('concurrent@example.com') });
    const id = created.body.id;
    const values = Array.from({ length: 20 }, (_, i) => `+1 555 01${String(i).padStart(2, '0')}`);
    const results = await Promise.all(
      values.map((value) =>
        server.request('PATCH', `/Users/${id}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'phoneNumbers', value: [{ value, type: 'work' }] }] } }),
      ),
    );
    assert.ok(results.every((r) => r.status === 200));
    const read = await server.request('GET', `/Users/${id}`);
    assert.deepEqual(new Set(read.body.phoneNumbers.map((p: { value: string }) => p.value)), new Set(values));
    assert.equal(read.body.meta.version, 'W/"21"');
  });
});
