/**
 * Fuzz suite (issue 14 item 8, docs/security.md "The fuzz suite"): random and mutated SCIM
 * requests (bodies, filters, paths, query parameters, headers) against a real Roster on real
 * PostgreSQL over real HTTP, one at a time, with fast-check. Invariants for every response:
 *   - never a 5xx;
 *   - every 4xx is a SCIM error body whose status matches, a 400 has a scimType, and any scimType
 *     is one RFC 7644 §3.12 defines;
 *   - a 4xx changes no row and no journal entry;
 *   - no response carries a stack trace, SQL or PostgreSQL's wording, or a secret (the token, a
 *     password hash).
 * Bounded: ROSTER_FUZZ_RUNS runs (default 300) and at most ROSTER_FUZZ_SECONDS seconds (default
 * 25). The seed is printed; replay a failure with ROSTER_FUZZ_SEED=<seed> ROSTER_FUZZ_PATH=<path>
 * (both printed by fast-check when a property fails).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { ENTERPRISE, GROUP_SCHEMA, PATCH_OP, snapshotCounts, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';

const SEARCH = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
const BULK = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const SCIM_TYPES = new Set(['invalidFilter', 'tooMany', 'uniqueness', 'mutability', 'invalidSyntax', 'invalidPath', 'noTarget', 'invalidValue', 'invalidVers', 'sensitive', 'invalidCursor', 'expiredCursor']);
/** What a response must never contain: stack frames, PostgreSQL's or knex's wording, hashes. */
const LEAKS = [/\bat .+\.(?:ts|js):\d+/, /node_modules/, /syntax error at or near/i, /violates .* constraint/i, /invalid input syntax for type/i, /duplicate key value/i, /relation "[a-z_]+"/, /\bknex\b/i, /scrypt\$/, /\bpg_[a-z_]+\(/];

const runs = Number(process.env.ROSTER_FUZZ_RUNS ?? 300);
const seconds = Number(process.env.ROSTER_FUZZ_SECONDS ?? 25);
const seed = process.env.ROSTER_FUZZ_SEED !== undefined ? Number(process.env.ROSTER_FUZZ_SEED) : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
const replayPath = process.env.ROSTER_FUZZ_PATH;

let server: TestServer;
const userIds: string[] = [];
const groupIds: string[] = [];
before(async () => {
  server = await startTestServer();
  for (let i = 0; i < 4; i++) {
    userIds.push((await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA, ENTERPRISE], userName: `seed${i}@example.com`, emails: [{ value: `seed${i}@example.com`, type: 'work' }], [ENTERPRISE]: { department: 'Fuzz' } } })).body.id);
  }
  for (let i = 0; i < 2; i++) {
    groupIds.push((await server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: `Seed ${i}`, members: [{ value: userIds[i] }] } })).body.id);
  }
});
after(async () => {
  await server.close();
});

// ---------------------------------------------------------------------------------------------
// Strings and values

/** Strings a hostile or careless client sends: control characters, NUL, lone surrogates, blanks, escapes. */
const nastyString = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.constantFrom('', ' ', '   ', '\u0000', 'a\u0000b', '\ud800', 'x\udc00', '🚀', '"', '\\', '%FF%FE', 'null', 'true', '0', '-1', '1e309', 'urn:x:y', '$ref', '[', ']', '..', '*'),
);
/** An id of a seeded resource (read when generating: the seed runs after this module loads). */
const seededId = fc.nat(1000).map((i) => {
  const all = [...userIds, ...groupIds];
  return all[i % all.length] ?? 'none';
});
const anyId = () => fc.oneof(seededId, fc.uuid(), nastyString, fc.constant('bulkId:u1'));
const jsonish = fc.oneof(fc.jsonValue({ maxDepth: 3 }), nastyString, fc.constant(null));
/** Mutates a valid string: one character inserted, removed or replaced. */
const mutated = (text: string) =>
  fc.tuple(fc.nat(text.length), fc.constantFrom('insert', 'remove', 'replace'), fc.oneof(fc.string({ minLength: 1, maxLength: 1 }), fc.constantFrom(' ', '"', '[', ']', '(', ')', '.', ':', '\\', '\u0000'))).map(([at, how, c]) =>
    how === 'insert' ? text.slice(0, at) + c + text.slice(at) : how === 'remove' ? text.slice(0, at) + text.slice(at + 1) : text.slice(0, at) + c + text.slice(at + 1),
  );
