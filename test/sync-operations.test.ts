/**
 * Outbound sync features that run without any change in Roster: the scheduled full reconciliation
 * (`reconcile: { every: … }`) repairing drift made on the target behind Roster's back, and
 * `roster sync retry` pushing parked objects again (all of a connector's, or one with --id), run
 * as the real CLI against Roster A's database and a real target on loopback; and the worker's
 * background journal appender.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { listParked } from '../src/sync/parked.js';
import { JournalBatcher } from '../src/sync/push-journal.js';
import { createTestDatabase } from './support/database.js';
import { startFaultTarget } from './support/fault-target.js';
import { USER_SCHEMA } from './support/server.js';
import { startRosterA, waitFor, type RosterA } from './support/sync-harness.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const createUser = (a: RosterA, userName: string, extra: Record<string, unknown> = {}) =>
  a.server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName, ...extra } }).then((r) => {
    assert.equal(r.status, 201, r.text);
    return r.body.id as string;
  });

test('reconcile.every: a scheduled full sync repairs drift on the target without any change in Roster, and schedules the next', async () => {
  const t = await startFaultTarget();
  const a = await startRosterA(
    [
      { name: 'target', baseUrl: t.url, auth: { type: 'bearer', tokenEnv: 'T' }, reconcile: { every: '1s' } },
      { name: 'unscheduled', baseUrl: t.url, auth: { type: 'bearer', tokenEnv: 'T' }, users: { filter: 'userName eq "nobody@example.com"' } },
    ],
    { T: t.token },
  );
  try {
    const knex = a.server.db.knex;
    await createUser(a, 'kept@example.com', { title: 'Controller' });
    await createUser(a, 'deleted@example.com');
    await waitFor(() => t.userByName('kept@example.com') && t.userByName('deleted@example.com'), 'both users on the target');
    // Someone edits the target directly: one title changed, one account deleted. Roster sees nothing.
    const kept = t.userByName('kept@example.com')!;
    kept.title = 'Changed on the target';
    t.users.delete(t.userByName('deleted@example.com')!.id as string);
    const journalBefore = (await knex.raw(`SELECT count(*)::int AS n FROM journal WHERE action = 'sync.full'`)).rows[0].n as number;

    await waitFor(() => t.userByName('deleted@example.com'), 'the deleted account re-created by the scheduled reconciliation', 20_000);
    await waitFor(() => t.userByName('kept@example.com')?.title === 'Controller' || undefined, 'the changed title repaired', 20_000);
    assert.equal(t.userByName('kept@example.com')!.id, kept.id, 'repaired in place, not duplicated');
    // The run's summary entry is written when the run ends, a moment after its last repair.
    const runs = await waitFor(async () => {
      const { rows } = await knex.raw(`SELECT request_id, changes FROM journal WHERE action = 'sync.full' ORDER BY seq`);
      return rows.length > journalBefore ? rows : undefined;
    }, 'the run is journaled', 20_000);
    assert.ok(runs.every((r: { request_id: string }) => r.request_id.startsWith('reconcile-')), 'by the scheduled reconciliation');
    assert.ok(runs.every((r: { changes: { connector: string } }) => r.changes.connector === 'target'), 'only for the connector that asked for it');

    // It schedules itself again, one job per connector, about `every` ahead.
    const scheduled = await waitFor(async () => {
      const { rows } = await knex.raw(`SELECT key, run_at FROM graphile_worker.jobs WHERE task_identifier = 'roster.sync.reconcile' AND locked_at IS NULL`);
      return rows.length > 0 ? (rows as Array<{ key: string; run_at: Date }>) : undefined;
    }, 'the next reconciliation scheduled');
    assert.deepEqual(
      scheduled.map((r) => r.key),
      ['reconcile:target'],
    );
    assert.ok(scheduled[0]!.run_at.getTime() <= Date.now() + 1500, 'about one interval ahead');
    const countNow = runs.length;
    await waitFor(async () => (await knex.raw(`SELECT count(*)::int AS n FROM journal WHERE action = 'sync.full'`)).rows[0].n > countNow || undefined, 'a later run', 20_000);
  } finally {
    await a.close();
    await t.close();
  }
});

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

test('sync retry: parked objects are pushed again on demand (one with --id, then all), and stay parked while still rejected', { timeout: 120_000 }, async () => {
  const t = await startFaultTarget();
  const a = await startRosterA([{ name: 'target', baseUrl: t.url, auth: { type: 'bearer', tokenEnv: 'T' } }], { T: t.token });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-retry-'));
  try {
    const knex = a.server.db.knex;
    // The target refuses two accounts (say, a domain it does not accept yet).
    t.reject((method, _path, body) => method === 'POST' && String(body?.userName).endsWith('@new.example.com'));
    const first = await createUser(a, 'first@new.example.com');
    const second = await createUser(a, 'second@new.example.com');
    await waitFor(async () => ((await listParked(knex, 'target')).length === 2 ? true : undefined), 'both parked');
    // Nothing changes in Roster from here on, and no worker runs: only the CLI can push them.
    await a.stopWorker();

    const file = path.join(dir, 'connectors.yaml');
    fs.writeFileSync(file, `connectors:\n  - name: target\n    baseUrl: ${t.url}\n    auth: { type: bearer, tokenEnv: T }\n`);
    const env = { ...process.env, DATABASE_URL: a.server.db.url, ROSTER_CONNECTORS_FILE: file, T: t.token, LOG_LEVEL: 'error' };

    const still = await runCli(['sync', 'retry', 'target'], env);
    assert.equal(still.code, 0, still.stderr);
    assert.match(still.stdout, /still rejected: User/);
    assert.match(still.stdout, /Retried 2: 0 pushed, 2 parked again, 0 deferred/);
    assert.equal((await listParked(knex, 'target')).length, 2, 'still parked');
    assert.equal(t.userByName('first@new.example.com'), undefined);

    // The target now accepts them. Retry one object only.
    t.reject(() => false);
    const one = await runCli(['sync', 'retry', 'target', '--id', first.toUpperCase()], env);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /Retried 1: 1 pushed, 0 parked again, 0 deferred/);
    assert.ok(t.userByName('first@new.example.com'), 'the chosen object was pushed');
    assert.equal(t.userByName('second@new.example.com'), undefined, 'the other one was not');
    assert.deepEqual(
      (await listParked(knex, 'target')).map((p) => p.resourceId),
      [second],
    );

    const all = await runCli(['sync', 'retry'], env);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /Retried 1: 1 pushed/);
    assert.ok(t.userByName('second@new.example.com'));
    assert.equal((await listParked(knex, 'target')).length, 0, 'nothing parked any more');
    assert.equal([...t.users.values()].filter((u) => String(u.userName).endsWith('@new.example.com')).length, 2, 'each created once');
    const { rows: unparked } = await knex.raw(`SELECT resource_id FROM journal WHERE action = 'sync.unparked' ORDER BY seq`);
    assert.deepEqual(
      unparked.map((r: { resource_id: string }) => r.resource_id),
      [first, second],
    );

    const unknown = await runCli(['sync', 'retry', 'nope'], env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /No connector named "nope"/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    await a.close();
    await t.close();
  }
});

test("the worker's journal appender: entries wait durably in journal_outbox, go onto the chain in batches with their own request ids; a row the journal refuses stays in the outbox, the rest go on", async () => {
  const db = await createTestDatabase();
  try {
    const batcher = new JournalBatcher(db.knex, 'target', 10);
    const entry = (id: number, detail = 'ok') => ({ action: 'sync.push', changes: { connector: 'target', method: 'PATCH', path: `/Users/${id}`, detail } });
    const appended = async () =>
      (await db.knex.raw(`SELECT request_id, changes->>'path' AS path FROM journal WHERE action = 'sync.push' ORDER BY seq`)).rows as Array<{ request_id: string; path: string }>;
    const outbox = async () => (await db.knex('journal_outbox').select('request_id', 'failures', 'last_error').orderBy('id')) as Array<{ request_id: string; failures: number; last_error: string | null }>;
    // Three jobs finish at once; each entry keeps its job's request id.
    await Promise.all([batcher.append('job-1', [entry(1)]), batcher.append('job-2', [entry(2)]), batcher.append('job-3', [entry(3)])]);
    await batcher.drained();
    assert.deepEqual((await appended()).map((r) => `${r.request_id} ${r.path}`).sort(), ['job-1 /Users/1', 'job-2 /Users/2', 'job-3 /Users/3']);
    assert.deepEqual(await outbox(), []);

    // One job's entry cannot be stored in the journal (jsonb refuses \u0000): it stays in the outbox
    // with its error after its retries; the others are appended.
    await Promise.all([batcher.append('job-4', [entry(4)]), batcher.append('job-5', [entry(5, 'bad\u0000')]), batcher.append('job-6', [entry(6)])]);
    await batcher.append('job-7', [entry(7)]);
    await batcher.drained();
    assert.deepEqual((await appended()).map((r) => r.path).sort(), ['/Users/1', '/Users/2', '/Users/3', '/Users/4', '/Users/6', '/Users/7']);
    const left = await outbox();
    assert.equal(left.length, 1);
    assert.equal(left[0]!.request_id, 'job-5');
    assert.equal(left[0]!.failures, 5);
    assert.match(left[0]!.last_error ?? '', /\\u0000|unicode|Unicode/);

    // A process killed after its job wrote to the outbox, before the append: the next appender
    // (any process, e.g. at worker start) moves the entries onto the chain.
    await db.knex('journal_outbox').insert({ actor: 'connector:target', source: 'sync', request_id: 'job-8', entries: JSON.stringify([entry(8)]) });
    const next = new JournalBatcher(db.knex, 'target', 10);
    next.kick();
    await next.drained();
    assert.ok((await appended()).some((r) => r.request_id === 'job-8' && r.path === '/Users/8'));
  } finally {
    await db.drop();
  }
});
