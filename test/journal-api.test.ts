/**
 * GET /ops/journal and GET /ops/resources/{type}/{id}/history on a real server and database:
 * every filter, newest-first cursor paging, NDJSON and CSV exports (streamed with backpressure),
 * timelines with changed paths, and client mistakes answered with 400/401/403/404.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createToken } from '../src/auth/token-store.js';
import { captureQueries } from './support/seed.js';
import { GROUP_SCHEMA, PATCH_OP, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';

let server: TestServer;
let entra: string;
let okta: string;
let scimOnly: string;
const ids: Record<string, string> = {};

const ops = (path: string, token?: string | null, headers: Record<string, string> = {}) =>
  server.request('GET', `${server.url}/ops${path}`, { ...(token !== undefined ? { token } : {}), headers });

interface Entry {
  id: number;
  at: string;
  actor: string;
  source: string;
  action: string;
  requestId: string;
  resourceType: string | null;
  resourceId: string | null;
  resourceName: string | null;
  changes: unknown;
  hash: string;
}

/** All entries matching a query, following cursors (small pages, so paging is exercised too). */
async function all(query: string): Promise<Entry[]> {
  const entries: Entry[] = [];
  let cursor: string | null = null;
  do {
    const res = await ops(`/journal?${query}${query ? '&' : ''}count=3${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(res.status, 200, res.text);
    entries.push(...res.body.entries);
    cursor = res.body.nextCursor;
  } while (cursor);
  return entries;
}

const summary = (entries: Entry[]) => entries.map((e) => `${e.actor} ${e.action} ${e.resourceType} ${e.resourceName}`);

before(async () => {
  server = await startTestServer();
  entra = (await createToken(server.db.knex, 'entra', ['scim:write'])).token;
  okta = (await createToken(server.db.knex, 'okta', ['scim:write'])).token;
  scimOnly = entra;
  const as = (token: string, method: string, path: string, body: unknown, requestId?: string) =>
    server.request(method, path, { token, body, ...(requestId ? { headers: { 'x-request-id': requestId } } : {}) });

  ids.bob = (await as(entra, 'POST', '/Users', { schemas: [USER_SCHEMA], userName: 'Bob@Example.com', title: 'Analyst' }, 'req-bob-create')).body.id;
  ids.alice = (await as(entra, 'POST', '/Users', { schemas: [USER_SCHEMA], userName: 'alice@example.com' })).body.id;
  ids.finance = (await as(okta, 'POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Finance Reporting' })).body.id;
  ids.sales = (await as(okta, 'POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Sales', members: [{ value: ids.alice }] })).body.id;
  await as(okta, 'PATCH', `/Groups/${ids.finance}`, { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: ids.bob }, { value: ids.alice }] }] });
  await as(entra, 'PATCH', `/Users/${ids.bob}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: 'Manager' }] });
  await as(okta, 'PATCH', `/Groups/${ids.finance}`, { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: `members[value eq "${ids.bob}"]` }] }, 'req-remove-bob');
  const bulk = await as(entra, 'POST', '/Bulk', {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
    Operations: [{ method: 'POST', bulkId: 'c1', path: '/Users', data: { schemas: [USER_SCHEMA], userName: 'carol@example.com' } }],
  });
  assert.equal(bulk.status, 200, bulk.text);
  ids.carol = bulk.body.Operations[0].location.split('/').pop();
  await as(entra, 'DELETE', `/Users/${ids.bob}`, undefined);
});
after(async () => {
  await server.close();
});

