/**
 * A sync job that ends under its lock completes itself and claims the next ready sync job in the
 * same round trip (decision 0707), so a worker with a backlog goes from job to job without
 * graphile-worker's get_job and complete_job. The promises stay: every change reaches the target
 * once, every link acknowledges it, every push is journaled under its own job's request id, and the
 * queue ends empty (no claimed job left locked).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker } from '../src/queue/queue.js';
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
