/**
 * Outbound sync across real processes: `roster sync worker` child processes on one database.
 *  - three workers: every change reaches the target once, in order per resource, and the
 *    connector's concurrency limit holds across the processes;
 *  - a worker killed with SIGKILL in the middle of a sync, and a new one started: converges with
 *    no duplicate remote account (the in-flight create is found by externalId, not sent again).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createUser, patchUser } from '../src/resources/users.js';
import { parseConnectors } from '../src/sync/config.js';
import { ConnectorSet } from '../src/sync/connector.js';
import { composeWritePath } from '../src/compose/write-path.js';
import type { WritePath } from '../src/write/write-path.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { startFaultTarget, type FaultTarget } from './support/fault-target.js';
import { USER_SCHEMA } from './support/server.js';
import { pendingJobs, waitFor } from './support/sync-harness.js';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

const children = new Set<ChildProcess>();
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

const ROOT = path.resolve(HERE, '..');

async function setup(connector: Record<string, unknown>): Promise<{ db: TestDatabase; t: FaultTarget; writePath: WritePath; env: NodeJS.ProcessEnv }> {
  const db = await createTestDatabase();
  const t = await startFaultTarget({ recordBodies: true });
  cleanups.push(() => db.drop(), () => t.close());
  const raw = { name: 'target', baseUrl: t.url, auth: { type: 'bearer', tokenEnv: 'TARGET_TOKEN' }, retry: { baseDelay: '100ms', maxDelay: '1s' }, ...connector };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-sync-'));
  const file = path.join(dir, 'connectors.yaml');
  fs.writeFileSync(file, JSON.stringify({ connectors: [raw] })); // JSON is YAML
  cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  const writePath = composeWritePath(db.knex, { policy: false, connectors: ConnectorSet.fromConfig(parseConnectors({ connectors: [raw] }, { TARGET_TOKEN: t.token })) });
  const env = { ...process.env, DATABASE_URL: db.url, ROSTER_CONNECTORS_FILE: file, TARGET_TOKEN: t.token, LOG_LEVEL: 'error' };
  return { db, t, writePath, env };
}

/**
 * The sync jobs each worker process ran, by OS pid, read from the process's own stderr: at
 * LOG_LEVEL=debug graphile-worker logs "Completed task <job id> (roster.sync, …)" (or "Failed task")
 * through Roster's logger. Nothing in the database tells processes apart (worker ids are random per
 * worker, request ids are job-<id>, the actor is connector:<name>), so this is the process identity.
 */
const syncJobsByPid = new Map<number, Set<string>>();
/** What each worker process printed on stdout ("Sync worker running …" once it takes jobs). */
const stdoutByPid = new Map<number, string>();

function startWorkerProcess(env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'sync', 'worker'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  const jobs = new Set<string>();
  syncJobsByPid.set(child.pid!, jobs);
  let partial = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (process.env.SYNC_TEST_DEBUG) process.stderr.write(d);
    const lines = (partial + d.toString('utf8')).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      let message: unknown;
      try {
        message = (JSON.parse(line) as { message?: unknown }).message;
      } catch {
        continue;
      }
      const ran = typeof message === 'string' ? /^(?:Completed|Failed) task (\d+) \(roster\.sync\b/.exec(message) : null;
      if (ran) jobs.add(ran[1]!);
    }
  });
  child.stdout?.on('data', (d: Buffer) => stdoutByPid.set(child.pid!, (stdoutByPid.get(child.pid!) ?? '') + d.toString('utf8')));
  return child;
}

const actor = { name: 'test', source: 'cli' as const, requestId: 'test' };