const orMutated = (valid: fc.Arbitrary<string>) => fc.oneof({ weight: 2, arbitrary: valid }, { weight: 1, arbitrary: valid.chain(mutated) }, { weight: 1, arbitrary: nastyString });

// ---------------------------------------------------------------------------------------------
// Filters and PATCH paths

const attributes = fc.constantFrom('userName', 'displayName', 'title', 'active', 'emails', 'emails.value', 'emails.type', 'name.givenName', 'meta.created', 'meta.lastModified', 'id', 'externalId', 'members', 'members.value', `${ENTERPRISE}:department`, `${ENTERPRISE}:manager.value`, 'nope', 'urn:x:y:z');
const compare = fc.constantFrom('eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le', 'EQ');
const literal = fc.oneof(nastyString.map((s) => JSON.stringify(s)), fc.constantFrom('true', 'false', 'null', '42', '"2024-01-01T00:00:00Z"', '"\\u0000"', '"\\ud800"'));
const comparison = fc.oneof(fc.tuple(attributes, compare, literal).map(([a, o, v]) => `${a} ${o} ${v}`), attributes.map((a) => `${a} pr`));
const filterText: fc.Arbitrary<string> = fc.letrec<{ filter: string }>((tie) => ({
  filter: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    comparison,
    fc.tuple(tie('filter'), fc.constantFrom('and', 'or'), tie('filter')).map(([a, op, b]) => `${a} ${op} ${b}`),
    tie('filter').map((f) => `not (${f})`),
    fc.tuple(fc.constantFrom('emails', 'members'), tie('filter')).map(([a, f]) => `${a}[${f}]`),
  ),
})).filter;
const filter = orMutated(filterText);
const patchPath = orMutated(fc.oneof(attributes, fc.constantFrom('emails[type eq "work"].value', 'members[value eq "x"]', `${ENTERPRISE}:manager`, 'name')));

// ---------------------------------------------------------------------------------------------
// Bodies

