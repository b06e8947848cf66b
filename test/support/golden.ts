/**
 * Golden files: what an IdP receives, kept under test/golden/ and compared byte for byte, so a
 * change to a wire format shows in review as a diff of these files (docs/security.md, "Wire
 * formats under golden files"). What differs between runs is normalised: ids (numbered in order of
 * first appearance), times, the server's address, cursors.
 *
 * Regenerate after an intended change:  ROSTER_UPDATE_GOLDEN=1 npm test -- test/golden.test.ts
 * and review the diff (`git diff --word-diff test/golden` reads one-line bodies well).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestResponse } from './server.js';

const GOLDEN_DIR = path.resolve('test/golden');
/** Headers an IdP acts on; the rest (date, request id, security headers) are not a wire format. */
const KEPT_HEADERS = ['content-type', 'etag', 'location', 'allow', 'retry-after', 'accept-encoding', 'www-authenticate'];
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const TIME = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})/g;

export function normaliseWire(text: string, baseUrl: string): string {
  const ids = new Map<string, string>();
  return text
    .split(baseUrl)
    .join('http://roster.test')
    .replace(UUID, (id) => {
      const key = id.toLowerCase();
      if (!ids.has(key)) ids.set(key, `<id-${ids.size + 1}>`);
      return ids.get(key)!;
    })
    .replace(TIME, '<time>')
    .replace(/"nextCursor":\s*"[^"]*"/g, '"nextCursor":"<cursor>"');
}

/** The status line, the kept headers and the exact body, normalised. */
export function wireText(res: TestResponse, baseUrl: string): string {
  const headers = KEPT_HEADERS.filter((name) => res.headers.has(name)).map((name) => `${name}: ${res.headers.get(name)}`);
  return normaliseWire(`HTTP ${res.status}\n${headers.join('\n')}\n\n${res.text}\n`, baseUrl);
}

export function assertGolden(name: string, res: TestResponse, baseUrl: string): void {
  const file = path.join(GOLDEN_DIR, `${name}.http`);
  const actual = wireText(res, baseUrl);
  if (process.env.ROSTER_UPDATE_GOLDEN === '1') {
    writeFileSync(file, actual);
    return;
  }
  assert.ok(existsSync(file), `${file} is missing; create it with ROSTER_UPDATE_GOLDEN=1 npm test -- test/golden.test.ts`);
  assert.equal(actual, readFileSync(file, 'utf8'), `${name}: the wire format changed. If intended, regenerate with ROSTER_UPDATE_GOLDEN=1 and review the diff`);
}