test('three worker processes: each change applied once and in order per resource, concurrency held', { timeout: 200_000 }, async () => {
  const { db, t, writePath, env } = await setup({ rateLimit: { concurrency: 3 } });
  // Debug level so that each process logs the jobs it ran (see syncJobsByPid).
  const workers = Array.from({ length: 3 }, () => startWorkerProcess({ ...env, LOG_LEVEL: 'debug', NO_LOG_SUCCESS: '' }));
  // All three take jobs before the first change is written, so one that boots faster cannot do it all alone.
  await waitFor(() => workers.every((w) => stdoutByPid.get(w.pid!)?.includes('Sync worker running')), 'the three worker processes running', 60_000);
  const ids: string[] = [];
  for (let i = 0; i < 15; i++) {
    ids.push((await writePath.run(actor, (c) => createUser(c, { schemas: [USER_SCHEMA], userName: `p${i}@example.com`, title: 'v00' }))).id);
  }
  // Ten versions per user, written as fast as the database takes them.
  for (let v = 1; v <= 10; v++) {
    await Promise.all(
      ids.map((id) =>
        writePath.run(actor, (c) => patchUser(c, id, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'title', value: `v${String(v).padStart(2, '0')}` }] }, {})),
      ),
    );
  }
  if (process.env.SYNC_TEST_DEBUG) {
    const timer = setInterval(async () => {
      const { rows } = await db.knex.raw(`SELECT key, run_at, locked_at, locked_by, attempts, last_error FROM graphile_worker.jobs ORDER BY run_at LIMIT 3`);
      console.log(t.users.size, [...t.users.values()].map((u) => u.title).join(','), JSON.stringify(rows));
    }, 3000);
    cleanups.push(async () => clearInterval(timer));
  }
  await waitFor(() => ids.length === t.users.size && [...t.users.values()].every((u) => u.title === 'v10'), 'every user at v10 on the target', 150_000);
  await waitFor(async () => (await pendingJobs(db.knex)) === 0, 'queue drained', 30_000);

  const byRemote = new Map<string, string[]>();
  for (const r of t.requests) {
    if (r.method === 'PATCH' && r.status === 200) {
      const id = r.path.split('/')[2]!;
      const title = (r.body as { Operations: Array<{ path: string; value: string }> }).Operations.find((op) => op.path === 'title')?.value;
      if (title) byRemote.set(id, [...(byRemote.get(id) ?? []), title]);
    }
  }
  for (const [id, titles] of byRemote) {
    const sorted = [...titles].sort();
    assert.deepEqual(titles, sorted, `titles for ${id} arrived in order`);
    assert.equal(new Set(titles).size, titles.length, `no title for ${id} was sent twice`);
  }
  assert.equal(t.requests.filter((r) => r.method === 'POST').length, 15, 'one create per user');
  assert.ok(t.maxInFlight <= 3, `at most 3 requests in flight across processes, saw ${t.maxInFlight}`);
  // Workers append push entries in the background (decision 0206): they follow the drained queue shortly.
  await waitFor(async () => (await db.knex.raw(`SELECT count(*)::int AS total FROM journal WHERE action = 'sync.push'`)).rows[0].total >= 15 || undefined, 'the pushes journaled', 10_000);
  // Work spread over the processes: attribute every successful push (journaled with its job's
  // request id, job-<id>) to the OS process that ran the job, and count distinct pids. (Counting
  // sync_worker_heartbeats rows would not do: one process has one worker id per concurrent worker.)
  const sent = t.requests.filter((r) => (r.method === 'POST' || r.method === 'PATCH') && r.status >= 200 && r.status < 300).length;
  const pushesByPid = await waitFor(async () => {
    const { rows } = (await db.knex.raw(
      `SELECT request_id FROM journal WHERE action = 'sync.push' AND changes->>'outcome' = 'ok' AND changes->>'method' IN ('POST', 'PATCH')`,
    )) as { rows: Array<{ request_id: string }> };
    if (rows.length < sent) return undefined; // the background appenders are still catching up
    const byPid = new Map<number, number>();
    for (const { request_id: requestId } of rows) {
      const jobId = requestId.replace(/^job-/, '');
      const pid = workers.map((w) => w.pid!).find((p) => syncJobsByPid.get(p)?.has(jobId));
      if (pid === undefined) return undefined; // that process's log line has not arrived yet
      byPid.set(pid, (byPid.get(pid) ?? 0) + 1);
    }
    return byPid;
  }, 'every push journaled and attributed to one of the worker processes', 10_000);
  assert.equal([...pushesByPid.values()].reduce((n, m) => n + m, 0), sent, 'one journaled push per request the target accepted');
  assert.ok(pushesByPid.size >= 2, `pushes came from at least two OS processes: ${JSON.stringify([...pushesByPid])} (pid, pushes)`);
});

test('a worker killed with SIGKILL mid-sync, then restarted: converges with no duplicate account', { timeout: 120_000 }, async () => {
  const { db, t, writePath, env } = await setup({ rateLimit: { concurrency: 4 } });
  // Every answer is slow, so the kill lands while creates are in flight at the target.
  t.down({ kind: 'slow', ms: 400 });
  const first = startWorkerProcess(env);
  const names = Array.from({ length: 30 }, (_, i) => `k${i}@example.com`);
  for (const userName of names) await writePath.run(actor, (c) => createUser(c, { schemas: [USER_SCHEMA], userName }));
  await waitFor(() => t.users.size >= 6 && t.inFlightNow() >= 1, 'some users on the target and creates in flight', 60_000);
  // Kill while requests are in flight: the target has received creates whose answers never arrive.
  first.kill('SIGKILL');
  await new Promise((resolve) => first.once('exit', resolve));
  const receivedBeforeKill = t.users.size;
  assert.ok(receivedBeforeKill < names.length, 'killed in the middle');
  const { rows: inFlight } = await db.knex.raw(`SELECT count(*)::int AS n FROM sync_links WHERE state = 'creating'`);
  t.up();
  startWorkerProcess(env);
  await waitFor(() => names.every((n) => t.userByName(n)), 'every user on the target after the restart', 90_000);
  await waitFor(async () => (await pendingJobs(db.knex)) === 0, 'queue drained', 60_000);
  for (const name of names) assert.equal([...t.users.values()].filter((u) => u.userName === name).length, 1, `${name} exactly once`);
  assert.equal(t.requests.filter((r) => r.method === 'POST' && r.status === 409).length, 0, 'no create was sent twice');
  const { rows } = await db.knex.raw(`SELECT count(*)::int AS n FROM sync_links WHERE state = 'active' AND remote_id IS NOT NULL`);
  assert.equal(rows[0].n, names.length);
  assert.ok(inFlight[0].n >= 1, 'the kill left creates in flight, which the restart resolved');
});