const optionalRecord = <T extends Record<string, fc.Arbitrary<unknown>>>(model: T) => fc.record(model, { requiredKeys: [] });
const schemasOf = (urn: string) => fc.oneof({ weight: 4, arbitrary: fc.constant([urn]) }, { weight: 1, arbitrary: jsonish });
const emails = fc.oneof(
  fc.array(optionalRecord({ value: orMutated(fc.constant('a@example.com')), type: fc.constantFrom('work', 'home', 'other'), primary: fc.oneof(fc.boolean(), nastyString) }), { maxLength: 3 }),
  fc.constantFrom([[]], [{}], [[[{ value: 'x' }]]], ['a@b.c'], {}, 'a@b.c'),
  jsonish,
);
/** Mostly a valid value, sometimes a hostile one: most bodies then carry one mistake, not five. */
const mostly = <T>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<unknown>) => fc.oneof({ weight: 5, arbitrary: valid }, { weight: 1, arbitrary: invalid });
const plainText = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 });
const userBody = fc.record(
  {
    schemas: fc.oneof(schemasOf(USER_SCHEMA), fc.constant([USER_SCHEMA, ENTERPRISE])),
    userName: mostly(fc.uuid().map((u) => `fz-${u}@example.com`), fc.oneof(nastyString, jsonish)),
    name: mostly(optionalRecord({ givenName: plainText, familyName: plainText }), fc.oneof(optionalRecord({ givenName: nastyString, familyName: nastyString }), jsonish)),
    emails: mostly(fc.constant([{ value: 'a@example.com', type: 'work' }]), emails),
    active: mostly(fc.boolean(), fc.oneof(fc.constantFrom('True', 'False'), jsonish)),
    title: mostly(plainText, nastyString),
    [ENTERPRISE]: mostly(optionalRecord({ department: plainText, manager: optionalRecord({ value: seededId }) }), fc.oneof(optionalRecord({ department: nastyString, manager: fc.oneof(optionalRecord({ value: anyId() }), anyId()), schemas: jsonish }), jsonish)),
    // undefined leaves the member out of the JSON: present in one body of six.
    favouriteColour: mostly(fc.constant(undefined), jsonish),
    password: mostly(fc.constant(undefined), fc.oneof(fc.constant('Secret-123'), jsonish)),
  },
  { requiredKeys: ['schemas', 'userName', 'favouriteColour', 'password'] },
);
const groupBody = fc.record(
  {
    schemas: schemasOf(GROUP_SCHEMA),
    displayName: mostly(fc.uuid().map((u) => `Fuzz ${u}`), fc.oneof(nastyString, jsonish)),
    members: mostly(fc.array(fc.record({ value: seededId }), { maxLength: 3 }), fc.oneof(fc.array(optionalRecord({ value: anyId(), type: fc.oneof(fc.constantFrom('User', 'Group', 'user'), nastyString), display: nastyString }), { maxLength: 3 }), jsonish)),
  },
  { requiredKeys: ['schemas', 'displayName'] },
);
const patchBody = fc.record(
  {
    schemas: schemasOf(PATCH_OP),
    Operations: fc.oneof(
      fc.array(optionalRecord({ op: fc.oneof(fc.constantFrom('add', 'remove', 'replace', 'Add', 'Replace'), nastyString), path: patchPath, value: fc.oneof(jsonish, emails, fc.array(optionalRecord({ value: anyId() }), { maxLength: 2 })) }), { minLength: 1, maxLength: 4 }),
      jsonish,
    ),
  },
  { requiredKeys: ['schemas'] },
);
const searchBody = fc.oneof(
  optionalRecord({ schemas: schemasOf(SEARCH), filter, count: fc.oneof(fc.integer({ min: -5, max: 2000 }), jsonish), startIndex: fc.oneof(fc.integer({ min: -5, max: 50 }), jsonish), sortBy: fc.oneof(attributes, nastyString), sortOrder: fc.oneof(fc.constantFrom('ascending', 'descending'), nastyString), attributes: fc.oneof(attributes, nastyString), cursor: nastyString }),
  jsonish,
);
const bulkBody = fc.record(
  {
    schemas: schemasOf(BULK),
    failOnErrors: fc.oneof(fc.integer({ min: -1, max: 3 }), jsonish),
    Operations: fc.oneof(
      fc.array(
        optionalRecord({
          method: fc.oneof(fc.constantFrom('POST', 'PUT', 'PATCH', 'DELETE', 'post'), nastyString),
          path: fc.oneof(fc.constantFrom('/Users', '/Groups', '/Users/bulkId:u1'), anyId().map((id) => `/Users/${id}`), nastyString),
          bulkId: fc.oneof(fc.constantFrom('u1', 'u2'), nastyString),
          data: fc.oneof(userBody, groupBody, patchBody, jsonish),
        }),
        { minLength: 1, maxLength: 3 },
      ),
      jsonish,
    ),
  },
  { requiredKeys: ['schemas'] },
);
const nested = fc.integer({ min: 50, max: 3000 }).map((depth) => `{"schemas":["${PATCH_OP}"],"Operations":[{"op":"add","path":"emails","value":${'['.repeat(depth)}${']'.repeat(depth)}}]}`);
/** A body: JSON of one of the shapes above (maybe cut short), or raw text. */
const body = fc.oneof(
  { weight: 6, arbitrary: fc.oneof(userBody, groupBody, patchBody, searchBody, bulkBody, jsonish).map((value) => ({ json: value })) },
  { weight: 1, arbitrary: fc.oneof(userBody, patchBody).chain((value) => fc.nat(40).map((cut) => ({ raw: JSON.stringify(value).slice(0, -1 - cut) }))) },
  { weight: 1, arbitrary: fc.oneof(nested, fc.string({ maxLength: 30 }), fc.constantFrom('', 'null', '123', '"x"', '[]', '{}')).map((raw) => ({ raw })) },
  { weight: 1, arbitrary: fc.constant({ none: true }) },
);

