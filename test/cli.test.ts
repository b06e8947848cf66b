/** The `roster` CLI as a user runs it: a real process against a real database. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from './support/database.js';

const run = promisify(execFile);
let db: TestDatabase;
before(async () => {
  db = await createTestDatabase({ migrate: false });
});
after(async () => {
  await db.drop();
});

const roster = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'error', ...env } });

test('migrate applies the migrations, then reports the database up to date', async () => {
  const first = await roster(['migrate']);
  assert.match(first.stdout, /Applied: 20261122000001_core/);
  const second = await roster(['migrate']);
  assert.match(second.stdout, /up to date/);
});

test('token create prints a token once; list shows names, never values; revoke', async () => {
  const created = await roster(['token', 'create', '--name', 'entra', '--scope', 'scim:write']);
  const token = /^(rst_[A-Za-z0-9_-]{43})$/m.exec(created.stdout)?.[1];
  assert.ok(token, created.stdout);
  const listed = await roster(['token', 'list']);
  assert.match(listed.stdout, /entra\s+scim:write/);
  assert.doesNotMatch(listed.stdout, new RegExp(token.slice(4)));
  const revoked = await roster(['token', 'revoke', 'entra']);
  assert.match(revoked.stdout, /Revoked "entra"/);
  assert.doesNotMatch((await roster(['token', 'list'])).stdout, /entra/);
});

test('mistakes say what to do next and exit 2', async () => {
  const badScope = await roster(['token', 'create', '--name', 'x', '--scope', 'admin']).catch((e: { code: number; stderr: string }) => e);
  assert.equal((badScope as { code: number }).code, 2);
  assert.match((badScope as { stderr: string }).stderr, /Unknown scope admin; choose from scim:read, scim:write, ops:read/);
  const missing = await roster(['token', 'revoke', 'nobody']).catch((e: { code: number; stderr: string }) => e);
  assert.equal((missing as { code: number }).code, 2);
  assert.match((missing as { stderr: string }).stderr, /token list/);
  const badEnv = await roster(['migrate'], { PORT: 'eighty' }).catch((e: { code: number; stderr: string }) => e);
  assert.equal((badEnv as { code: number }).code, 2);
  assert.match((badEnv as { stderr: string }).stderr, /PORT/);
});
