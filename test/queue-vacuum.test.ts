/**
 * The job table's own vacuum (src/queue/queue-vacuum.ts, decision 0709), on real PostgreSQL with
 * graphile-worker's schema: after jobs have come and gone, the dead rows are vacuumed away and the
 * claim of the next job reads fewer pages; with few dead rows it leaves the table alone.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { QueueVacuum } from '../src/queue/queue-vacuum.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await db?.drop();
});

const deadRows = async (): Promise<number> => {
  const { rows } = await db.knex.raw(`SELECT n_dead_tup::int AS dead FROM pg_stat_user_tables WHERE schemaname = 'graphile_worker' AND relname = '_private_jobs'`);
  return rows[0]?.dead ?? 0;
};

/** The pages the ready-job claim reads (its shape as job-drain.ts sends it). */
const claimPages = async (): Promise<number> => {
  const { rows } = await db.knex.raw(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)
    SELECT id FROM graphile_worker._private_jobs WHERE is_available = true AND job_queue_id IS NULL AND run_at <= now()
     ORDER BY priority ASC, run_at ASC LIMIT 1 FOR UPDATE SKIP LOCKED`);
  const plan = rows[0]['QUERY PLAN'][0].Plan as { 'Shared Hit Blocks': number; 'Shared Read Blocks': number };
  return plan['Shared Hit Blocks'] + plan['Shared Read Blocks'];
};

async function churnJobs(count: number): Promise<void> {
  // Jobs that come (add_jobs) and go (deleted as complete_job deletes them), as sync jobs do.
  await db.knex.raw(
    `SELECT count(*) FROM graphile_worker.add_jobs(ARRAY(SELECT ROW('vacuum.test', json_build_object('n', n), NULL, now(), 25, NULL, 0, NULL)::graphile_worker.job_spec FROM generate_series(1, ?) AS n))`,
    [count],
  );
  await db.knex.raw(`UPDATE graphile_worker._private_jobs SET locked_at = now(), locked_by = 'test'`);
  await db.knex.raw(`DELETE FROM graphile_worker._private_jobs`);
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('few dead rows: the table is left alone', async () => {
  await churnJobs(50);
  assert.equal(await new QueueVacuum(db.knex, { deadRows: 1000 }).tick(), false);
});

test('after thousands of jobs came and went, one tick vacuums them away and the next claim reads fewer pages', async () => {
  await churnJobs(3000);
  await until(async () => (await deadRows()) >= 1000, 'the statistics count the dead rows');
  const before = await claimPages();
  const vacuum = new QueueVacuum(db.knex, { deadRows: 1000 });
  assert.equal(await vacuum.tick(), true);
  await until(async () => (await deadRows()) < 1000, 'the statistics see the vacuum');
  const afterVacuum = await claimPages();
  assert.ok(afterVacuum < before, `the claim read ${before} pages before and ${afterVacuum} after`);
  assert.equal(await vacuum.tick(), false, 'nothing left to vacuum');
});