// ---------------------------------------------------------------------------------------------
// Paths, query strings, headers

/** Percent-encodes what it can; a lone surrogate cannot be, so it goes as raw invalid bytes. */
const encode = (text: string) => {
  try {
    return encodeURIComponent(text);
  } catch {
    return '%ED%A0%80';
  }
};
const rawSegment = fc.constantFrom('%FF%FE', '%00', '%', '%zz', '%C0%AF', '%E0%A4%A', '..', '.', '%2F', '%20', 'é');
const idSegment = fc.oneof(anyId().map(encode), rawSegment);
const path = fc.oneof(
  fc.constantFrom('/Users', '/Groups', '/Users/.search', '/Groups/.search', '/.search', '/Bulk', '/ServiceProviderConfig', '/Schemas', '/ResourceTypes', '/Me', `/Schemas/${USER_SCHEMA}`, '/ResourceTypes/User', '/Nope'),
  fc.tuple(fc.constantFrom('/Users/', '/Groups/', '/Schemas/', '/ResourceTypes/'), idSegment).map(([base, id]) => base + id),
  fc.constantFrom('/ops/journal', '/ops/resources/User/'),
);
const queryValue = (valid: fc.Arbitrary<string>) => fc.oneof(orMutated(valid).map(encode), rawSegment);
const query = optionalRecord({
  filter: queryValue(filter),
  count: queryValue(fc.integer({ min: -5, max: 5000 }).map(String)),
  startIndex: queryValue(fc.integer({ min: -5, max: 50 }).map(String)),
  cursor: queryValue(fc.constantFrom('', 'abc.def', 'x'.repeat(30))),
  sortBy: queryValue(attributes),
  sortOrder: queryValue(fc.constantFrom('ascending', 'descending')),
  attributes: queryValue(attributes),
  excludedAttributes: queryValue(attributes),
  actor: queryValue(fc.constantFrom('bootstrap', 'x')),
  resourceType: queryValue(fc.constantFrom('User', 'Group')),
  from: queryValue(fc.constantFrom('2024-01-01', 'yesterday')),
}).map((q) => Object.entries(q).map(([k, v]) => `${k}=${v}`).join('&'));
const printable = fc.string({ unit: 'grapheme-ascii', maxLength: 20 });
const headers = optionalRecord({
  'content-type': fc.oneof(fc.constantFrom('application/scim+json', 'application/json', 'text/plain', 'application/scim+json; charset=latin1', 'application/json; charset=utf-16', 'multipart/form-data'), printable),
  'content-encoding': fc.oneof(fc.constantFrom('identity', 'gzip', 'deflate', 'br', 'zstd', 'gzip, gzip', 'x-gzip', 'real-gzip'), printable),
  'if-match': fc.oneof(fc.constantFrom('W/"1"', '*', 'W/"999"', '"1"'), printable),
  'if-none-match': fc.oneof(fc.constantFrom('W/"1"', '*'), printable),
  accept: fc.oneof(fc.constantFrom('application/scim+json', 'text/csv', 'application/x-ndjson', '*/*'), printable),
});

