/** Bearer JWTs from an external authorization server, with its key set on a real loopback server. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { authJournal, makeKey, signJwt, startJwksServer, type JwksServer, type TestKey } from './support/auth-fixtures.js';
import { startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';

const ISSUER = 'https://idp.example.test/oauth2/default';
const AUDIENCE = 'api://roster';
let jwks: JwksServer;
let server: TestServer;
let rsa: TestKey;
let ec: TestKey;
let es384: TestKey;

const now = () => Math.floor(Date.now() / 1000);
const claims = (extra: Record<string, unknown> = {}) => ({ iss: ISSUER, aud: AUDIENCE, sub: 'okta-app', client_id: 'okta-app', iat: now(), exp: now() + 300, scope: 'scim:write', ...extra });

before(async () => {
  rsa = await makeKey('RS256', 'rsa-1');
  ec = await makeKey('ES256', 'ec-1');
  es384 = await makeKey('ES384', 'ec384-1');
  jwks = await startJwksServer([rsa, ec, es384]);
  // Every refusal journaled at once and no per-address limit (ROSTER_AUTH_FAILURE_JOURNAL_WINDOW_SECONDS=0,
  // ROSTER_AUTH_FAILURE_LIMIT_PER_MINUTE=0), so each refusal's entry can be checked by its request id;
  // the default (counted per minute) is tested in test/auth-flood.test.ts.
  server = await startTestServer({
    authFailures: { perMinute: 0, burst: 1, journalWindowSeconds: 0 },
    jwt: { issuer: ISSUER, audience: AUDIENCE, jwksUrl: jwks.url, algorithms: ['RS256', 'ES256'], clockSkewSeconds: 30, jwksRefreshCooldownSeconds: 0 },
  });
});
after(async () => {
  await server.close();
  await jwks.close();
});

async function refused(token: string, reason: string) {
  const res = await server.request('GET', '/Users', { token, headers: { 'x-request-id': `refused-${reason}-${Math.random().toString(36).slice(2)}` } });
  assert.equal(res.status, 401, `${reason}: ${res.text}`);
  assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm="roster", error="invalid_token"/);
  assert.equal(res.body.schemas[0], 'urn:ietf:params:scim:api:messages:2.0:Error');
  const entry = (await authJournal(server.db.knex)).find((e) => e.request_id === res.headers.get('x-request-id'));
  assert.ok(entry, `the refusal (${reason}) is journaled`);
  assert.equal(entry.action, 'auth.failed');
  assert.equal(entry.actor, 'anonymous');
  assert.equal(entry.reason.code, reason);
  const signature = token.split('.')[2] ?? '';
  if (signature) assert.ok(!JSON.stringify(entry).includes(signature), 'the journal never holds the token');
  return res;
}

test('a valid RS256 or ES256 token is accepted; its scope and client name apply', async () => {
  const token = await signJwt(rsa, claims());
  const created = await server.request('POST', '/Users', { token, body: { schemas: [USER_SCHEMA], userName: 'jwt-user@example.com' } });
  assert.equal(created.status, 201, created.text);
  const { rows } = await server.db.knex.raw(`SELECT actor FROM journal WHERE resource_id = ?`, [created.body.id]);
  assert.equal(rows[0].actor, 'okta-app', 'the journal names the calling application');
  assert.equal((await server.request('GET', '/Users', { token: await signJwt(ec, claims()) })).status, 200);
});

test('scopes come from `scope` or `scp` (string or array); unknown scopes are ignored', async () => {
  const readOnly = await signJwt(rsa, claims({ scope: undefined, scp: ['openid', 'scim:read'] }));
  assert.equal((await server.request('GET', '/Users', { token: readOnly })).status, 200);
  const denied = await server.request('POST', '/Users', { token: readOnly, body: { schemas: [USER_SCHEMA], userName: 'nope@example.com' } });
  assert.equal(denied.status, 403);
  assert.match(denied.headers.get('www-authenticate') ?? '', /error="insufficient_scope", scope="scim:write"/);
  const scpString = await signJwt(rsa, claims({ scope: undefined, scp: 'scim:write profile' }));
  assert.equal((await server.request('POST', '/Users', { token: scpString, body: { schemas: [USER_SCHEMA], userName: 'scp@example.com' } })).status, 201);
  const none = await signJwt(rsa, claims({ scope: 'openid profile' }));
  assert.equal((await server.request('GET', '/Users', { token: none })).status, 403);
  const forbidden = (await authJournal(server.db.knex)).filter((e) => e.action === 'auth.forbidden');
  assert.ok(forbidden.some((e) => e.actor === 'okta-app' && e.reason.code === 'insufficient_scope'), '403s are journaled with the principal');
});

test('expired → 401, but within the clock skew it is still accepted', async () => {
  await refused(await signJwt(rsa, claims({ iat: now() - 600, exp: now() - 120 })), 'token_expired');
  assert.equal((await server.request('GET', '/Users', { token: await signJwt(rsa, claims({ exp: now() - 10 })) })).status, 200);
  await refused(await signJwt(rsa, claims({ exp: undefined })), 'invalid_token');
});

test('not yet valid → 401', async () => {
  await refused(await signJwt(rsa, claims({ nbf: now() + 300 })), 'token_not_yet_valid');
  assert.equal((await server.request('GET', '/Users', { token: await signJwt(rsa, claims({ nbf: now() + 10 })) })).status, 200, 'within the skew');
});

test('issued in the future (iat beyond the skew) → 401, within the skew accepted', async () => {
  await refused(await signJwt(rsa, claims({ iat: now() + 300, exp: now() + 900 })), 'token_not_yet_valid');
  assert.equal((await server.request('GET', '/Users', { token: await signJwt(rsa, claims({ iat: now() + 10 })) })).status, 200, 'within the skew');
});

test('wrong audience or wrong issuer → 401', async () => {
  await refused(await signJwt(rsa, claims({ aud: 'api://someone-else' })), 'wrong_audience');
  await refused(await signJwt(rsa, claims({ iss: 'https://evil.example.test/' })), 'wrong_issuer');
});

test('an algorithm outside the allow-list → 401, even with a published key; alg none and HS256 too', async () => {
  await refused(await signJwt(es384, claims()), 'algorithm_not_allowed');
  const hmac = await signJwt({ kid: 'hs', alg: 'HS256', privateKey: new TextEncoder().encode('x'.repeat(32)) as never, publicJwk: {} }, claims());
  await refused(hmac, 'algorithm_not_allowed');
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  await refused(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`, 'algorithm_not_allowed');
});

test('an unknown key → 401; a known kid with other key material → 401', async () => {
  const stranger = await makeKey('RS256', 'not-published');
  await refused(await signJwt(stranger, claims()), 'unknown_key');
  const impostor = await makeKey('RS256', 'rsa-1');
  await refused(await signJwt(impostor, claims()), 'bad_signature');
  await refused('eyJhbGciOiJSUzI1NiJ9.bm90LWpzb24.c2ln', 'invalid_token');
});

test('the key set is cached, and fetched again when a token names a new kid (rotation)', async () => {
  const before = jwks.fetches;
  for (let i = 0; i < 5; i++) assert.equal((await server.request('GET', '/Users', { token: await signJwt(rsa, claims()) })).status, 200);
  assert.equal(jwks.fetches, before, 'known keys are served from the cache');
  const rotated = await makeKey('RS256', 'rsa-2');
  jwks.keys = [rotated.publicJwk, ec.publicJwk];
  assert.equal((await server.request('GET', '/Users', { token: await signJwt(rotated, claims()) })).status, 200);
  assert.equal(jwks.fetches, before + 1, 'one fetch picked up the new key');
});

test('an unreachable key set is the server\'s problem: 503 with Retry-After, not 401', async () => {
  const offline = await startTestServer({
    jwt: { issuer: ISSUER, audience: AUDIENCE, jwksUrl: 'http://127.0.0.1:9/jwks', algorithms: ['RS256'], clockSkewSeconds: 30, jwksRefreshCooldownSeconds: 30 },
  });
  try {
    const res = await offline.request('GET', '/Users', { token: await signJwt(rsa, claims()) });
    assert.equal(res.status, 503);
    assert.ok(res.headers.get('retry-after'));
    assert.doesNotMatch(res.text, /\n\s+at /);
    assert.equal((await offline.request('GET', '/Users')).status, 200, 'static tokens keep working');
  } finally {
    await offline.close();
  }
});

test('without an external issuer configured, foreign JWTs are refused and static tokens still work', async () => {
  const plain = await startTestServer();
  try {
    const res = await plain.request('GET', '/Users', { token: await signJwt(rsa, claims()) });
    assert.equal(res.status, 401);
    assert.match(res.body.detail, /own token endpoint/);
    assert.equal((await plain.request('GET', '/Users')).status, 200);
  } finally {
    await plain.close();
  }
});
