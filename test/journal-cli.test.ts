/** `roster journal …` as an operator runs it: real processes against a real database. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createGroup, patchGroup } from '../src/resources/groups.js';
import { createUser, deleteUser, patchUser } from '../src/resources/users.js';
import { WritePath } from '../src/write/write-path.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { GROUP_SCHEMA, PATCH_OP, USER_SCHEMA } from './support/server.js';

const run = promisify(execFile);
let db: TestDatabase;
let writePath: WritePath;
let dir: string;
const ids: Record<string, string> = {};

const env = (extra: Record<string, string> = {}) => ({ ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'error', ...extra });
const roster = (args: string[], extra: Record<string, string> = {}) =>
  run(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { env: env(extra) });
const failing = async (args: string[], extra: Record<string, string> = {}) =>
  (await roster(args, extra).then(
    () => assert.fail(`expected ${args.join(' ')} to fail`),
    (error: { code: number; stdout: string; stderr: string }) => error,
  )) as { code: number; stdout: string; stderr: string };
/** The ID column of a table, top to bottom. */
const tableIds = (stdout: string) => stdout.split('\n').slice(1).map((line) => /^(\d+)\s/.exec(line)?.[1]).filter(Boolean).map(Number);
const idsWhere = async (sql: string, bindings: string[] = []) => (await db.knex.raw(`SELECT id FROM journal WHERE ${sql} ORDER BY id DESC`, bindings)).rows.map((r: { id: number }) => r.id);

before(async () => {
  db = await createTestDatabase();
  writePath = new WritePath(db.knex);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-journal-cli-'));
  const as = (name: string, source: 'scim' | 'bulk' = 'scim', requestId = `req-${name}-${Math.random().toString(36).slice(2)}`) => ({ name, source, requestId });
  ids.bob = (await writePath.run(as('entra', 'scim', 'req-bob'), (c) => createUser(c, { schemas: [USER_SCHEMA], userName: 'bob@example.com', title: 'Analyst' }))).id;
  ids.alice = (await writePath.run(as('entra', 'bulk'), (c) => createUser(c, { schemas: [USER_SCHEMA], userName: 'alice@example.com' }))).id;
  ids.finance = (await writePath.run(as('okta'), (c) => createGroup(c, { schemas: [GROUP_SCHEMA], displayName: 'Finance Reporting', members: [{ value: ids.bob }] }))).id;
  await writePath.run(as('entra'), (c) => patchUser(c, ids.bob!, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: 'Manager' }] }, {}));
  await writePath.run(as('okta'), (c) => patchGroup(c, ids.finance!, { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: `members[value eq "${ids.bob}"]` }] }, {}));
  await writePath.run(as('entra'), (c) => deleteUser(c, ids.bob!, {}));
});
after(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  await db.drop();
});

test('journal: a table, newest first, with every filter', async () => {
  const everything = await roster(['journal']);
  assert.match(everything.stdout, /^ID\s+TIME \(UTC\)\s+ACTOR\s+SOURCE\s+ACTION\s+RESOURCE\s+CHANGES/);
  assert.deepEqual(tableIds(everything.stdout), await idsWhere('true'));
  assert.match(everything.stdout, /update\s+User bob@example.com\s+title: Analyst → Manager/);
  assert.match(everything.stdout, /update\s+Group Finance Reporting\s+-member /);

  const cases: Array<[string[], string, string[]?]> = [
    [['--user', 'BOB@example.com'], `(resource_type = 'User' AND resource_id = ?) OR ? = ANY(member_ids)`, [ids.bob!, ids.bob!]],
    [['--group', 'finance reporting'], `resource_type = 'Group'`],
    [['--user', 'bob@example.com', '--group', 'Finance Reporting'], `resource_type = 'Group' AND ? = ANY(member_ids)`, [ids.bob!]],
    [['--type', 'user'], `resource_type = 'User'`],
    [['--id', ids.alice!], `resource_id = ?`, [ids.alice!]],
    [['--actor', 'okta'], `actor = 'okta'`],
    [['--source', 'bulk'], `source = 'bulk'`],
    [['--action', 'delete,create'], `action IN ('delete', 'create')`],
    [['--request-id', 'req-bob'], `request_id = 'req-bob'`],
    [['--since', '1h', '--until', new Date(Date.now() + 3_600_000).toISOString()], 'true'],
    [['--until', '1h'], 'false'],
  ];
  for (const [flags, where, bindings] of cases) {
    const { stdout } = await roster(['journal', ...flags]);
    const expected = await idsWhere(where, bindings);
    if (expected.length === 0) assert.match(stdout, /No journal entries match/, flags.join(' '));
    else assert.deepEqual(tableIds(stdout), expected, flags.join(' '));
  }
});

