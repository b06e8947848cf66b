/**
 * The promise every bad request is tested against (README: bad input gets a correct SCIM error and
 * changes nothing): one table-driven case, sent to a real Roster, must come back as a SCIM error
 * with the expected status and scimType, a detail that says what to fix, no stack trace or SQL,
 * and the database's row counts unchanged. Used by the input, schema and error test files.
 */
import assert from 'node:assert/strict';
import { snapshotCounts, type RequestOptions, type TestServer } from './server.js';

export interface RefusalCase {
  name: string;
  method: string;
  path: () => string;
  options?: () => RequestOptions;
  /** Default 400. */
  status?: number;
  /** Compared exactly: a case without one expects none. */
  scimType?: string;
  /** What the detail must name (the attribute or parameter), besides saying something. */
  detail?: RegExp;
}

export const SCIM_ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** Sends the case and checks the refusal and that nothing changed. */
export async function assertRefused(server: TestServer, c: RefusalCase, path = c.path()): Promise<void> {
  const status = c.status ?? 400;
  const before = await snapshotCounts(server.db);
  const res = await server.request(c.method, path, c.options?.());
  assert.equal(res.status, status, `${c.name}: ${res.text}`);
  assert.match(res.headers.get('content-type') ?? '', /application\/scim\+json/);
  assert.deepEqual(res.body.schemas, [SCIM_ERROR_SCHEMA]);
  assert.equal(res.body.status, String(status));
  assert.equal(res.body.scimType, c.scimType, res.text);
  assert.equal(typeof res.body.detail, 'string');
  assert.ok(res.body.detail.length > 10, 'the detail says what is wrong');
  if (c.detail) assert.match(res.body.detail, c.detail);
  assert.doesNotMatch(res.text, /at .*\.(ts|js):\d+|node_modules|stack|SELECT |INSERT /i, 'no stack trace or SQL');
  assert.deepEqual(await snapshotCounts(server.db), before, 'nothing changed');
}