const fewHeaders = fc.oneof({ weight: 3, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: headers });
const noQuery = fc.oneof({ weight: 3, arbitrary: fc.constant('') }, { weight: 1, arbitrary: query });
const userPath = fc.oneof({ weight: 3, arbitrary: seededId.map((id) => `/Users/${id}`) }, { weight: 1, arbitrary: idSegment.map((id) => `/Users/${id}`) });
const groupPath = fc.oneof({ weight: 3, arbitrary: seededId.map((id) => `/Groups/${id}`) }, { weight: 1, arbitrary: idSegment.map((id) => `/Groups/${id}`) });
const json = (arbitrary: fc.Arbitrary<unknown>) => arbitrary.map((value) => ({ json: value }));
/** Requests that mean something (the right method, path and body shape), mutated inside. */
const coherent = fc.oneof(
  fc.record({ method: fc.constant('POST'), path: fc.constant('/Users'), query: noQuery, body: json(userBody), headers: fewHeaders }),
  fc.record({ method: fc.constant('PUT'), path: userPath, query: noQuery, body: json(userBody), headers: fewHeaders }),
  fc.record({ method: fc.constant('PATCH'), path: userPath, query: noQuery, body: json(patchBody), headers: fewHeaders }),
  fc.record({ method: fc.constant('POST'), path: fc.constant('/Groups'), query: noQuery, body: json(groupBody), headers: fewHeaders }),
  fc.record({ method: fc.constant('PUT'), path: groupPath, query: noQuery, body: json(groupBody), headers: fewHeaders }),
  fc.record({ method: fc.constant('PATCH'), path: groupPath, query: fc.oneof(noQuery, fc.constant('attributes=members')), body: json(patchBody), headers: fewHeaders }),
  fc.record({ method: fc.constant('POST'), path: fc.constant('/Bulk'), query: noQuery, body: json(bulkBody), headers: fewHeaders }),
  fc.record({ method: fc.constant('POST'), path: fc.constantFrom('/.search', '/Users/.search', '/Groups/.search'), query: noQuery, body: json(searchBody), headers: fewHeaders }),
  fc.record({ method: fc.constant('GET'), path: fc.constantFrom('/Users', '/Groups', '/ops/journal'), query, body: fc.constant({ none: true }), headers: fewHeaders }),
  fc.record({ method: fc.constant('GET'), path: fc.oneof(userPath, groupPath), query: noQuery, body: fc.constant({ none: true }), headers: fewHeaders }),
  fc.record({ method: fc.constant('DELETE'), path: fc.oneof(userPath, groupPath), query: noQuery, body: fc.constant({ none: true }), headers: fewHeaders }),
);
/** Anything: any method on any path with any body and headers. */
const anything = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
  path,
  query,
  body,
  headers,
});
const requestArbitrary = fc.oneof({ weight: 3, arbitrary: coherent }, { weight: 1, arbitrary: anything });
type FuzzRequest = typeof requestArbitrary extends fc.Arbitrary<infer T> ? T : never;

// ---------------------------------------------------------------------------------------------

async function send(request: FuzzRequest): Promise<{ status: number; text: string; contentType: string }> {
  const headers: Record<string, string> = { authorization: `Bearer ${server.token}` };
  for (const [name, value] of Object.entries(request.headers)) if (typeof value === 'string') headers[name] = value;
  let text: string | undefined;
  if ('json' in request.body) text = (JSON.stringify(request.body.json) as string | undefined) ?? 'null';
  else if ('raw' in request.body) text = request.body.raw;
  let payload: Blob | string | undefined = text;
  if (text !== undefined && headers['content-encoding'] === 'real-gzip') {
    headers['content-encoding'] = 'gzip';
    payload = new Blob([gzipSync(text)]);
  }
  if (payload !== undefined) headers['content-type'] ??= 'application/scim+json';
  const base = request.path.startsWith('/ops') ? server.url : server.scimUrl;
  const canHaveBody = request.method !== 'GET';
  const response = await fetch(`${base}${request.path}${request.query ? `?${request.query}` : ''}`, {
    method: request.method,
    headers,
    ...(payload !== undefined && canHaveBody ? { body: payload } : {}),
  });
  return { status: response.status, text: await response.text(), contentType: response.headers.get('content-type') ?? '' };
}

