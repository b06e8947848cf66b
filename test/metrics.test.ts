/** GET /metrics: Prometheus format, protected by ops:read, labelled by route template. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createToken } from '../src/auth/token-store.js';
import { startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';

let server: TestServer;
let opsToken: string;
before(async () => {
  server = await startTestServer();
  opsToken = (await createToken(server.db.knex, 'prometheus', ['ops:read'])).token;
});
after(async () => {
  await server.close();
});

const scrape = async () => {
  const res = await server.request('GET', `${server.url}/metrics`, { token: opsToken });
  assert.equal(res.status, 200);
  return res.text;
};

/** The value of one sample, or 0 when the series does not exist yet. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(name.length + 1, line.lastIndexOf('}'));
    if (wanted.every((w) => labelText.split(',').includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

test('/metrics needs a credential with ops:read', async () => {
  const anonymous = await server.request('GET', `${server.url}/metrics`, { token: null });
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer/);
  const writer = (await createToken(server.db.knex, 'writer', ['scim:write'])).token;
  const forbidden = await server.request('GET', `${server.url}/metrics`, { token: writer });
  assert.equal(forbidden.status, 403);
  const ok = await server.request('GET', `${server.url}/metrics`, { token: opsToken });
  assert.equal(ok.status, 200);
  assert.match(ok.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  assert.match(ok.text, /# TYPE roster_http_requests_total counter/);
  assert.match(ok.text, /# TYPE roster_http_request_duration_seconds histogram/);
  assert.match(ok.text, /process_cpu_user_seconds_total/);
});

test('requests are counted by route template and status, never by raw path', async () => {
  const created = await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'metrics@example.com' } });
  const before = await scrape();
  const labels = { method: 'GET', route: '/scim/v2/Users/:id', status: '200' };
  const start = sample(before, 'roster_http_requests_total', labels);
  for (let i = 0; i < 3; i++) assert.equal((await server.request('GET', `/Users/${created.body.id}`)).status, 200);
  await server.request('GET', '/Users/00000000-0000-4000-8000-000000000000');
  const after = await scrape();
  assert.equal(sample(after, 'roster_http_requests_total', labels), start + 3);
  assert.equal(sample(after, 'roster_http_requests_total', { route: '/scim/v2/Users/:id', status: '404' }), 1, 'an error leaving the router keeps its template');
  assert.ok(sample(after, 'roster_http_request_duration_seconds_count', labels) >= 3);
  assert.ok(!after.includes(created.body.id), 'no resource id in any label');
  await server.request('GET', '/no/such/thing');
  assert.ok(sample(await scrape(), 'roster_http_requests_total', { route: '/scim/v2/*', status: '404' }) >= 1);
});

test('journal appends, errors by scimType, auth failures and pool use are exported', async () => {
  const before = await scrape();
  const appends = sample(before, 'roster_journal_appends_total', { source: 'scim' });
  await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'counted@example.com' } });
  await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'counted@example.com' } });
  await server.request('GET', '/Users?filter=userName%20zz%20%22x%22');
  await server.request('GET', '/Users', { token: 'rst_wrong' });
  const after = await scrape();
  assert.equal(sample(after, 'roster_journal_appends_total', { source: 'scim' }), appends + 1, 'one committed create; the 409 appended nothing');
  assert.ok(sample(after, 'roster_journal_appends_total', { source: 'auth' }) >= 1, 'the refused token was journaled');
  assert.equal(sample(after, 'roster_scim_errors_total', { status: '409', scimType: 'uniqueness' }) - sample(before, 'roster_scim_errors_total', { status: '409', scimType: 'uniqueness' }), 1);
  assert.equal(sample(after, 'roster_scim_errors_total', { status: '400', scimType: 'invalidFilter' }) - sample(before, 'roster_scim_errors_total', { status: '400', scimType: 'invalidFilter' }), 1);
  assert.ok(sample(after, 'roster_auth_failures_total', { reason: 'unknown_token' }) >= 1);
  assert.equal(sample(after, 'roster_db_pool_connections', { state: 'max' }), 10, 'the test database pool size (test/support/database.ts)');
  assert.ok(sample(after, 'roster_db_pool_connections', { state: 'used' }) >= 0);
});