describe('GET /ops/journal', () => {
  test('newest first, with cursor paging that neither skips nor repeats', async () => {
    const paged = await all('');
    const direct = (await server.db.knex.raw(`SELECT id FROM journal ORDER BY id DESC`)).rows.map((r: { id: number }) => r.id);
    assert.deepEqual(paged.map((e) => e.id), direct);
    assert.equal(direct.length, 9);
    const first = await ops('/journal?count=1');
    assert.equal(first.body.count, 1);
    assert.equal(first.body.entries[0].id, direct[0]);
    assert.match(first.body.entries[0].hash, /^[0-9a-f]{64}$/);
  });

  test('user: the user\'s own entries and the membership changes that touched it, also after it was deleted', async () => {
    const entries = await all('user=bob@example.COM');
    assert.deepEqual(summary(entries).reverse(), [
      'entra create User Bob@Example.com',
      'okta update Group Finance Reporting',
      'entra update User Bob@Example.com',
      'okta update Group Finance Reporting',
      'entra delete User Bob@Example.com',
    ]);
    assert.equal((await all('user=nobody@example.com')).length, 0);
  });

  test('group, and user with group: "who removed Bob from Finance Reporting?"', async () => {
    const finance = await all('group=finance reporting');
    assert.deepEqual(summary(finance).reverse(), ['okta create Group Finance Reporting', 'okta update Group Finance Reporting', 'okta update Group Finance Reporting']);
    const who = await all(`user=${encodeURIComponent('Bob@Example.com')}&group=${encodeURIComponent('Finance Reporting')}&since=1h`);
    assert.equal(who.length, 2);
    assert.equal(who[0]!.requestId, 'req-remove-bob');
    assert.deepEqual(who[0]!.changes, { membersRemoved: [{ value: ids.bob, type: 'User' }] });
  });

  test('resourceType and resourceId', async () => {
    const groups = await all('resourceType=Groups');
    assert.ok(groups.length >= 4 && groups.every((e) => e.resourceType === 'Group'));
    const alice = await all(`resourceId=${ids.alice!.toUpperCase()}`);
    assert.deepEqual(summary(alice), ['entra create User alice@example.com']);
    assert.deepEqual(summary(await all(`resourceType=User&resourceId=${ids.sales}`)), []);
  });

  test('actor, source, action (one or several), requestId', async () => {
    const oktaEntries = await all('actor=okta');
    assert.ok(oktaEntries.length === 4 && oktaEntries.every((e) => e.actor === 'okta'));
    const bulk = await all('source=bulk');
    assert.deepEqual(summary(bulk), ['entra create User carol@example.com']);
    assert.ok((await all('source=scim,bulk')).length > bulk.length);
    const deletes = await all('action=delete');
    assert.deepEqual(summary(deletes), ['entra delete User Bob@Example.com']);
    const both = await all('action=delete,create&resourceType=User');
    assert.deepEqual(summary(both).sort(), ['entra create User Bob@Example.com', 'entra create User alice@example.com', 'entra create User carol@example.com', 'entra delete User Bob@Example.com']);
    assert.deepEqual(summary(await all('requestId=req-bob-create')), ['entra create User Bob@Example.com']);
  });

  test('since (inclusive) and until (exclusive), as ISO times or durations', async () => {
    const { rows } = await server.db.knex.raw(`SELECT id, at FROM journal ORDER BY id`);
    const middle = rows[Math.floor(rows.length / 2)];
    const at = new Date(middle.at).toISOString();
    const since = await all(`since=${at}`);
    const until = await all(`until=${at}`);
    assert.ok(since.every((e) => e.at >= at) && since.some((e) => e.id === middle.id));
    assert.ok(until.every((e) => e.at < at) && !until.some((e) => e.id === middle.id));
    assert.equal(since.length + until.length, rows.length);
    assert.equal((await all('since=7d')).length, rows.length);
    assert.equal((await all('until=7d')).length, 0);
    assert.equal((await all(`since=${at}&until=${new Date(Date.now() + 60_000).toISOString()}&actor=entra`)).length, since.filter((e) => e.actor === 'entra').length);
  });

  test('bad input is a 400 naming the parameter, and changes nothing', async () => {
    const before = (await server.db.knex.raw(`SELECT count(*)::int AS n FROM journal`)).rows[0].n;
    const cases: Array<[string, RegExp]> = [
      ['resourceType=Widget', /resourceType must be User or Group/],
      ['resourceId=42', /resourceId must be a resource id/],
      ['since=yesterday', /since must be an ISO 8601 time .* or a duration/],
      ['since=1h&until=2h', /since must be earlier than until/],
      ['count=0', /count must be a whole number/],
      ['count=-5', /count must be a whole number/],
      ['cursor=bogus', /cursor is not valid/],
      ['format=xml', /format must be json, ndjson or csv/],
      ['actor=', /actor must not be empty/],
      ['actor=a&actor=b', /Give actor once/],
      ['userName=bob', /Unknown parameter userName/],
    ];
    for (const [query, message] of cases) {
      const res = await ops(`/journal?${query}`);
      assert.equal(res.status, 400, `${query}: ${res.text}`);
      assert.match(res.body.detail, message, query);
      assert.doesNotMatch(res.text, /at .*\.ts:\d+/, 'no stack trace');
    }
    assert.equal((await server.db.knex.raw(`SELECT count(*)::int AS n FROM journal`)).rows[0].n, before);
  });

  test('needs a token (401) with the ops:read scope (403)', async () => {
    const anonymous = await ops('/journal', null);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer/);
    const scim = await ops('/journal', scimOnly);
    assert.equal(scim.status, 403);
    assert.match(scim.body.detail, /ops:read/);
    assert.equal((await ops(`/resources/User/${ids.alice}/history`, scimOnly)).status, 403);
    const reader = (await createToken(server.db.knex, 'auditor', ['ops:read'])).token;
    assert.equal((await ops('/journal?count=1', reader)).status, 200);
  });
});

