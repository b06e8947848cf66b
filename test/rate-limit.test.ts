/** Per-credential rate limiting: 429 + Retry-After + SCIM error, shared by every process on one database. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createToken } from '../src/auth/token-store.js';
import { startSiblingApp, type SiblingApp } from './support/auth-fixtures.js';
import { startTestServer, type TestServer } from './support/server.js';

let server: TestServer;
let sibling: SiblingApp;
// Practically no refill during a test: the bucket holds `burst` requests, then refuses.
const settings = { perSecond: 0.01, burst: 3 };

before(async () => {
  server = await startTestServer({ rateLimit: settings });
  sibling = await startSiblingApp(server.db.knex, server.token, { rateLimit: settings });
});
after(async () => {
  await sibling.close();
  await server.close();
});

const get = (token: string, base = server.url) => server.request('GET', `${base}/scim/v2/Users`, { token });

test('over the burst: 429 with Retry-After, a SCIM error body and RateLimit headers; other tokens unaffected', async () => {
  const { token } = await createToken(server.db.knex, 'burst', ['scim:read']);
  for (let i = 0; i < 3; i++) {
    const ok = await get(token);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('ratelimit-remaining'), String(2 - i));
  }
  const limited = await get(token);
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get('content-type'), 'application/scim+json; charset=utf-8');
  assert.deepEqual(limited.body.schemas, ['urn:ietf:params:scim:api:messages:2.0:Error']);
  assert.equal(limited.body.status, '429');
  assert.match(limited.body.detail, /retry after/);
  const retryAfter = Number(limited.headers.get('retry-after'));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 99 && retryAfter <= 100, `one token takes 100 s at 0.01/s (got ${retryAfter})`);
  const { token: other } = await createToken(server.db.knex, 'other', ['scim:read']);
  assert.equal((await get(other)).status, 200, 'each credential has its own bucket');
});

test('the bucket is shared by every process on the database', async () => {
  const { token } = await createToken(server.db.knex, 'shared', ['scim:read']);
  assert.equal((await get(token, server.url)).status, 200);
  assert.equal((await get(token, sibling.url)).status, 200);
  assert.equal((await get(token, server.url)).status, 200);
  assert.equal((await get(token, sibling.url)).status, 429, 'the second process sees the first one\'s use');
});

test('concurrent requests through two processes never get more than the burst', async () => {
  const { token } = await createToken(server.db.knex, 'concurrent', ['scim:read']);
  const results = await Promise.all(Array.from({ length: 24 }, (_, i) => get(token, i % 2 ? sibling.url : server.url)));
  const statuses = results.map((r) => r.status);
  assert.equal(statuses.filter((s) => s === 200).length, 3, statuses.join(','));
  assert.equal(statuses.filter((s) => s === 429).length, 21);
});

test('the bucket refills with time', async () => {
  const { token, record } = await createToken(server.db.knex, 'refill', ['scim:read']);
  for (let i = 0; i < 3; i++) await get(token);
  assert.equal((await get(token)).status, 429);
  // 150 s at 0.01/s refill 1.5 tokens: move the bucket's clock back instead of waiting.
  await server.db.knex.raw(`UPDATE rate_limit_buckets SET updated_at = updated_at - interval '150 seconds' WHERE key = ?`, [`token:${record.id}`]);
  assert.equal((await get(token)).status, 200);
  assert.equal((await get(token)).status, 429, 'half a token is not a request');
});

test('refused requests do not drain the bucket below zero', async () => {
  const { token, record } = await createToken(server.db.knex, 'patient', ['scim:read']);
  for (let i = 0; i < 10; i++) await get(token);
  const { rows } = await server.db.knex.raw(`SELECT tokens FROM rate_limit_buckets WHERE key = ?`, [`token:${record.id}`]);
  assert.ok(rows[0].tokens >= 0 && rows[0].tokens < 0.1, `tokens stay near zero, not negative (${rows[0].tokens})`);
});

test('rate limiting is off when perSecond is 0', async () => {
  const open = await startTestServer({ rateLimit: { perSecond: 0, burst: 1 } });
  try {
    for (let i = 0; i < 5; i++) assert.equal((await open.request('GET', '/Users')).status, 200);
    assert.equal((await open.request('GET', '/Users')).headers.get('ratelimit-remaining'), null);
  } finally {
    await open.close();
  }
});
