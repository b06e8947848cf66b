/** The client-credentials grant end to end: CLI → token endpoint → SCIM, keys, rotation, revocation. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { createClient, revokeClient } from '../src/oauth/client-store.js';
import { SigningKeyStore } from '../src/oauth/signing-keys.js';
import { authJournal, startSiblingApp } from './support/auth-fixtures.js';
import { startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';

const run = promisify(execFile);
let server: TestServer;
before(async () => {
  // Every refusal journaled at once, no per-address limit: this file checks each refusal's entry.
  // The default (counted per minute) is tested in test/auth-flood.test.ts.
  server = await startTestServer({ authFailures: { perMinute: 0, burst: 1, journalWindowSeconds: 0 } });
});
after(async () => {
  await server.close();
});

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function tokenRequest(body: Record<string, string> | string, headers: Record<string, string> = {}, base = server.url) {
  const res = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: typeof body === 'string' ? body : new URLSearchParams(body).toString(),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, string>, };
}

test('client create (CLI) → token (client_secret_basic) → SCIM calls journaled under the client name', async () => {
  const env = { ...process.env, DATABASE_URL: server.db.url, LOG_LEVEL: 'error' };
  const created = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', 'client', 'create', '--name', 'okta', '--scope', 'scim:write'], { env });
  const clientId = /Client ID:\s+(rcl_\S+)/.exec(created.stdout)?.[1];
  const secret = /Client secret:\s+(rcs_\S+)/.exec(created.stdout)?.[1];
  assert.ok(clientId && secret, created.stdout);
  assert.match(created.stdout, /Token endpoint: http:\/\/.+\/oauth\/token/);
  const { rows } = await server.db.knex.raw(`SELECT secret_hash FROM oauth_clients WHERE client_id = ?`, [clientId]);
  assert.match(rows[0].secret_hash, /^[0-9a-f]{64}$/, 'stored hashed');
  assert.ok(!rows[0].secret_hash.includes(secret));
  const listed = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', 'client', 'list'], { env });
  assert.match(listed.stdout, /okta\s+rcl_/);
  assert.ok(!listed.stdout.includes(secret), 'list never shows the secret');

  const issued = await tokenRequest({ grant_type: 'client_credentials' }, { authorization: basic(clientId, secret) });
  assert.equal(issued.status, 200, JSON.stringify(issued.body));
  assert.equal(issued.body.token_type, 'Bearer');
  assert.equal(Number(issued.body.expires_in), 900);
  assert.equal(issued.body.scope, 'scim:write');
  assert.equal(issued.headers.get('cache-control'), 'no-store');
  const token = issued.body.access_token!;
  const user = await server.request('POST', '/Users', { token, body: { schemas: [USER_SCHEMA], userName: 'oauth-user@example.com' } });
  assert.equal(user.status, 201, user.text);
  const journal = await server.db.knex.raw(`SELECT actor FROM journal WHERE resource_id = ?`, [user.body.id]);
  assert.equal(journal.rows[0].actor, 'okta');
  const issuedEntry = (await authJournal(server.db.knex)).find((e) => e.action === 'auth.token_issued');
  assert.equal(issuedEntry?.actor, 'okta');
  assert.ok(!JSON.stringify(await authJournal(server.db.knex)).includes(secret), 'the secret is never journaled');
  assert.ok(!JSON.stringify(await authJournal(server.db.knex)).includes(token), 'nor the access token');

  const revoked = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', 'client', 'revoke', 'okta'], { env });
  assert.match(revoked.stdout, /Revoked "okta"/);
  assert.equal((await tokenRequest({ grant_type: 'client_credentials' }, { authorization: basic(clientId, secret) })).status, 401);
  const fresh = await startSiblingApp(server.db.knex, server.token);
  try {
    const res = await server.request('GET', `${fresh.url}/scim/v2/Users`, { token });
    assert.equal(res.status, 401, 'a revoked client\'s tokens stop working');
    assert.match(res.body.detail, /revoked/);
  } finally {
    await fresh.close();
  }
});

test('client_secret_post works; a narrower scope can be requested and is enforced', async () => {
  const { record, secret } = await createClient(server.db.knex, 'entra', ['scim:write']);
  const issued = await tokenRequest({ grant_type: 'client_credentials', client_id: record.clientId, client_secret: secret, scope: 'scim:read' });
  assert.equal(issued.status, 200);
  assert.equal(issued.body.scope, 'scim:read');
  const token = issued.body.access_token!;
  assert.equal((await server.request('GET', '/Users', { token })).status, 200);
  assert.equal((await server.request('POST', '/Users', { token, body: { schemas: [USER_SCHEMA], userName: 'narrow@example.com' } })).status, 403);
});

test('token endpoint refusals: RFC 6749 error codes, 401 + Basic challenge for bad clients, all journaled, nothing issued', async () => {
  const { record, secret } = await createClient(server.db.knex, 'refusals', ['scim:read']);
  const wrongSecret = await tokenRequest({ grant_type: 'client_credentials' }, { authorization: basic(record.clientId, 'rcs_wrong') });
  assert.equal(wrongSecret.status, 401);
  assert.equal(wrongSecret.body.error, 'invalid_client');
  assert.match(wrongSecret.headers.get('www-authenticate') ?? '', /^Basic realm="roster"/);
  const unknown = await tokenRequest({ grant_type: 'client_credentials', client_id: 'rcl_nobody', client_secret: 'x' });
  assert.equal(unknown.body.error, 'invalid_client');
  const none = await tokenRequest({ grant_type: 'client_credentials' });
  assert.equal(none.status, 401);
  const both = await tokenRequest({ grant_type: 'client_credentials', client_id: record.clientId, client_secret: secret }, { authorization: basic(record.clientId, secret) });
  assert.deepEqual([both.status, both.body.error], [400, 'invalid_request']);
  const grant = await tokenRequest({ grant_type: 'password', client_id: record.clientId, client_secret: secret });
  assert.deepEqual([grant.status, grant.body.error], [400, 'unsupported_grant_type']);
  const noGrant = await tokenRequest({ client_id: record.clientId, client_secret: secret });
  assert.deepEqual([noGrant.status, noGrant.body.error], [400, 'invalid_request']);
  const scope = await tokenRequest({ grant_type: 'client_credentials', client_id: record.clientId, client_secret: secret, scope: 'scim:write' });
  assert.deepEqual([scope.status, scope.body.error], [400, 'invalid_scope']);
  const repeated = await tokenRequest(`grant_type=client_credentials&grant_type=client_credentials&client_id=${record.clientId}&client_secret=${secret}`);
  assert.deepEqual([repeated.status, repeated.body.error], [400, 'invalid_request']);
  const json = await fetch(`${server.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ grant_type: 'client_credentials' }) });
  assert.equal(json.status, 400);
  assert.equal(((await json.json()) as { error: string }).error, 'invalid_request');
  const huge = await tokenRequest({ grant_type: 'client_credentials', padding: 'x'.repeat(20_000) });
  assert.deepEqual([huge.status, huge.body.error], [400, 'invalid_request']);
  const get = await fetch(`${server.url}/oauth/token`);
  assert.equal(get.status, 405);
  assert.equal(get.headers.get('allow'), 'POST');

  const entries = (await authJournal(server.db.knex)).filter((e) => e.reason.path === '/oauth/token' && e.action === 'auth.failed');
  assert.ok(entries.length >= 10, `each refusal journaled (${entries.length})`);
  assert.ok(entries.some((e) => e.reason.code === 'invalid_client' && (e.reason.claimed as { client_id?: string })?.client_id === record.clientId));
  assert.ok(!JSON.stringify(entries).includes(secret) && !JSON.stringify(entries).includes('rcs_wrong'), 'no secret in the journal');
  assert.equal((await server.db.knex.raw(`SELECT count(*)::int AS n FROM journal WHERE action = 'auth.token_issued' AND actor = 'refusals'`)).rows[0].n, 0);
});

test('tokens are ES256 JWTs verifiable with the published /.well-known/jwks.json (public keys only)', async () => {
  const { record, secret } = await createClient(server.db.knex, 'verifier', ['scim:read']);
  const token = (await tokenRequest({ grant_type: 'client_credentials', client_id: record.clientId, client_secret: secret })).body.access_token!;
  const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as { keys: Array<Record<string, unknown>> };
  assert.ok(jwks.keys.length >= 1);
  for (const key of jwks.keys) assert.equal(key.d, undefined, 'no private part is published');
  const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks as never), { audience: 'urn:roster:scim', issuer: 'urn:roster' });
  assert.equal(protectedHeader.alg, 'ES256');
  assert.equal(protectedHeader.typ, 'at+jwt');
  assert.equal(payload.sub, record.clientId);
  assert.ok(payload.exp! - payload.iat! === 900);
  const metadata = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
  assert.equal(metadata.token_endpoint, `${server.url}/oauth/token`);
  assert.deepEqual(metadata.token_endpoint_auth_methods_supported, ['client_secret_basic', 'client_secret_post']);
});

test('signing keys rotate: new tokens use the new key, old tokens stay valid, every process verifies both', async () => {
  const { record, secret } = await createClient(server.db.knex, 'rotation', ['scim:read']);
  const issue = async (base: string) => (await tokenRequest({ grant_type: 'client_credentials', client_id: record.clientId, client_secret: secret }, {}, base)).body.access_token!;
  const before = await issue(server.url);
  const oldKid = decodeProtectedHeader(before).kid!;
  const newKid = await new SigningKeyStore(server.db.knex, { keyRotationDays: 30, tokenTtlSeconds: 900 }).rotate();
  const other = await startSiblingApp(server.db.knex, server.token);
  try {
    const after = await issue(other.url);
    assert.equal(decodeProtectedHeader(after).kid, newKid, 'a fresh process signs with the newest key');
    assert.notEqual(newKid, oldKid);
    assert.equal((await server.request('GET', '/Users', { token: after })).status, 200, 'the first process learns the new kid from the database');
    assert.equal((await server.request('GET', `${other.url}/scim/v2/Users`, { token: before })).status, 200, 'old tokens stay valid');
    const kids = ((await (await fetch(`${other.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);
    assert.ok(kids.includes(oldKid) && kids.includes(newKid));
  } finally {
    await other.close();
  }
  // A key older than the rotation period is replaced by the next process that signs.
  await server.db.knex.raw(`UPDATE oauth_signing_keys SET created_at = created_at - interval '31 days'`);
  const third = await startSiblingApp(server.db.knex, server.token);
  try {
    const rotated = await issue(third.url);
    assert.ok(![oldKid, newKid].includes(decodeProtectedHeader(rotated).kid!), 'a due rotation makes a new key');
  } finally {
    await third.close();
  }
  // Keys whose tokens have all expired are deleted when the next key is made.
  await server.db.knex.raw(`UPDATE oauth_signing_keys SET created_at = created_at - interval '40 days' WHERE kid = ?`, [oldKid]);
  await new SigningKeyStore(server.db.knex, { keyRotationDays: 30, tokenTtlSeconds: 900 }).rotate();
  const { rows } = await server.db.knex.raw(`SELECT count(*)::int AS n FROM oauth_signing_keys WHERE kid = ?`, [oldKid]);
  assert.equal(rows[0].n, 0);
});

test('Roster tokens that are expired, forged or for another audience → 401', async () => {
  const { record } = await createClient(server.db.knex, 'forgery', ['scim:read']);
  const keys = new SigningKeyStore(server.db.knex, { keyRotationDays: 30, tokenTtlSeconds: 900 });
  const { kid, key } = await keys.signingKey();
  const base = () => new SignJWT({ scope: 'scim:read' }).setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' }).setIssuer('urn:roster').setSubject(record.clientId);
  const expired = await base().setAudience('urn:roster:scim').setIssuedAt(Math.floor(Date.now() / 1000) - 2000).setExpirationTime(Math.floor(Date.now() / 1000) - 1000).sign(key);
  const res = await server.request('GET', '/Users', { token: expired });
  assert.equal(res.status, 401);
  assert.match(res.body.detail, /expired/);
  const otherAudience = await base().setAudience('urn:elsewhere').setExpirationTime('5m').sign(key);
  assert.equal((await server.request('GET', '/Users', { token: otherAudience })).status, 401);
  // Roster's tokens always carry iat, and it is checked (not in the future): a token without one is refused.
  const noIat = await base().setAudience('urn:roster:scim').setExpirationTime('5m').sign(key);
  assert.equal((await server.request('GET', '/Users', { token: noIat })).status, 401);
  const good = await base().setAudience('urn:roster:scim').setIssuedAt().setExpirationTime('5m').sign(key);
  assert.equal((await server.request('GET', '/Users', { token: good })).status, 200, 'the control case passes');
  await revokeClient(server.db.knex, 'forgery');
});