/** RFC 4180 reader for the test: quoted cells, doubled quotes, CRLF inside quotes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  return rows;
}

describe('exports', () => {
  test('NDJSON: every matching entry, one JSON object per line, the same as the JSON pages', async () => {
    const res = await ops('/journal?format=ndjson&resourceType=User');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/x-ndjson/);
    assert.match(res.headers.get('content-disposition') ?? '', /attachment; filename="roster-journal-.*\.ndjson"/);
    const lines = res.text.trimEnd().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(lines, await all('resourceType=User'));
    const byAccept = await ops('/journal?resourceType=User', undefined, { accept: 'application/x-ndjson' });
    assert.equal(byAccept.text, res.text);
  });

  test('CSV: a header, one row per entry, quoting, and formula cells neutralised', async () => {
    const title = 'Head, "Ops"\r\nEMEA';
    const created = await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: '=HYPERLINK("http://x")@example.com', title } });
    assert.equal(created.status, 201, created.text);
    const res = await ops(`/journal?format=csv&resourceId=${created.body.id}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/csv/);
    const [header, row, ...rest] = parseCsv(res.text);
    assert.deepEqual(rest, []);
    assert.deepEqual(header, ['id', 'seq', 'at', 'actor', 'source', 'request_id', 'action', 'resource_type', 'resource_id', 'resource_name', 'changed_paths', 'changes', 'before', 'after', 'reason', 'prev_hash', 'hash']);
    const cell = (name: string) => row![header!.indexOf(name)]!;
    assert.equal(cell('action'), 'create');
    assert.equal(cell('resource_name'), `'=HYPERLINK("http://x")@example.com`);
    assert.equal(JSON.parse(cell('after')).title, title, 'JSON cells survive quoting exactly');
    assert.match(cell('changed_paths'), /title; userName|userName; title|title/);
    assert.match(cell('hash'), /^[0-9a-f]{64}$/);
  });

  test('streams in batches and stops reading when the client stops reading or goes away', async () => {
    const big = JSON.stringify({ note: 'x'.repeat(2000) });
    await server.db.knex.raw(
      `INSERT INTO journal (actor, source, action, resource_type, seq, prev_hash, hash, before)
       SELECT 'loader', 'system', 'seed', 'User', 1000000 + n, 'x', 'x', ?::jsonb FROM generate_series(1, 30000) n`,
      [big],
    );
    let statements: string[] = [];
    const seen = captureQueries(server.db.knex, async () => {
      await new Promise<void>((resolve, reject) => {
        const req = http.get(`${server.url}/ops/journal?format=ndjson&actor=loader`, { headers: { authorization: `Bearer ${server.token}` } }, (res) => {
          res.pause(); // a client that does not read
          setTimeout(() => {
            statements = [];
            req.destroy();
            setTimeout(resolve, 400);
          }, 800);
        });
        req.on('error', () => undefined);
        req.on('close', () => undefined);
        setTimeout(() => reject(new Error('no response')), 5000);
      });
    });
    const all = await seen;
    const batches = all.filter((sql) => sql.includes('FROM journal j')).length;
    assert.ok(batches >= 1, 'it started streaming');
    assert.ok(batches <= 5, `it stopped reading while the client did not read (${batches} of 30 batches)`);
    assert.ok(statements.filter((sql) => sql.includes('FROM journal j')).length <= 1, 'and stopped soon after the client went away');
  });
});

describe('GET /ops/resources/{type}/{id}/history', () => {
  test('a user\'s timeline, oldest first: changed paths with before/after, group memberships, deletion', async () => {
    const res = await ops(`/resources/User/${ids.bob}/history`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.resourceType, 'User');
    const entries = res.body.entries as Array<{ action: string; actor: string; changes: Array<{ path: string; before?: unknown; after?: unknown }> }>;
    assert.deepEqual(entries.map((e) => e.action), ['create', 'update', 'update', 'update', 'delete']);
    assert.deepEqual(entries[0]!.changes.find((c) => c.path === 'title'), { path: 'title', after: 'Analyst' });
    assert.deepEqual(entries[1]!.changes, [{ path: `groups[value eq "${ids.finance}"]`, after: { value: ids.finance, display: 'Finance Reporting' } }]);
    assert.deepEqual(entries[2]!.changes, [{ path: 'title', before: 'Analyst', after: 'Manager' }]);
    assert.deepEqual(entries[3]!.changes, [{ path: `groups[value eq "${ids.finance}"]`, before: { value: ids.finance, display: 'Finance Reporting' } }]);
    assert.deepEqual(entries[4]!.changes.find((c) => c.path === 'userName'), { path: 'userName', before: 'Bob@Example.com' });
  });

  test('a create stores its document once: the timeline derives its paths from it, a set password listed as changed', async () => {
    const created = await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'pat@example.com', title: 'Clerk', password: 'Secret-Passw0rd' } });
    assert.equal(created.status, 201, created.text);
    const { rows } = await server.db.knex.raw(`SELECT changes, after FROM journal WHERE action = 'create' AND resource_id = ?`, [created.body.id]);
    assert.deepEqual(rows[0].changes, [{ path: 'password', after: '[changed]' }], 'only what the document cannot show');
    assert.equal(JSON.stringify(rows[0]).includes('Secret-Passw0rd'), false);
    const res = await ops(`/resources/User/${created.body.id}/history`);
    assert.equal(res.status, 200, res.text);
    const [create] = res.body.entries as Array<{ action: string; changes: Array<{ path: string; after?: unknown }> }>;
    assert.equal(create!.action, 'create');
    assert.deepEqual(create!.changes.map((c) => c.path).sort(), ['password', 'title', 'userName']);
    assert.deepEqual(create!.changes.find((c) => c.path === 'title'), { path: 'title', after: 'Clerk' });
  });

  test('a group\'s timeline shows member paths and attribute changes; pages with cursors', async () => {
    await server.request('PATCH', `/Groups/${ids.finance}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'displayName', value: 'Finance Reporting EU' }] } });
    const first = await ops(`/resources/groups/${ids.finance}/history?count=2`);
    assert.equal(first.status, 200);
    assert.equal(first.body.count, 2);
    const second = await ops(`/resources/groups/${ids.finance}/history?count=2&cursor=${first.body.nextCursor}`);
    assert.equal(second.body.nextCursor, null);
    const entries = [...first.body.entries, ...second.body.entries];
    assert.deepEqual(entries[1].changes, [
      { path: `members[value eq "${ids.bob}"]`, after: { value: ids.bob, type: 'User' } },
      { path: `members[value eq "${ids.alice}"]`, after: { value: ids.alice, type: 'User' } },
    ]);
    assert.deepEqual(entries[2].changes, [{ path: `members[value eq "${ids.bob}"]`, before: { value: ids.bob, type: 'User' } }]);
    assert.deepEqual(entries[3].changes, [{ path: 'displayName', before: 'Finance Reporting', after: 'Finance Reporting EU' }]);
    assert.deepEqual(summary(await all('group=Finance Reporting EU')).length, 4, 'a renamed group is found by its new name with its whole history');
  });

  test('unknown resources are 404, malformed ids 400', async () => {
    assert.equal((await ops('/resources/User/6f0c6f2e-1d0a-4c59-9c1b-6a8f8d2d1a11/history')).status, 404);
    assert.equal((await ops('/resources/Widget/6f0c6f2e-1d0a-4c59-9c1b-6a8f8d2d1a11/history')).status, 404);
    const bad = await ops('/resources/User/not-a-uuid/history');
    assert.equal(bad.status, 400);
    assert.match(bad.body.detail, /not a resource id/);
    assert.equal((await ops(`/resources/User/${ids.alice}/history?since=1d`)).status, 400);
  });
});
