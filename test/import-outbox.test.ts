/**
 * `roster import` from the command line uses the server's write-path hooks: with connectors
 * configured (ROSTER_CONNECTORS_FILE), every user the import creates or changes gets its connector
 * push queued in the same transaction, as it would through the API; without connectors, none is.
 * Real processes, real PostgreSQL; no worker runs, so the jobs stay queued.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { syncJobKey } from '../src/sync/jobs.js';
import { pendingJobs } from './support/sync-harness.js';

const run = promisify(execFile);
let db: TestDatabase;
let tmp: string;
before(async () => {
  db = await createTestDatabase();
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'roster-import-outbox-'));
});
after(async () => {
  await db.drop();
  await fs.rm(tmp, { recursive: true, force: true });
});

const roster = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'error', USER: 'tester', ROSTER_CONNECTORS_FILE: '', ...env },
    maxBuffer: 20_000_000,
  });

test('a CLI import queues connector pushes when connectors are configured, and none without', async () => {
  const lines = (await fs.readFile('examples/hr-sample.csv', 'utf8')).split('\n');
  const first = path.join(tmp, 'first.csv');
  const second = path.join(tmp, 'second.csv');
  await fs.writeFile(first, `${lines.slice(0, 21).join('\n')}\n`); // header + 20 people
  await fs.writeFile(second, `${lines.slice(0, 41).join('\n')}\n`); // the same 20 + 20 more
  const connectors = path.join(tmp, 'connectors.yaml');
  // JSON is YAML. The target is never called: no worker runs in this test.
  await fs.writeFile(connectors, JSON.stringify({ connectors: [{ name: 'target', baseUrl: 'http://127.0.0.1:9/scim/v2', auth: { type: 'bearer', tokenEnv: 'TARGET_TOKEN' } }] }));

  const plain = await roster(['import', first]);
  assert.match(plain.stdout, /20 created/);
  assert.equal(await pendingJobs(db.knex), 0, 'no connectors: nothing queued');

  const synced = await roster(['import', second], { ROSTER_CONNECTORS_FILE: connectors, TARGET_TOKEN: 'secret' });
  assert.match(synced.stdout, /20 created, 0 updated, 20 unchanged/);
  // One job per user the second import created (the 20 it left unchanged have none), keyed by
  // connector and user, as the API's write path queues them.
  const { rows: users } = (await db.knex.raw(
    `SELECT id, resource->'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'->>'employeeNumber' AS number FROM users`,
  )) as { rows: Array<{ id: string; number: string }> };
  const { rows: jobs } = (await db.knex.raw(`SELECT key FROM graphile_worker.jobs WHERE task_identifier = 'roster.sync'`)) as { rows: Array<{ key: string }> };
  const keys = new Set(jobs.map((j) => j.key));
  const secondOnly = new Set(lines.slice(21, 41).map((line) => line.split(',')[0]!.trim().toLowerCase()));
  const queued = users.filter((u) => keys.has(syncJobKey('target', 'User', u.id)));
  assert.equal(queued.length, 20, 'a push queued for each user the second import created');
  assert.ok(queued.every((u) => secondOnly.has(u.number.toLowerCase())), 'and none for the unchanged ones');
  assert.equal(await pendingJobs(db.knex), 20);
});
