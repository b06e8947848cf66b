/**
 * Input rules at the edge (issue 14, docs/security.md "What Roster refuses"): NUL characters and
 * unpaired UTF-16 surrogates in any string, ids that are not valid percent-encoded UTF-8, JSON
 * nested too deep and bodies with an unknown or broken Content-Encoding. Each is a SCIM 4xx that
 * names what to fix and changes no row and no journal entry. Before this, every one was a 500.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { checkJsonValue, scanRawJson } from '../src/http/input-rules.js';
import { ScimError } from '../src/scim/errors.js';
import { stringProblem } from '../src/scim/text-rules.js';
import { GROUP_SCHEMA, PATCH_OP, snapshotCounts, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';
import { assertRefused, type RefusalCase } from './support/refusals.js';

let server: TestServer;
let userId: string;
let groupId: string;
before(async () => {
  server = await startTestServer();
  userId = (await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'edge@example.com' } })).body.id;
  groupId = (await server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'Edge' } })).body.id;
});
after(async () => {
  await server.close();
});


const NUL = '\u0000';
const LONE = '\ud800';
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const patch = (value: unknown, path = 'title') => ({ body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path, value }] } });

const refusals: RefusalCase[] = [
  { name: 'NUL in userName (POST)', method: 'POST', path: () => '/Users', options: () => ({ body: { schemas: [USER_SCHEMA], userName: `a${NUL}b@example.com` } }), status: 400, scimType: 'invalidValue', detail: /userName.*NUL/ },
  { name: 'lone surrogate in title (POST)', method: 'POST', path: () => '/Users', options: () => ({ rawBody: `{"schemas":["${USER_SCHEMA}"],"userName":"s@example.com","title":"x\\ud800y"}` }), status: 400, scimType: 'invalidValue', detail: /title.*surrogate/ },
  { name: 'NUL in a group displayName', method: 'POST', path: () => '/Groups', options: () => ({ body: { schemas: [GROUP_SCHEMA], displayName: `G${NUL}` } }), status: 400, scimType: 'invalidValue', detail: /displayName/ },
  { name: 'NUL in an attribute name', method: 'POST', path: () => '/Users', options: () => ({ body: { schemas: [USER_SCHEMA], userName: 'k@example.com', [`ti${NUL}tle`]: 'x' } }), status: 400, scimType: 'invalidValue', detail: /NUL/ },
  { name: 'NUL in a PATCH value', method: 'PATCH', path: () => `/Users/${userId}`, options: () => patch(`Boss${NUL}`), status: 400, scimType: 'invalidValue', detail: /Operations\[0\]\.value/ },
  { name: 'lone surrogate in a PATCH value', method: 'PATCH', path: () => `/Groups/${groupId}`, options: () => patch(`x${LONE}`, 'displayName'), status: 400, scimType: 'invalidValue', detail: /Operations\[0\]\.value/ },
  { name: 'NUL in Bulk data', method: 'POST', path: () => '/Bulk', options: () => ({ body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations: [{ method: 'POST', path: '/Users', bulkId: 'a', data: { schemas: [USER_SCHEMA], userName: `b${NUL}` } }] } }), status: 400, scimType: 'invalidValue', detail: /Operations\[0\]\.data\.userName/ },
  { name: 'NUL in a filter (query, percent-encoded)', method: 'GET', path: () => `/Users?filter=${encodeURIComponent(`userName eq "a${NUL}"`)}`, status: 400, scimType: 'invalidValue', detail: /filter/ },
  { name: 'NUL in a filter (JSON escape in the string literal)', method: 'GET', path: () => `/Users?filter=${encodeURIComponent('userName eq "a\\u0000"')}`, status: 400, scimType: 'invalidFilter', detail: /NUL/ },
  { name: 'lone surrogate in a filter (JSON escape)', method: 'GET', path: () => `/Users?filter=${encodeURIComponent('title eq "\\ud800"')}`, status: 400, scimType: 'invalidFilter', detail: /surrogate/ },
  { name: 'NUL in a .search filter', method: 'POST', path: () => '/Users/.search', options: () => ({ body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: `userName eq "${NUL}"` } }), status: 400, scimType: 'invalidValue', detail: /filter/ },
  { name: 'NUL in an /ops/journal parameter', method: 'GET', path: () => `/scim/../ops/journal?actor=${encodeURIComponent(`x${NUL}`)}`, status: 400, scimType: 'invalidValue', detail: /actor/ },
  { name: 'invalid percent-encoding in an id (GET)', method: 'GET', path: () => '/Users/%FF%FE', status: 400, scimType: 'invalidValue', detail: /percent-encod/ },
  { name: 'invalid percent-encoding in an id (PATCH)', method: 'PATCH', path: () => '/Groups/%E0%A4%A', options: () => patch('x'), status: 400, scimType: 'invalidValue', detail: /percent-encod/ },
  { name: 'invalid percent-encoding in an id (DELETE)', method: 'DELETE', path: () => '/Users/%C0%AF', status: 400, scimType: 'invalidValue', detail: /percent-encod/ },
  { name: 'NUL in an id', method: 'GET', path: () => '/Users/%00', status: 400, scimType: 'invalidValue', detail: /NUL/ },
  { name: 'JSON nested 5000 deep in a PATCH value', method: 'PATCH', path: () => `/Users/${userId}`, options: () => ({ rawBody: `{"schemas":["${PATCH_OP}"],"Operations":[{"op":"add","path":"emails","value":${nested(5000)}}]}` }), status: 400, scimType: 'invalidSyntax', detail: /nest/ },
  { name: 'JSON nested 100000 deep in a Bulk body', method: 'POST', path: () => '/Bulk', options: () => ({ rawBody: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[{"method":"POST","path":"/Users","bulkId":"a","data":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}]}` }), status: 400, scimType: 'invalidSyntax', detail: /nest/ },
  { name: 'Content-Encoding: gzip on a body that is not gzip', method: 'POST', path: () => '/Users', options: () => ({ body: { schemas: [USER_SCHEMA], userName: 'gz@example.com' }, headers: { 'content-encoding': 'gzip' } }), status: 400, scimType: 'invalidSyntax', detail: /gzip/ },
  { name: 'Content-Encoding: deflate on a body that is not deflate', method: 'POST', path: () => '/Users', options: () => ({ body: { schemas: [USER_SCHEMA], userName: 'df@example.com' }, headers: { 'content-encoding': 'deflate' } }), status: 400, scimType: 'invalidSyntax', detail: /deflate/ },
  { name: 'Content-Encoding: br on a body that is not brotli', method: 'POST', path: () => '/Users', options: () => ({ body: { schemas: [USER_SCHEMA], userName: 'br@example.com' }, headers: { 'content-encoding': 'br' } }), status: 400, scimType: 'invalidSyntax', detail: /br/ },
  { name: 'unknown Content-Encoding', method: 'POST', path: () => '/Users', options: () => ({ body: { schemas: [USER_SCHEMA], userName: 'zs@example.com' }, headers: { 'content-encoding': 'zstd' } }), status: 415, detail: /Content-Encoding.*gzip/ },
];

describe('refused at the edge with a SCIM error that names what to fix, changing nothing', () => {
  for (const c of refusals) {
    test(c.name, () => assertRefused(server, c, c.path().replace('/scim/..', server.url)));
  }
});

describe('what the edge still lets through', () => {
  test('a body really compressed with gzip is accepted', async () => {
    const body = gzipSync(JSON.stringify({ schemas: [USER_SCHEMA], userName: 'zipped@example.com' }));
    const res = await fetch(`${server.scimUrl}/Users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/scim+json', 'content-encoding': 'gzip' },
      body,
    });
    assert.equal(res.status, 201, await res.clone().text());
    assert.equal(((await res.json()) as { userName: string }).userName, 'zipped@example.com');
  });

  test('Content-Encoding: identity is no encoding', async () => {
    const res = await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'identity@example.com' }, headers: { 'content-encoding': 'identity' } });
    assert.equal(res.status, 201, res.text);
  });

  test('paired surrogates (emoji) and other control characters than NUL are kept', async () => {
    const res = await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'emoji@example.com', title: 'Chief 🚀\tOfficer' } });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.title, 'Chief 🚀\tOfficer');
  });

  test('a Bulk operation whose path has invalid percent-encoding fails alone, as a 400', async () => {
    const before = await snapshotCounts(server.db);
    const res = await server.request('POST', '/Bulk', { body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations: [{ method: 'DELETE', path: '/Users/%FF%FE' }] } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.Operations[0].status, '400', res.text);
    assert.equal(res.body.Operations[0].response.scimType, 'invalidValue');
    assert.deepEqual(await snapshotCounts(server.db), before);
  });

  test('a percent-encoded id that decodes cleanly but names nothing is 404', async () => {
    const res = await server.request('GET', '/Users/%C3%A9t%C3%A9');
    assert.equal(res.status, 404, res.text);
  });

  test('nesting up to the limit is parsed (and then judged by the schema)', async () => {
    const res = await server.request('POST', '/Users', { rawBody: `{"schemas":["${USER_SCHEMA}"],"userName":"deep@example.com","x":${nested(60)}}` });
    assert.equal(res.status, 400);
    assert.equal(res.body.scimType, 'invalidValue', res.text);
    assert.match(res.body.detail, /Unknown attribute "x"/);
  });
});

test('the depth limit is the configured one (ROSTER_MAX_JSON_DEPTH)', async () => {
  const shallow = await startTestServer({ maxJsonDepth: 8 });
  try {
    const body = `{"schemas":["${PATCH_OP}"],"Operations":[{"op":"add","path":"emails","value":${nested(10)}}]}`;
    const refused = await shallow.request('POST', '/Users', { rawBody: body });
    assert.equal(refused.status, 400, refused.text);
    assert.match(refused.body.detail, /deeper than 8 levels/);
    const accepted = await server.request('POST', '/Users', { rawBody: body });
    assert.doesNotMatch(accepted.body.detail, /deeper than/, 'the default (64) lets it through to the schema rules');
  } finally {
    await shallow.close();
  }
});

describe('the raw scan before JSON.parse agrees with the parsed value', () => {
  const depthOf = (value: unknown): number => {
    let max = 0;
    const stack: Array<[unknown, number]> = [[value, 1]];
    while (stack.length) {
      const [v, d] = stack.pop()!;
      if (typeof v !== 'object' || v === null) continue;
      max = Math.max(max, d);
      for (const child of Object.values(v)) stack.push([child, d + 1]);
    }
    return max;
  };
  const hasProblem = (value: unknown): boolean => {
    const stack: unknown[] = [value];
    while (stack.length) {
      const v = stack.pop();
      if (typeof v === 'string' && stringProblem(v)) return true;
      if (typeof v === 'object' && v !== null) for (const [k, child] of Object.entries(v)) stack.push(k, child);
    }
    return false;
  };
  // Strings full of what confuses a byte scanner: quotes, backslashes, brackets, NUL, surrogates.
  const tricky = fc.string({ unit: fc.constantFrom('"', '\\', '[', '{', ']', '}', 'u', 'a', '\u0000', '\ud800', '\udc00', '🚀', 'é', '\n'), maxLength: 8 });
  const value = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: 'small' }, tricky, fc.integer(), fc.constant(null), fc.array(tie('node'), { maxLength: 3 }), fc.dictionary(tricky, tie('node'), { maxKeys: 3 })),
  })).node;

  test('depth refused exactly when the value nests deeper than the limit; every problem string is flagged', () => {
    fc.assert(
      fc.property(value, fc.integer({ min: 1, max: 6 }), (v, max) => {
        const bytes = Buffer.from(JSON.stringify(v));
        const deep = depthOf(v) > max;
        let scanned: { suspiciousEscapes: boolean } | undefined;
        try {
          scanned = scanRawJson(bytes, max);
        } catch (error) {
          assert.ok(error instanceof ScimError && deep, `refused a value of depth ${depthOf(v)} at limit ${max}`);
          return;
        }
        assert.ok(!deep, `missed depth ${depthOf(v)} > ${max}`);
        if (hasProblem(v)) {
          assert.ok(scanned.suspiciousEscapes, `missed a NUL or surrogate in ${bytes.toString()}`);
          assert.throws(() => checkJsonValue(v, max), ScimError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