test('journal --json and --limit', async () => {
  const { stdout } = await roster(['journal', '--json', '--limit', '2', '--actor', 'entra']);
  const entries = JSON.parse(stdout);
  assert.equal(entries.length, 2);
  assert.deepEqual(entries.map((e: { id: number }) => e.id), (await idsWhere(`actor = 'entra'`)).slice(0, 2));
  assert.equal(entries[0].action, 'delete');
  assert.match(entries[0].hash, /^[0-9a-f]{64}$/);
  const limited = await roster(['journal', '--limit', '1']);
  assert.match(limited.stdout, /Showing the 1 newest matching entries; more match/);
});

test('mistakes exit 2 with the flag and a valid form', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['journal', '--since', 'last tuesday'], /--since must be an ISO 8601 time .* or a duration back from now/],
    [['journal', '--type', 'widget'], /--type must be User or Group/],
    [['journal', '--id', '123'], /--id must be a resource id/],
    [['journal', '--limit', 'lots'], /--limit must be a whole number/],
    [['journal', 'export', '--format', 'xml', '--out', path.join(dir, 'x')], /--format must be ndjson or csv/],
    [['journal', 'purge'], /set ROSTER_JOURNAL_RETENTION_DAYS .* or pass --older-than 365d/],
    [['journal', 'purge', '--older-than', 'forever'], /--older-than must be a duration/],
  ];
  for (const [args, message] of cases) {
    const error = await failing(args);
    assert.equal(error.code, 2, args.join(' '));
    assert.match(error.stderr, message, args.join(' '));
  }
});

test('journal export: NDJSON and CSV files with progress, never overwriting by accident', async () => {
  const ndjson = path.join(dir, 'journal.ndjson');
  const result = await roster(['journal', 'export', '--format', 'ndjson', '--out', ndjson, '--actor', 'entra']);
  assert.match(result.stdout, /Exported 4 entries \(ndjson, .* MB\) to /);
  assert.match(result.stderr, /Exporting to .*: 100% \(4 of 4\)/);
  const lines = fs.readFileSync(ndjson, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((e) => e.id), await idsWhere(`actor = 'entra'`));
  assert.ok(!fs.existsSync(`${ndjson}.partial`));

  const again = await failing(['journal', 'export', '--format', 'ndjson', '--out', ndjson]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /already exists; .* --force/);

  const csv = path.join(dir, 'journal.csv');
  await roster(['journal', 'export', '--format', 'csv', '--out', csv, '--group', 'Finance Reporting']);
  const rows = fs.readFileSync(csv, 'utf8').trimEnd().split('\r\n');
  assert.match(rows[0]!, /^id,seq,at,actor,source,request_id,action,/);
  assert.equal(rows.length, 1 + (await idsWhere(`resource_type = 'Group'`)).length);
});

test('journal --follow prints new entries as they are committed, and stops on Ctrl-C', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'journal', '--follow', '--limit', '2', '--type', 'User', '--interval', '1'], { env: env() });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const waitFor = async (pattern: RegExp) => {
    for (let i = 0; i < 200 && !pattern.test(stdout); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(stdout, pattern);
  };
  try {
    await waitFor(/delete\s+User bob@example.com/);
    assert.doesNotMatch(stdout, /Group Finance/, 'filters apply');
    await writePath.run({ name: 'follower-test', source: 'cli', requestId: 'follow-1' }, (c) => createUser(c, { schemas: [USER_SCHEMA], userName: 'dave@example.com' }));
    await writePath.run({ name: 'follower-test', source: 'cli', requestId: 'follow-2' }, (c) => createGroup(c, { schemas: [GROUP_SCHEMA], displayName: 'Not shown' }));
    await waitFor(/follower-test\s+cli\s+create\s+User dave@example.com/);
    assert.ok(stdout.indexOf('bob@example.com') < stdout.indexOf('dave@example.com'), 'oldest first while following');
  } finally {
    child.kill('SIGINT');
  }
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.ok(code === 0 || code === 130, `Ctrl-C ends it like any interrupted command (status ${String(code)})`);
  assert.equal(stderr, '', 'and quietly');
  assert.doesNotMatch(stdout, /Not shown/);
});

