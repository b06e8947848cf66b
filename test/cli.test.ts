/** The `roster` CLI as a user runs it: a real process against a real database. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
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

test('serve with a broken policy file stops before opening the database: every problem, exit 2', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'roster-cli-policy-'));
  try {
    const file = path.join(dir, 'broken.yaml');
    await writeFile(file, "version: 1\nroles:\n  - name: a\n    when: 'title pr'\n    groups: []\n  - name: b\n    when: 'title gt'\n    groups: [B]\n");
    // A database that does not exist: reaching it would fail with a connection error instead.
    const missingDb = new URL(db.url);
    missingDb.pathname = '/roster_no_such_database';
    const failed = await roster(['serve'], { ROSTER_POLICY_FILE: file, DATABASE_URL: missingDb.toString(), PORT: '0' }).catch((e: { code: number; stderr: string }) => e);
    assert.equal((failed as { code: number }).code, 2);
    const stderr = (failed as { stderr: string }).stderr;
    assert.match(stderr, /broken\.yaml is not a valid policy/);
    assert.match(stderr, /broken\.yaml:5: role "a": groups: must name at least one group/);
    assert.match(stderr, /broken\.yaml:7: role "b": when: /);
    assert.doesNotMatch(stderr, /roster_no_such_database|does not exist|ECONNREFUSED/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('import without --columns uses ROSTER_HR_COLUMNS_FILE (the setting a Docker image is given), and shows its progress', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'roster-cli-columns-'));
  try {
    // An HR system whose export names its columns differently from the sample's.
    const columns = path.join(dir, 'hr-columns.yaml');
    await writeFile(
      columns,
      'version: 1\ncolumns:\n  Staff No:\n    to: urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber\n    required: true\n  Mail:\n    to: [userName, \'emails[type eq "work"].value\']\n    required: true\n    format: email\n  Surname: { to: name.familyName }\n',
    );
    const csv = path.join(dir, 'export.csv');
    await writeFile(csv, 'Staff No,Mail,Surname\nS1,sam.one@example.com,One\nS2,sam.two@example.com,Two\n');
    const imported = await roster(['import', csv], { ROSTER_HR_COLUMNS_FILE: columns });
    assert.match(imported.stdout, /2 rows in [\d.]+ s: 2 created, 0 updated, 0 unchanged, 0 rejected/);
    assert.match(imported.stderr, /written 0\/2/, 'progress before the first batch');
    assert.match(imported.stderr, /written 2\/2 \(2 created/);
    // Without the setting, the sample's columns file applies: this export has none of its columns.
    const sample = await roster(['import', csv, '--dry-run']).catch((e: { code: number; stderr: string }) => e);
    assert.equal((sample as { code: number }).code, 2);
    assert.match((sample as { stderr: string }).stderr, /The file has no column "Employee ID".*Fix the columns file \(examples\/columns\.yaml\)/);
    // A setting naming a missing file is an operator mistake that says which file.
    const missing = await roster(['import', csv], { ROSTER_HR_COLUMNS_FILE: path.join(dir, 'nope.yaml') }).catch((e: { code: number; stderr: string }) => e);
    assert.equal((missing as { code: number }).code, 2);
    assert.match((missing as { stderr: string }).stderr, /nope\.yaml/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
