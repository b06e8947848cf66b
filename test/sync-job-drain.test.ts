/**
 * A sync job that ends under its lock completes itself and claims the next ready sync job in the
 * same round trip (decision 0707), so a worker with a backlog goes from job to job without
 * graphile-worker's get_job and complete_job. The promises stay: every change reaches the target
 * once, every link acknowledges it, every push is journaled under its own job's request id, and the
 * queue ends empty (no claimed job left locked).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { enqueue, queueConnectionString, startWorker } from '../src/queue/queue.js';
import { failClaimedJob, JobLease, releaseClaimedJob } from '../src/sync/job-drain.js';
import { enqueueSyncJobs } from '../src/sync/jobs.js';
import { createSyncWorker } from '../src/sync/worker.js';
import { startFaultTarget } from './support/fault-target.js';
import { PATCH_OP, USER_SCHEMA } from './support/server.js';
import { pendingJobs, startRosterA, waitFor } from './support/sync-harness.js';

const USERS = 12;

test('a backlog of updates: one worker drains it, claiming each next job with the last write of the one before', { timeout: 120_000 }, async () => {
  const t = await startFaultTarget();
  const a = await startRosterA([{ name: 'target', baseUrl: t.url, auth: { type: 'bearer', tokenEnv: 'TARGET_TOKEN' }, rateLimit: { concurrency: 1 } }], { TARGET_TOKEN: t.token });
  try {
    const ids: string[] = [];
    for (let i = 0; i < USERS; i++) {
      const created = await a.server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: `drain${i}@example.com`, title: 'Before' } });
      assert.equal(created.status, 201, created.text);
      ids.push(created.body.id as string);
    }
    await waitFor(() => t.users.size === USERS || undefined, 'the users on the target', 60_000);
    await waitFor(async () => (await pendingJobs(a.server.db.knex)) === 0, 'the queue drained');
    await a.stopWorker();

    // A backlog: one job per user, all ready before any worker runs.
    for (const id of ids) {
      const patched = await a.server.request('PATCH', `/Users/${id}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: 'After' }] } });
      assert.equal(patched.status, 200, patched.text);
    }
    assert.equal(await pendingJobs(a.server.db.knex), USERS);
    const patchesBefore = t.requests.filter((r) => r.method === 'PATCH').length;

    const sync = createSyncWorker({ db: a.syncDb, connectors: a.connectors, heartbeatMs: 500, staleMs: 3000 });
    const runner = await startWorker(a.server.db.url, sync.tasks, { concurrency: 1, pollInterval: 200 });
    let handedOver = 0;
    runner.events.on('job:start', ({ job }) => {
      if (job.task_identifier === 'roster.sync') handedOver++;
    });
    try {
      await waitFor(async () => (await pendingJobs(a.server.db.knex)) === 0, 'the backlog drained', 60_000);
    } finally {
      await runner.stop();
      await sync.stop();
    }

    // graphile-worker handed over the first job; the drain claimed the rest.
    assert.ok(handedOver <= 2, `graphile-worker started ${handedOver} of ${USERS} jobs itself`);
    assert.equal(t.requests.filter((r) => r.method === 'PATCH').length - patchesBefore, USERS, 'one PATCH per change');
    for (let i = 0; i < USERS; i++) assert.equal(t.userByName(`drain${i}@example.com`)?.title, 'After');
    const links = await a.server.db.knex('sync_links').where({ connector: 'target', resource_type: 'User' }).whereIn('resource_id', ids);
    assert.equal(links.length, USERS);
    for (const link of links) assert.equal(link.acknowledged.title, 'After');
    const { rows: pushes } = await a.server.db.knex.raw(
      `SELECT DISTINCT request_id FROM journal WHERE action = 'sync.push' AND changes->>'method' = 'PATCH' AND changes->>'outcome' = 'ok'`,
    );
    assert.equal(pushes.length, USERS, 'each push journaled under its own job');
    const { rows: jobs } = await a.server.db.knex.raw(`SELECT count(*)::int AS n FROM graphile_worker.jobs WHERE task_identifier = 'roster.sync'`);
    assert.equal(jobs[0].n, 0, 'no job left behind, locked or not');
    const { rows: outbox } = await a.server.db.knex.raw(`SELECT count(*)::int AS n FROM journal_outbox`);
    assert.equal(outbox[0].n, 0);
  } finally {
    await a.close();
    await t.close();
  }
});

test('a claimed job that will not run goes back to the queue; one that threw is failed with a back-off, as graphile-worker fails one', async () => {
  const a = await startRosterA([{ name: 'target', baseUrl: 'http://127.0.0.1:9/scim/v2', auth: { type: 'bearer', tokenEnv: 'TARGET_TOKEN' } }], { TARGET_TOKEN: 'unused' }, { worker: false });
  try {
    const db = a.server.db.knex;
    const ids = ['00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000003'];
    await enqueueSyncJobs(db, ids.map((id) => ({ connector: 'target', type: 'User' as const, id })));
    const jobs = async () =>
      (await db.raw(`SELECT id::text, locked_by, attempts, last_error, run_at > now() AS later FROM graphile_worker.jobs WHERE task_identifier = 'roster.sync' ORDER BY id`)).rows as Array<{
        id: string;
        locked_by: string | null;
        attempts: number;
        last_error: string | null;
        later: boolean;
      }>;
    const [first] = await jobs();
    // Pretend graphile-worker handed the first job to worker-test, as get_job does.
    await db.raw(`UPDATE graphile_worker._private_jobs SET locked_by = 'worker-test', locked_at = now(), attempts = 1 WHERE id = ?::bigint`, [first!.id]);

    // Completing it claims the next ready one for the same worker.
    const lease = new JobLease(db, 'worker-test', first!.id, true);
    await lease.settle();
    assert.ok(lease.completed);
    let now = await jobs();
    assert.equal(now.length, 2, 'the first job is gone');
    assert.equal(lease.next?.id, now[0]!.id);
    assert.deepEqual(lease.next?.payload, { connector: 'target', type: 'User', id: ids[1] });
    assert.equal(now[0]!.locked_by, 'worker-test');
    assert.equal(now[0]!.attempts, 1);

    // Not run after all: unlocked, its attempt undone.
    await releaseClaimedJob(db, 'worker-test', lease.next);
    now = await jobs();
    assert.equal(now[0]!.locked_by, null);
    assert.equal(now[0]!.attempts, 0);

    // Claimed again (one of the two ready jobs: they were queued in the same millisecond) and failed: unlocked, the error kept, run later.
    const again = new JobLease(db, 'worker-test', '0', true);
    await again.settle();
    const claimed = again.next!.id;
    assert.equal((await jobs()).find((j) => j.id === claimed)?.locked_by, 'worker-test');
    await failClaimedJob(db, 'worker-test', claimed, new Error('boom'));
    now = await jobs();
    const failed = now.find((j) => j.id === claimed)!;
    assert.equal(failed.locked_by, null);
    assert.match(failed.last_error ?? '', /boom/);
    assert.equal(failed.later, true);
    // A worker that does not hold a job cannot release or fail it.
    const other = now.find((j) => j.id !== claimed)!;
    await releaseClaimedJob(db, 'worker-other', { id: other.id, payload: {} });
    await failClaimedJob(db, 'worker-other', other.id, new Error('not mine'));
    await db.raw(`UPDATE graphile_worker._private_jobs SET locked_by = 'worker-test', locked_at = now() WHERE id = ?::bigint`, [other.id]);
    await releaseClaimedJob(db, 'worker-other', { id: other.id, payload: {} });
    await failClaimedJob(db, 'worker-other', other.id, new Error('not mine'));
    const held = (await jobs()).find((j) => j.id === other.id)!;
    assert.equal(held.locked_by, 'worker-test');
    assert.equal(held.last_error, null);
  } finally {
    await a.close();
  }
});

test("graphile-worker's own connections commit asynchronously; Roster's keep synchronous commits", async () => {
  const url = 'postgres://u@127.0.0.1:5432/db?options=-c%20statement_timeout%3D5000';
  assert.equal(new URL(queueConnectionString(url)).searchParams.get('options'), '-c statement_timeout=5000 -c synchronous_commit=off');
  const a = await startRosterA([{ name: 'target', baseUrl: 'http://127.0.0.1:9/scim/v2', auth: { type: 'bearer', tokenEnv: 'TARGET_TOKEN' } }], { TARGET_TOKEN: 'unused' }, { worker: false });
  let seen: string | undefined;
  const runner = await startWorker(a.server.db.url, {
    'test.show': async (_payload, helpers) => {
      seen = (await helpers.withPgClient((client) => client.query('SHOW synchronous_commit'))).rows[0].synchronous_commit;
    },
  });
  try {
    await enqueue(a.server.db.knex, 'test.show', {});
    await waitFor(() => seen, 'the task ran', 20_000);
    assert.equal(seen, 'off');
    const { rows } = await a.server.db.knex.raw('SHOW synchronous_commit');
    assert.equal(rows[0].synchronous_commit, 'on');
  } finally {
    await runner.stop();
    await a.close();
  }
});
