/**
 * The ledger of orphaned and drifting downstream accounts (issue 17), on real PostgreSQL against
 * Roster B, a real SCIM server on loopback: a report-only full sync records every account Roster
 * does not manage and every drift; an operator adopts one orphan, disables another on the target,
 * deletes a third under the mass-change guard, and ignores a fourth until its expiry; each action
 * is journaled with the operator; items stay until resolved or no longer seen; the CLI lists and
 * acts on the same ledger.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createToken } from '../src/auth/token-store.js';
import { ledgerRecorder } from '../src/governance/ledger-store.js';
import { approveConnector } from '../src/sync/connector-state.js';
import { fullSync } from '../src/sync/full-sync.js';
import { PATCH_OP, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';
import { runCli } from './support/cli.js';
import { startRosterA, type RosterA } from './support/sync-harness.js';

let b: TestServer;
let a: RosterA;
let operator: string;
let reader: string;

before(async () => {
  b = await startTestServer();
  a = await startRosterA(
    [{ name: 'roster-b', baseUrl: b.scimUrl, auth: { type: 'bearer', tokenEnv: 'B_TOKEN' }, matchOn: 'userName', guard: { maxDeprovisions: 1, window: '1h' }, retry: { baseDelay: '100ms', maxDelay: '1s' } }],
    { B_TOKEN: b.token },
    { worker: false },
  );
  operator = (await createToken(a.server.db.knex, 'alice-operator', ['ops:write'])).token;
  reader = (await createToken(a.server.db.knex, 'auditor', ['ops:read'])).token;
});
after(async () => {
  await a?.close();
  await b?.close();
});

const connector = () => a.connectors.get('roster-b')!;
const ops = (method: string, route: string, body?: unknown, token = operator) => a.server.request(method, `${a.server.url}${route}`, { token, ...(body !== undefined ? { body, headers: { 'content-type': 'application/json' } } : {}) });
const onB = async (userName: string) => (await b.request('GET', `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`)).body.Resources[0];
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON
const ledger = async (query = '') => (await ops('GET', `/ops/ledger?connector=roster-b${query}`, undefined, reader)).body.items as Array<Record<string, any>>;
const journalOf = async (action: string) => (await a.server.db.knex.raw(`SELECT actor, source, resource_id::text, changes, reason FROM journal WHERE action = ? ORDER BY id`, [action])).rows;
const itemNamed = async (name: string) => (await ledger()).find((i) => i.name === name)!;

test('a report-only full sync records every orphan and every drift, and changes nothing on the target', async () => {
  // Carol is managed (created by an applying sync), then edited on B behind Roster's back.
  const carol = (await a.server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'carol@example.com', title: 'Controller' } })).body.id;
  await a.server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'olivia.lopez@example.com', title: 'Analyst' } });
  await fullSync(a.syncDb, connector(), { reportOnly: false, findings: ledgerRecorder });
  const carolOnB = await onB('carol@example.com');
  await b.request('PATCH', `/Users/${carolOnB.id}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: 'Changed on B' }] } });
  // Accounts on B that nobody in Roster owns. olivia.lopez@example.com was created on B by the sync too,
  // so her old account under another name is an orphan for the operator to adopt.
  for (const userName of ['o.lopez@example.com', 'oscar@example.com', 'dora@example.com', 'otto@example.com']) {
    await b.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName, externalId: `legacy-${userName}` } });
  }
  const oliviaDuplicate = await onB('olivia.lopez@example.com');
  await b.request('DELETE', `/Users/${oliviaDuplicate.id}`);
  await a.server.db.knex('sync_links').where({ remote_id: oliviaDuplicate.id }).delete();

  const before = (await b.db.knex.raw(`SELECT count(*)::int AS n FROM journal`)).rows[0].n;
  const report = await fullSync(a.syncDb, connector(), { reportOnly: true, findings: ledgerRecorder });
  assert.equal((await b.db.knex.raw(`SELECT count(*)::int AS n FROM journal`)).rows[0].n, before, 'report-only changed nothing on B');
  assert.equal(report.unmanaged.userCount, 4);

  const orphans = await ledger('&kind=orphan');
  assert.deepEqual(orphans.map((o) => o.name).sort(), ['dora@example.com', 'o.lopez@example.com', 'oscar@example.com', 'otto@example.com']);
  for (const orphan of orphans) {
    assert.equal(orphan.status, 'open');
    assert.equal(orphan.resourceType, 'User');
    assert.equal(orphan.details.externalId, `legacy-${orphan.name}`);
    assert.equal(orphan.details.active, true);
  }
  const drift = await ledger('&kind=drift');
  // Olivia is not linked (her link was dropped above): she is to be created or adopted, not drift.
  assert.deepEqual(drift.map((d) => `${d.name}:${d.details.kind}`), ['carol@example.com:attributes']);
  const carolDrift = drift.find((d) => d.name === 'carol@example.com')!;
  assert.equal(carolDrift.resourceId, carol);
  assert.deepEqual(carolDrift.details.differences, [{ attribute: 'title', remote: 'Changed on B', desired: 'Controller' }]);

  // Seen again: the same items, not duplicates; first seen is kept.
  await fullSync(a.syncDb, connector(), { reportOnly: true, findings: ledgerRecorder });
  const again = await ledger();
  assert.equal(again.length, 5);
  assert.equal(again.find((i) => i.name === 'oscar@example.com')!.firstSeenAt, orphans.find((o) => o.name === 'oscar@example.com')!.firstSeenAt);
});

test('the ledger API filters, pages and refuses bad input with SCIM errors', async () => {
  const page = await ops('GET', '/ops/ledger?connector=roster-b&count=2', undefined, reader);
  assert.equal(page.status, 200);
  assert.equal(page.body.items.length, 2);
  const rest = await ops('GET', `/ops/ledger?connector=roster-b&count=10&cursor=${page.body.nextCursor}`, undefined, reader);
  assert.equal(rest.body.items.length, 3);
  assert.equal(rest.body.nextCursor, null);
  assert.deepEqual((await ledger('&name=OSCAR')).map((i) => i.name), ['oscar@example.com']);

  const bad = await ops('GET', '/ops/ledger?status=forgotten', undefined, reader);
  assert.equal(bad.status, 400);
  assert.equal(bad.body.scimType, 'invalidValue');
  assert.match(bad.body.detail, /status must be one of open, ignored/);
  assert.equal((await ops('GET', '/ops/ledger?colour=red', undefined, reader)).status, 400);
  assert.equal((await ops('GET', '/ops/ledger/999999', undefined, reader)).status, 404);
  assert.equal((await ops('GET', '/ops/ledger', undefined, null as unknown as string)).status, 401);

  const oscar = await itemNamed('oscar@example.com');
  const readOnly = await ops('POST', `/ops/ledger/${oscar.id}/disable`, {}, reader);
  assert.equal(readOnly.status, 403, 'acting needs ops:write');
  assert.match(readOnly.body.detail, /ops:write/);
  const noUser = await ops('POST', `/ops/ledger/${oscar.id}/adopt`, {});
  assert.equal(noUser.status, 400);
  assert.match(noUser.body.detail, /"user" is required/);
  const unknownUser = await ops('POST', `/ops/ledger/${oscar.id}/adopt`, { user: 'nobody@example.com' });
  assert.equal(unknownUser.status, 404);
  const noReason = await ops('POST', `/ops/ledger/${oscar.id}/ignore`, { reason: ' ' });
  assert.equal(noReason.status, 400);
  const past = await ops('POST', `/ops/ledger/${oscar.id}/ignore`, { reason: 'old', until: '2020-01-01' });
  assert.equal(past.status, 400);
  assert.match(past.body.detail, /in the past/);
  const malformed = await a.server.request('POST', `${a.server.url}/ops/ledger/${oscar.id}/ignore`, { token: operator, rawBody: '{"reason":', headers: { 'content-type': 'application/json' } });
  assert.equal(malformed.status, 400);
  assert.equal(malformed.body.scimType, 'invalidSyntax');
  const carolDrift = (await ledger('&kind=drift')).find((d) => d.name === 'carol@example.com')!;
  const adoptDrift = await ops('POST', `/ops/ledger/${carolDrift.id}/adopt`, { user: 'carol@example.com' });
  assert.equal(adoptDrift.status, 400, 'drift is not adopted');
  assert.equal((await itemNamed('oscar@example.com')).status, 'open', 'nothing changed');
  assert.equal((await journalOf('ledger.ignore')).length, 0);
  assert.notEqual((await onB('oscar@example.com')).active, false, 'oscar is still active on B');
});

test('an orphan is adopted: linked to the person and brought to the desired state, journaled with the operator', async () => {
  const orphan = await itemNamed('o.lopez@example.com');
  const response = await ops('POST', `/ops/ledger/${orphan.id}/adopt`, { user: 'olivia.lopez@example.com' });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  assert.equal(response.body.item.status, 'adopted');
  assert.equal(response.body.item.actedBy, 'alice-operator');
  assert.equal(response.body.sync, 'done');
  const olivia = response.body.userId;

  const account = (await b.request('GET', `/Users/${orphan.remoteId}`)).body;
  assert.equal(account.userName, 'olivia.lopez@example.com', 'the same account, renamed to the desired state');
  assert.equal(account.externalId, olivia);
  assert.equal(account.title, 'Analyst');
  const link = await a.server.db.knex('sync_links').where({ connector: 'roster-b', resource_id: olivia }).first();
  assert.equal(link.remote_id, orphan.remoteId);
  assert.equal(link.adopted, true);
  const [entry] = await journalOf('ledger.adopt');
  assert.equal(entry.actor, 'alice-operator');
  assert.equal(entry.source, 'ops');
  assert.equal(entry.resource_id, olivia);
  assert.equal(entry.changes.remoteId, orphan.remoteId);
  assert.equal((await journalOf('sync.adopt')).at(-1).changes.matchedOn, 'operator');

  const twice = await ops('POST', `/ops/ledger/${orphan.id}/adopt`, { user: 'olivia.lopez@example.com' });
  assert.equal(twice.status, 409, 'an item is acted on once');
});

test('orphans are disabled or deleted on the target under the mass-change guard', async () => {
  const oscar = await itemNamed('oscar@example.com');
  const disabled = await ops('POST', `/ops/ledger/${oscar.id}/disable`, { reason: 'left in 2025 (HR-311)' });
  assert.equal(disabled.status, 200, JSON.stringify(disabled.body));
  assert.equal(disabled.body.item.status, 'disabled');
  assert.equal((await onB('oscar@example.com')).active, false, 'disabled on B');
  const [entry] = await journalOf('ledger.disable');
  assert.equal(entry.actor, 'alice-operator');
  assert.equal(entry.changes.remoteId, oscar.remoteId);
  assert.equal(entry.changes.reason, 'left in 2025 (HR-311)');

  // The guard allows one deprovision per hour here: the delete pauses the connector and sends nothing.
  const dora = await itemNamed('dora@example.com');
  const paused = await ops('POST', `/ops/ledger/${dora.id}/delete`, {});
  assert.equal(paused.status, 409);
  assert.match(paused.body.detail, /paused by the mass-change guard; review, then: npm run roster -- sync approve roster-b/);
  assert.ok(await onB('dora@example.com'), 'nothing was deleted');
  assert.equal((await itemNamed('dora@example.com')).status, 'open');

  await approveConnector(a.server.db.knex, 'roster-b');
  const deleted = await ops('POST', `/ops/ledger/${dora.id}/delete`, {});
  assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
  assert.equal(await onB('dora@example.com'), undefined, 'deleted on B');
  assert.equal((await journalOf('ledger.delete'))[0].actor, 'alice-operator');
});

test('an ignored orphan stays ignored until its expiry, then is open again; resolved items leave the ledger when no longer seen', async () => {
  const otto = await itemNamed('otto@example.com');
  const until = new Date(Date.now() + 2500).toISOString();
  const ignored = await ops('POST', `/ops/ledger/${otto.id}/ignore`, { reason: 'service account of the backup job (CHG-7)', until });
  assert.equal(ignored.status, 200, JSON.stringify(ignored.body));
  assert.equal(ignored.body.item.status, 'ignored');
  assert.equal(ignored.body.item.ignoredReason, 'service account of the backup job (CHG-7)');
  assert.deepEqual((await ledger('&status=ignored')).map((i) => i.name), ['otto@example.com']);
  const [entry] = await journalOf('ledger.ignore');
  assert.equal(entry.actor, 'alice-operator');
  assert.equal(entry.reason.until, until);

  // A sync during the ignore keeps it ignored.
  await fullSync(a.syncDb, connector(), { reportOnly: true, findings: ledgerRecorder });
  assert.equal((await itemNamed('otto@example.com')).status, 'ignored');
  await new Promise((resolve) => setTimeout(resolve, Date.parse(until) - Date.now() + 100));
  assert.equal((await itemNamed('otto@example.com')).status, 'open', 'the ignore expired');

  await fullSync(a.syncDb, connector(), { reportOnly: true, findings: ledgerRecorder });
  const items = await ledger();
  const byName = new Map(items.map((i) => [`${i.kind}:${i.name}`, i.status]));
  assert.equal(byName.get('orphan:otto@example.com'), 'open');
  assert.equal(byName.get('orphan:oscar@example.com'), 'disabled', 'still on B, disabled: stays as the operator left it');
  assert.equal(byName.has('orphan:o.lopez@example.com'), false, 'adopted: managed now, no longer an orphan');
  assert.equal(byName.has('orphan:dora@example.com'), false, 'deleted: no longer seen');
  assert.equal(byName.get('drift:carol@example.com'), 'open');

  // An applying run repairs the drift; the next run no longer sees it.
  await fullSync(a.syncDb, connector(), { reportOnly: false, findings: ledgerRecorder });
  assert.equal((await itemNamed('carol@example.com')).status, 'repaired');
  await fullSync(a.syncDb, connector(), { reportOnly: true, findings: ledgerRecorder });
  assert.equal((await ledger('&kind=drift')).length, 0);
});

test('CLI: ledger lists with --json and acts with the operator named in the journal', { timeout: 120_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-ledger-'));
  const file = path.join(dir, 'connectors.yaml');
  fs.writeFileSync(file, `connectors:\n  - name: roster-b\n    baseUrl: ${b.scimUrl}\n    auth: { type: bearer, tokenEnv: B_TOKEN }\n`);
  const env = { ...process.env, DATABASE_URL: a.server.db.url, ROSTER_CONNECTORS_FILE: file, B_TOKEN: b.token, LOG_LEVEL: 'error' };
  const run = (args: string[]) => runCli(args, env);
  try {
    await b.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'cli-orphan@example.com' } });
    const full = await run(['sync', 'roster-b', '--full', '--report-only']);
    assert.equal(full.code, 0, full.stderr);
    const listed = await run(['ledger', '--kind', 'orphan', '--status', 'open', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const items = JSON.parse(listed.stdout).items as Array<{ id: string; name: string }>;
    assert.deepEqual(items.map((i) => i.name).sort(), ['cli-orphan@example.com', 'otto@example.com']);
    const table = await run(['ledger', '--connector', 'roster-b']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /ID\s+CONNECTOR\s+KIND\s+TYPE\s+NAME\s+STATUS/);
    assert.match(table.stdout, /oscar@example\.com\s+disabled/);

    const id = items.find((i) => i.name === 'cli-orphan@example.com')!.id;
    const ignore = await run(['ledger', 'ignore', id, '--reason', 'test fixture (CHG-9)', '--until', '7d', '--as', 'bob']);
    assert.equal(ignore.code, 0, ignore.stderr);
    assert.match(ignore.stdout, /Ignored cli-orphan@example\.com on roster-b until /);
    assert.equal((await journalOf('ledger.ignore')).at(-1).actor, 'cli:bob');
    const bad = await run(['ledger', 'adopt', id, 'nobody@example.com']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /ignored already|No user/);
    assert.ok(!`${bad.stdout}${bad.stderr}`.includes(b.token), 'no secret printed');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
