/**
 * Initial sync and reconciliation against Roster B (a real SCIM server): adoption of accounts B
 * already had, drift found (report only changes nothing) and repaired, unmanaged accounts left
 * alone; dry run sending nothing; the mass-change guard pausing a connector until approved; and
 * the CLI around it (`sync --full`, `connectors status`, `sync approve`, `sync parked`).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { approveConnector } from '../src/sync/connector-state.js';
import { fullSync } from '../src/sync/full-sync.js';
import { wakeConnectorJobs } from '../src/sync/jobs.js';
import { connectorStatuses } from '../src/sync/status.js';
import { startFaultTarget } from './support/fault-target.js';
import { GROUP_SCHEMA, PATCH_OP, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';
import { pendingJobs, startRosterA, waitFor, type RosterA } from './support/sync-harness.js';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

let b: TestServer;
let a: RosterA;
const connectorRaw = () => ({
  name: 'roster-b',
  baseUrl: b.scimUrl,
  auth: { type: 'bearer', tokenEnv: 'B_TOKEN' },
  groups: { names: ['Finance'] },
  matchOn: 'userName',
  retry: { baseDelay: '100ms', maxDelay: '1s' },
});

before(async () => {
  b = await startTestServer();
  // A's worker stays off: this file drives the full sync itself.
  a = await startRosterA([connectorRaw()], { B_TOKEN: b.token }, { worker: false });
});
after(async () => {
  await a?.close();
  await b?.close();
});

const onB = async (userName: string) => (await b.request('GET', `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`)).body.Resources[0];

test('initial sync adopts existing accounts, creates the rest, and leaves unmanaged accounts alone', async () => {
  // B already has carol (created by someone else) and an account Roster does not know.
  const carolOnB = (await b.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'carol@example.com', title: 'Old title' } })).body;
  await b.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'stranger@example.com' } });
  const carol = (await a.server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'carol@example.com', title: 'Controller' } })).body.id;
  const dave = (await a.server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'dave@example.com', title: 'Analyst' } })).body.id;
  await a.server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'Finance', members: [{ value: carol }, { value: dave }] } });

  const connector = a.connectors.get('roster-b')!;
  const progress: string[] = [];
  const report = await fullSync(a.syncDb, connector, { reportOnly: false, onProgress: (p) => progress.push(p.phase) });
  assert.equal(report.adopted.users, 1, 'carol adopted');
  assert.equal(report.toCreate.users, 1, 'dave created');
  assert.equal(report.toCreate.groups, 1);
  assert.equal(report.unmanaged.userCount, 1);
  assert.deepEqual(report.unmanaged.users, ['stranger@example.com']);
  assert.ok(progress.includes('syncing users'));

  const carolNow = await onB('carol@example.com');
  assert.equal(carolNow.id, carolOnB.id, 'the existing account was adopted, not duplicated');
  assert.equal(carolNow.title, 'Controller', 'and brought to the desired state');
  assert.equal(carolNow.externalId, carol);
  assert.ok(await onB('dave@example.com'));
  assert.ok(await onB('stranger@example.com'), 'an unmanaged account is never touched');
  const finance = (await b.request('GET', `/Groups?filter=${encodeURIComponent('displayName eq "Finance"')}`)).body.Resources[0];
  assert.equal(finance.members.length, 2);
  const { rows } = await a.server.db.knex.raw(`SELECT changes FROM journal WHERE action = 'sync.full'`);
  assert.equal(rows.length, 1);
  assert.equal(rows[0].changes.adopted.users, 1);
});

test('drift is reported without changes under --report-only, then repaired', async () => {
  const carolOnB = await onB('carol@example.com');
  const daveOnB = await onB('dave@example.com');
  const finance = (await b.request('GET', `/Groups?filter=${encodeURIComponent('displayName eq "Finance"')}`)).body.Resources[0];
  // Someone edits the target directly: a title, a membership, and deletes an account.
  await b.request('PATCH', `/Users/${carolOnB.id}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: 'Changed on B' }] } });
  await b.request('PATCH', `/Groups/${finance.id}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: `members[value eq "${carolOnB.id}"]` }] } });
  await b.request('DELETE', `/Users/${daveOnB.id}`);

  const connector = a.connectors.get('roster-b')!;
  const before = (await b.db.knex.raw(`SELECT count(*)::int AS n FROM journal`)).rows[0].n;
  const report = await fullSync(a.syncDb, connector, { reportOnly: true });
  const kinds = report.drift.map((d) => `${d.type}:${d.name}:${d.kind}`).sort();
  assert.deepEqual(kinds, ['Group:Finance:members', 'User:carol@example.com:attributes', 'User:dave@example.com:missing-remotely']);
  assert.deepEqual(report.drift.find((d) => d.kind === 'attributes')?.attributes, ['title']);
  assert.equal((await b.db.knex.raw(`SELECT count(*)::int AS n FROM journal`)).rows[0].n, before, 'report-only changed nothing on B');

  const repaired = await fullSync(a.syncDb, connector, { reportOnly: false });
  assert.equal(repaired.drift.length, 3);
  assert.equal((await onB('carol@example.com')).title, 'Controller');
  assert.ok(await onB('dave@example.com'), 'dave re-created');
  const financeNow = (await b.request('GET', `/Groups/${finance.id}`)).body;
  assert.equal(financeNow.members.length, 2, 'membership repaired');
  const again = await fullSync(a.syncDb, connector, { reportOnly: true });
  assert.equal(again.drift.length, 0, 'nothing left to repair');
});

test('dry run journals the exact requests and sends none', async () => {
  const t = await startFaultTarget();
  const dry = await startRosterA([{ name: 'dry', baseUrl: t.url, auth: { type: 'bearer', tokenEnv: 'T' }, dryRun: true }], { T: t.token });
  try {
    const id = (await dry.server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'dry@example.com', title: 'Preview' } })).body.id;
    const entry = await waitFor(async () => (await dry.server.db.knex.raw(`SELECT changes FROM journal WHERE action = 'sync.dry-run' AND resource_id = ?`, [id])).rows[0], 'the dry-run entry');
    assert.equal(entry.changes.method, 'POST');
    assert.equal(entry.changes.path, '/Users');
    assert.equal(entry.changes.body.userName, 'dry@example.com');
    assert.equal(entry.changes.body.title, 'Preview');
    await waitFor(async () => (await pendingJobs(dry.server.db.knex)) === 0, 'queue drained');
    assert.equal(t.requests.length, 0, 'nothing was sent');
    const [status] = await connectorStatuses(dry.server.db.knex, dry.connectors);
    assert.equal(status!.dryRun, true);
  } finally {
    await dry.close();
    await t.close();
  }
});

test('the mass-change guard pauses a connector until approved', async () => {
  const t = await startFaultTarget();
  const g = await startRosterA([{ name: 'guarded', baseUrl: t.url, auth: { type: 'bearer', tokenEnv: 'T' }, deprovision: 'delete', guard: { maxDeprovisions: 2 } }], { T: t.token });
  try {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await g.server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: `g${i}@example.com` } })).body.id);
    await waitFor(() => t.users.size === 6, 'six users on the target');
    // An empty HR feed: everyone leaves at once.
    for (const id of ids) await g.server.request('DELETE', `/Users/${id}`);
    await waitFor(async () => (await connectorStatuses(g.server.db.knex, g.connectors))[0]!.paused, 'the connector paused');
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(t.users.size, 4, 'only the two deprovisions the guard admits were sent');
    const [status] = await connectorStatuses(g.server.db.knex, g.connectors);
    assert.match(status!.paused!.reason!, /mass-change guard/);
    assert.ok(status!.queueDepth >= 1, 'the rest wait in the queue');

    assert.equal(await approveConnector(g.server.db.knex, 'guarded'), true);
    await wakeConnectorJobs(g.server.db.knex, 'guarded');
    await waitFor(() => t.users.size <= 2, 'the next deletions after approval', 20_000);
  } finally {
    await g.close();
    await t.close();
  }
});

test('CLI: sync --full prints a report, connectors status shows the connector, errors say what to do', { timeout: 120_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-cli-'));
  const file = path.join(dir, 'connectors.yaml');
  fs.writeFileSync(file, `connectors:\n  - name: roster-b\n    baseUrl: ${b.scimUrl}\n    auth: { type: bearer, tokenEnv: B_TOKEN }\n    groups: { names: [Finance] }\n`);
  const env = { ...process.env, DATABASE_URL: a.server.db.url, ROSTER_CONNECTORS_FILE: file, B_TOKEN: b.token, LOG_LEVEL: 'error' };
  const run = (args: string[], extraEnv: Record<string, string> = {}) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: path.resolve(HERE, '..'), env: { ...env, ...extraEnv } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d));
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
  try {
    const full = await run(['sync', 'roster-b', '--full', '--report-only']);
    assert.equal(full.code, 0, full.stderr);
    assert.match(full.stdout, /Connector roster-b: report only/);
    assert.match(full.stdout, /not managed by Roster: 1 users/);
    const status = await run(['connectors', 'status', '--json']);
    assert.equal(status.code, 0, status.stderr);
    const parsed = JSON.parse(status.stdout);
    assert.equal(parsed[0].name, 'roster-b');
    assert.equal(parsed[0].dryRun, false);
    assert.ok(!status.stdout.includes(b.token), 'no secret in the status');
    const unknown = await run(['sync', 'nope', '--full']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /No connector named "nope".*configured: roster-b/);
    const missingSecret = await run(['connectors', 'status'], { B_TOKEN: '' });
    assert.equal(missingSecret.code, 2);
    assert.match(missingSecret.stderr, /connector roster-b: auth\.tokenEnv: environment variable B_TOKEN is not set/);
    const parked = await run(['sync', 'parked', 'roster-b']);
    assert.match(parked.stdout, /Nothing is parked for roster-b/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('initial sync of many users: batched creates, each exactly once, linked and journaled', async () => {
  const t = await startFaultTarget({ recordBodies: false });
  const big = await startRosterA([{ name: 'bulk', baseUrl: t.url, auth: { type: 'bearer', tokenEnv: 'T' }, rateLimit: { concurrency: 6 } }], { T: t.token }, { worker: false });
  try {
    const knex = big.server.db.knex;
    await knex.raw(`INSERT INTO users (id, resource) SELECT gen_random_uuid(), jsonb_build_object('userName', 'bulk' || n || '@example.com') FROM generate_series(1, 1500) AS n`);
    t.fail(3, { status: 503 }, (method) => method === 'POST'); // transient failures fall back to the per-object path
    const seen: number[] = [];
    const report = await fullSync(big.syncDb, big.connectors.get('bulk')!, { reportOnly: false, onProgress: (p) => p.phase === 'creating users' && seen.push(p.done) });
    assert.equal(report.toCreate.users, 1500);
    assert.ok(seen.length >= 5 && seen.at(-1) === 1500, 'progress per batch');
    await waitFor(() => t.users.size === 1500 || undefined, 'all users (retries included)', 30_000);
    const names = new Set([...t.users.values()].map((u) => u.userName));
    assert.equal(names.size, 1500, 'no duplicates');
    const { rows } = await knex.raw(`SELECT count(*)::int AS n FROM sync_links WHERE connector = 'bulk' AND state = 'active' AND remote_id IS NOT NULL AND acknowledged IS NOT NULL`);
    assert.equal(rows[0].n, 1500);
    const { rows: journaled } = await knex.raw(`SELECT count(*)::int AS n FROM journal WHERE action = 'sync.push' AND changes->>'method' = 'POST' AND changes->>'outcome' = 'ok'`);
    assert.equal(journaled[0].n, 1500);
    // The links were analyzed at the end, so a lookup by resource id goes through the primary key
    // (without statistics the planner read every link of the connector through sync_links_remote).
    const { rows: analyzed } = await knex.raw(`SELECT last_analyze IS NOT NULL AS done FROM pg_stat_user_tables WHERE relname = 'sync_links'`);
    assert.equal(analyzed[0].done, true);
    const some = (await knex.raw(`SELECT resource_id FROM sync_links LIMIT 1`)).rows[0].resource_id;
    const plan = (await knex.raw(`EXPLAIN SELECT remote_id FROM sync_links WHERE connector = 'bulk' AND resource_type = 'User' AND resource_id = ANY(?::uuid[])`, [[some]])).rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');
    assert.match(plan, /sync_links_pkey/);
  } finally {
    await big.close();
    await t.close();
  }
});

test('a full sync whose plan exceeds the guard pauses before sending anything', async () => {
  const t = await startFaultTarget();
  const g = await startRosterA([{ name: 'planned', baseUrl: t.url, auth: { type: 'bearer', tokenEnv: 'T' }, users: { filter: 'title eq "Staff"' }, deprovision: 'delete', guard: { maxDeprovisions: 2 } }], { T: t.token }, { worker: false });
  try {
    const knex = g.server.db.knex;
    await knex.raw(`INSERT INTO users (id, resource) SELECT gen_random_uuid(), jsonb_build_object('userName', 'plan' || n || '@example.com', 'title', 'Staff') FROM generate_series(1, 5) AS n`);
    const connector = g.connectors.get('planned')!;
    await fullSync(g.syncDb, connector, { reportOnly: false });
    assert.equal(t.users.size, 5);
    // The HR feed drops everyone's title: five deprovisions planned, two allowed.
    await knex.raw(`UPDATE users SET resource = resource - 'title'`);
    const before = t.requests.length;
    const report = await fullSync(g.syncDb, connector, { reportOnly: false });
    assert.equal(report.toDeprovision.users, 5);
    assert.equal(report.guardPaused, true);
    assert.equal(t.users.size, 5, 'nothing deleted');
    assert.equal(t.requests.slice(before).filter((r) => r.method !== 'GET').length, 0, 'no change sent');
    const [status] = await connectorStatuses(knex, g.connectors);
    assert.ok(status!.paused);
  } finally {
    await g.close();
    await t.close();
  }
});