test('journal verify: exit 0 with the count; after an edit in SQL, exit 1 naming the entry', async () => {
  const ok = await roster(['journal', 'verify']);
  const count = (await db.knex.raw(`SELECT count(*)::int AS n FROM journal`)).rows[0].n;
  assert.match(ok.stdout, new RegExp(`Journal verified: ${count} entries checked from the first entry; the chain is intact`));
  assert.match(ok.stdout, /Head: position \d+, hash [0-9a-f]{64}/);

  const other = await createTestDatabase();
  try {
    const wp = new WritePath(other.knex);
    for (const name of ['x1', 'x2', 'x3']) await wp.run({ name: 'entra', source: 'scim', requestId: name }, (c) => createUser(c, { schemas: [USER_SCHEMA], userName: `${name}@example.com` }));
    const target = (await other.knex.raw(`SELECT id FROM journal ORDER BY id LIMIT 1 OFFSET 1`)).rows[0].id;
    await other.knex.transaction(async (tx) => {
      await tx.raw(`SET LOCAL session_replication_role = replica`);
      await tx.raw(`UPDATE journal SET actor = 'okta' WHERE id = ?`, [target]);
    });
    const broken = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', 'journal', 'verify'], { env: { ...env(), DATABASE_URL: other.url } }).then(
      () => assert.fail('verify should fail'),
      (error: { code: number; stdout: string }) => error,
    );
    assert.equal(broken.code, 1);
    assert.match(broken.stdout, /Journal verification FAILED after checking 1 intact entries from the first entry/);
    assert.match(broken.stdout, new RegExp(`entry #${target} \\(position 2, .*okta: create User "x2@example.com"\\) was edited`));
  } finally {
    await other.drop();
  }
});

test('journal purge: removes old entries, journals itself, and verify still succeeds from the checkpoint', async () => {
  await new Promise((r) => setTimeout(r, 1100));
  const before = (await db.knex.raw(`SELECT count(*)::int AS n FROM journal`)).rows[0].n;
  const key = 'cli-test-key-'.padEnd(48, 'x');
  const purged = await roster(['journal', 'purge', '--older-than', '1s'], { ROSTER_JOURNAL_KEY: key });
  assert.match(purged.stdout, new RegExp(`Purged ${before} entries older than .* \\(through position ${before}\\); 1 signed checkpoint written`));
  const { rows } = await db.knex.raw(`SELECT actor, action, reason FROM journal ORDER BY id`);
  assert.equal(rows.length, 1);
  assert.equal(rows[0].action, 'journal.purge');
  assert.match(rows[0].actor, /^cli:/);
  assert.equal(rows[0].reason.entriesRemoved, before);
  const verified = await roster(['journal', 'verify'], { ROSTER_JOURNAL_KEY: key });
  assert.match(verified.stdout, new RegExp(`Journal verified: 1 entries checked from checkpoint #\\d+ \\(positions 1–${before} were purged`));
  const wrongKey = await failing(['journal', 'verify'], { ROSTER_JOURNAL_KEY: 'another-key-'.padEnd(48, 'y') });
  assert.equal(wrongKey.code, 1);
  assert.match(wrongKey.stdout, /set ROSTER_JOURNAL_KEY to the key in use when it was written/);
  const retention = await roster(['journal', 'purge'], { ROSTER_JOURNAL_KEY: key, ROSTER_JOURNAL_RETENTION_DAYS: '30' });
  assert.match(retention.stdout, /Nothing to purge: no entries older than/);
});
