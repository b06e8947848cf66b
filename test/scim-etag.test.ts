import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { GROUP_SCHEMA, PATCH_OP, snapshotCounts, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

const patchTitle = (id: string, title: string, headers: Record<string, string> = {}) =>
  server.request('PATCH', `/Users/${id}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: title }] }, headers });

test('meta.version and the ETag header agree, and change with every write', async () => {
  const created = await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'etag@example.com' } });
  assert.equal(created.headers.get('etag'), 'W/"1"');
  assert.equal(created.body.meta.version, 'W/"1"');
  const read = await server.request('GET', `/Users/${created.body.id}`);
  assert.equal(read.headers.get('etag'), 'W/"1"');
  const patched = await patchTitle(created.body.id, 'One');
  assert.equal(patched.headers.get('etag'), 'W/"2"');
  assert.equal(patched.body.meta.version, 'W/"2"');
});

test('If-Match with the current version succeeds; a stale one is 412 and changes nothing', async () => {
  const { id } = (await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'ifmatch@example.com' } })).body;
  assert.equal((await patchTitle(id, 'A', { 'if-match': 'W/"1"' })).status, 200);
  const counts = await snapshotCounts(server.db);
  const stale = await patchTitle(id, 'B', { 'if-match': 'W/"1"' });
  assert.equal(stale.status, 412);
  assert.equal(stale.body.status, '412');
  assert.match(stale.body.detail, /W\/"2"/);
  const put = await server.request('PUT', `/Users/${id}`, { body: { schemas: [USER_SCHEMA], userName: 'ifmatch@example.com' }, headers: { 'if-match': '"1"' } });
  assert.equal(put.status, 412);
  const del = await server.request('DELETE', `/Users/${id}`, { headers: { 'if-match': 'W/"7"' } });
  assert.equal(del.status, 412);
  assert.deepEqual(await snapshotCounts(server.db), counts);
  assert.equal((await patchTitle(id, 'C', { 'if-match': '*' })).status, 200);
});

test('If-None-Match with the current version is 304 without a body; with an old one, 200', async () => {
  const { id } = (await server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'ETag group' } })).body;
  const notModified = await server.request('GET', `/Groups/${id}`, { headers: { 'if-none-match': 'W/"1"' } });
  assert.equal(notModified.status, 304);
  assert.equal(notModified.text, '');
  assert.equal(notModified.headers.get('etag'), 'W/"1"');
  await server.request('PATCH', `/Groups/${id}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'displayName', value: 'ETag group 2' }] } });
  const modified = await server.request('GET', `/Groups/${id}`, { headers: { 'if-none-match': 'W/"1"' } });
  assert.equal(modified.status, 200);
  assert.equal(modified.headers.get('etag'), 'W/"2"');
});

test('a membership change makes a new group version; ServiceProviderConfig says etag is supported', async () => {
  const user = (await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'member-etag@example.com' } })).body.id;
  const { id } = (await server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'Member ETag' } })).body;
  const res = await server.request('PATCH', `/Groups/${id}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: user }] }] }, headers: { 'if-match': 'W/"1"' } });
  assert.equal(res.status, 204);
  assert.equal(res.headers.get('etag'), 'W/"2"');
  const spc = await server.request('GET', '/ServiceProviderConfig');
  assert.equal(spc.body.etag.supported, true);
});