/** Resources the fuzz creates join the pool of ids later requests use; deleted ones leave it. */
function rememberCreated(request: FuzzRequest, response: { status: number; text: string }): void {
  if (request.method === 'DELETE' && response.status === 204) {
    const id = decodeURIComponent(request.path.split('/').pop() ?? '');
    for (const pool of [userIds, groupIds]) if (pool.length > 1 && pool.includes(id)) pool.splice(pool.indexOf(id), 1);
  }
  if (response.status !== 201) return;
  const id = (JSON.parse(response.text) as { id?: unknown }).id;
  if (typeof id === 'string') (request.path.startsWith('/Groups') ? groupIds : userIds).push(id);
}

function checkResponse(request: FuzzRequest, response: { status: number; text: string; contentType: string }): void {
  const where = `${request.method} ${request.path}?${request.query} → ${response.status} ${response.text.slice(0, 300)}`;
  // RFC 7644 §3.11: a service provider without /Me answers 501; that is the one 5xx by design.
  const meNotImplemented = response.status === 501 && request.path === '/Me';
  assert.ok(response.status < 500 || meNotImplemented, `5xx: ${where}`);
  for (const leak of LEAKS) assert.doesNotMatch(response.text, leak, `leak ${leak}: ${where}`);
  assert.ok(!response.text.includes(server.token), `the token leaked: ${where}`);
  if (response.status < 400) {
    // A Bulk response is a 200 whose operations carry their own statuses: the same rules apply to each.
    if (request.path === '/Bulk' && response.status === 200) {
      for (const op of (JSON.parse(response.text) as { Operations: Array<{ status: string; response?: { status?: string; scimType?: string } }> }).Operations) {
        assert.ok(Number(op.status) < 500, `a bulk operation answered ${op.status}: ${where}`);
        if (Number(op.status) === 400) assert.ok(typeof op.response?.scimType === 'string', `a bulk 400 without scimType: ${where}`);
      }
    }
    return;
  }
  assert.match(response.contentType, /application\/(scim\+)?json/, `content type: ${where}`);
  const error = JSON.parse(response.text) as { schemas?: unknown; status?: unknown; scimType?: unknown; detail?: unknown };
  assert.deepEqual(error.schemas, ['urn:ietf:params:scim:api:messages:2.0:Error'], where);
  assert.equal(error.status, String(response.status), where);
  assert.equal(typeof error.detail, 'string', where);
  if (response.status === 400) assert.ok(typeof error.scimType === 'string', `a 400 without scimType: ${where}`);
  if (error.scimType !== undefined) assert.ok(SCIM_TYPES.has(String(error.scimType)), `unknown scimType: ${where}`);
}

test(`fuzz: random and mutated SCIM requests (seed ${seed})`, async () => {
  // Printed first, so a run that fails or hangs can be replayed.
  process.stdout.write(`# fuzz seed=${seed} runs=${runs} budget=${seconds}s${replayPath ? ` path=${replayPath}` : ''}\n`);
  let executed = 0;
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(requestArbitrary, async (request) => {
      executed++;
      const before = await snapshotCounts(server.db);
      const response = await send(request);
      rememberCreated(request, response);
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      checkResponse(request, response);
      if (response.status >= 400) assert.deepEqual(await snapshotCounts(server.db), before, `a ${response.status} changed rows or the journal: ${request.method} ${request.path}`);
    }),
    { seed, numRuns: runs, interruptAfterTimeLimit: seconds * 1000, markInterruptAsFailure: false, includeErrorInReport: true, ...(replayPath ? { path: replayPath } : {}) },
  );
  process.stdout.write(`# fuzz ran ${executed} requests; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}\n`);
  assert.ok(executed >= Math.min(runs, 50), `only ${executed} requests ran in the time budget`);
});
