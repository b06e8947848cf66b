import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createToken, listTokens, revokeToken } from '../src/auth/token-store.js';
import { startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

test('no token, a malformed header or a wrong token: 401 with WWW-Authenticate: Bearer', async () => {
  const none = await server.request('GET', '/Users', { token: null });
  assert.equal(none.status, 401);
  assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer realm="roster"/);
  assert.equal(none.body.status, '401');
  const basic = await server.request('GET', '/Users', { token: null, headers: { authorization: 'Basic dXNlcjpwYXNz' } });
  assert.equal(basic.status, 401);
  assert.match(basic.headers.get('www-authenticate') ?? '', /invalid_request/);
  const wrong = await server.request('GET', '/Users', { token: 'rst_not-a-real-token' });
  assert.equal(wrong.status, 401);
  assert.match(wrong.headers.get('www-authenticate') ?? '', /invalid_token/);
});

test('tokens are stored only as hashes and carry scopes: read-only gets 403 on writes', async () => {
  const { token, record } = await createToken(server.db.knex, 'reader', ['scim:read']);
  const { rows } = await server.db.knex.raw(`SELECT token_hash FROM api_tokens WHERE id = ?`, [record.id]);
  assert.notEqual(rows[0].token_hash, token);
  assert.match(rows[0].token_hash, /^[0-9a-f]{64}$/);
  assert.equal((await server.request('GET', '/Users', { token })).status, 200);
  const denied = await server.request('POST', '/Users', { token, body: { schemas: [USER_SCHEMA], userName: 'denied@example.com' } });
  assert.equal(denied.status, 403);
  assert.match(denied.headers.get('www-authenticate') ?? '', /insufficient_scope/);
  assert.match(denied.body.detail, /scim:write/);
});

test('scim:write implies scim:read; ops:read alone cannot use SCIM', async () => {
  const writer = (await createToken(server.db.knex, 'writer', ['scim:write'])).token;
  assert.equal((await server.request('GET', '/Users', { token: writer })).status, 200);
  const created = await server.request('POST', '/Users', { token: writer, body: { schemas: [USER_SCHEMA], userName: 'writer@example.com' } });
  assert.equal(created.status, 201);
  const { rows } = await server.db.knex.raw(`SELECT actor FROM journal WHERE resource_id = ?`, [created.body.id]);
  assert.equal(rows[0].actor, 'writer', 'the journal names the token');
  const ops = (await createToken(server.db.knex, 'ops', ['ops:read'])).token;
  assert.equal((await server.request('GET', '/Users', { token: ops })).status, 403);
});

test('a revoked token stops working; names of active tokens are unique', async () => {
  const { token } = await createToken(server.db.knex, 'short-lived', ['scim:read']);
  await revokeToken(server.db.knex, 'short-lived');
  // A fresh server process (no cache) must refuse it at once.
  const other = await startTestServer();
  try {
    assert.equal((await other.request('GET', '/Users', { token })).status, 401);
  } finally {
    await other.close();
  }
  assert.ok((await listTokens(server.db.knex)).every((t) => t.name !== 'short-lived'));
  await createToken(server.db.knex, 'short-lived', ['scim:read']);
  await assert.rejects(createToken(server.db.knex, 'short-lived', ['scim:read']), /already exists/);
});

test('health endpoints need no token; responses carry security headers and no X-Powered-By', async () => {
  const health = await server.request('GET', '/healthz', { token: null });
  assert.equal(health.status, 200);
  const ready = await server.request('GET', '/readyz', { token: null });
  assert.equal(ready.status, 200);
  assert.equal(ready.body.status, 'ready');
  assert.equal(health.headers.get('x-powered-by'), null);
  assert.equal(health.headers.get('x-content-type-options'), 'nosniff');
});

test('X-Request-Id is echoed, or generated when absent, and lands in the journal', async () => {
  const res = await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'reqid@example.com' }, headers: { 'x-request-id': 'entra-req-42' } });
  assert.equal(res.headers.get('x-request-id'), 'entra-req-42');
  const { rows } = await server.db.knex.raw(`SELECT request_id, source FROM journal WHERE resource_id = ?`, [res.body.id]);
  assert.deepEqual(rows[0], { request_id: 'entra-req-42', source: 'scim' });
  const generated = await server.request('GET', '/Users');
  assert.match(generated.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
});
