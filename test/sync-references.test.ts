/**
 * Outbound sync against targets that are not Roster's own idea of a target (issue 13):
 *  - references (the enterprise manager) arrive in the target's ids, are held back until the
 *    referenced user exists there, and are fixed up when it appears (Roster B, a real SCIM server,
 *    with A's worker running);
 *  - a full sync creates managers before their reports;
 *  - report-only and dry-run full syncs journal nothing that claims a change or an adoption;
 *  - a target that caps pages at 50 and reports totalResults as the page size is read in full;
 *  - a create that ends in a 409 adoption is reported as an adoption;
 *  - push entries name a deleted user and read well in `roster journal`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { renderTable } from '../src/cli/journal-table.js';
import { reportText } from '../src/cli/sync-report.js';
import type { JournalRow } from '../src/journal/row.js';
import { logger } from '../src/logging/logger.js';
import { fullSync } from '../src/sync/full-sync.js';
import { startFaultTarget, type FaultTarget } from './support/fault-target.js';
import { ENTERPRISE, PATCH_OP, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';
import { pendingJobs, startRosterA, waitFor, type RosterA } from './support/sync-harness.js';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- SCIM documents as the targets return them

let b: TestServer;
let a: RosterA;
let t: FaultTarget;

before(async () => {
  b = await startTestServer();
  t = await startFaultTarget();
  a = await startRosterA(
    [
      { name: 'roster-b', baseUrl: b.scimUrl, auth: { type: 'bearer', tokenEnv: 'B_TOKEN' }, users: { filter: 'userType eq "Employee"' }, retry: { baseDelay: '100ms', maxDelay: '1s' } },
      { name: 'leavers', baseUrl: t.url, auth: { type: 'bearer', tokenEnv: 'T_TOKEN' }, users: { filter: 'userType eq "Leaver-test"' }, deprovision: 'delete' },
    ],
    { B_TOKEN: b.token, T_TOKEN: t.token },
  );
});
after(async () => {
  await a?.close();
  await b?.close();
  await t?.close();
});

const onB = async (userName: string): Promise<Doc | undefined> =>
  (await b.request('GET', `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`)).body.Resources[0];
const createInA = async (body: Doc): Promise<string> => {
  const response = await a.server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA, ENTERPRISE], ...body } });
  assert.equal(response.status, 201, response.text);
  return response.body.id;
};
const setUserType = (id: string, userType: string) =>
  a.server.request('PATCH', `/Users/${id}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'userType', value: userType }] } });

test("a manager reference arrives as the target's id, is held back while the manager is not there, and is fixed up when it is", async () => {
  // The manager is outside the connector's scope at first: the report goes without a manager.
  const manager = await createInA({ userName: 'mgr@example.com', userType: 'Contractor' });
  const report = await createInA({ userName: 'report@example.com', userType: 'Employee', [ENTERPRISE]: { department: 'Sales', manager: { value: manager, displayName: 'Mgr' } } });
  const reportOnB = await waitFor(() => onB('report@example.com'), 'the report on B');
  assert.equal(reportOnB[ENTERPRISE]?.manager, undefined, "no manager in Roster A's id, and none while the manager is not on B");
  assert.equal(reportOnB[ENTERPRISE]?.department, 'Sales', 'the rest of the extension goes');
  const omitted = await waitFor(async () => (await a.server.db.knex.raw(`SELECT changes, resource_name FROM journal WHERE action = 'sync.reference-omitted' AND resource_id = ?`, [report])).rows[0], 'the reason in the journal');
  assert.equal(omitted.changes.attribute, `${ENTERPRISE}:manager`);
  assert.equal(omitted.changes.reason, 'out-of-scope');
  assert.deepEqual(omitted.changes.reference, { type: 'User', id: manager });
  assert.equal(omitted.resource_name, 'report@example.com');

  // The manager enters the scope, is created on B, and the report is fixed up with B's id.
  await setUserType(manager, 'Employee');
  const managerOnB = await waitFor(() => onB('mgr@example.com'), 'the manager on B');
  assert.notEqual(managerOnB.id, manager);
  const fixed = await waitFor(async () => {
    const now = await onB('report@example.com');
    return now?.[ENTERPRISE]?.manager?.value === managerOnB.id ? now : undefined;
  }, "the report's manager set to B's id");
  assert.equal(fixed[ENTERPRISE].department, 'Sales');
  // Exactly the reference was sent (the manager's displayName is read-only, RFC 7643 §4.3).
  const { rows: patches } = await b.db.knex.raw(`SELECT changes FROM journal WHERE action = 'update' AND resource_id = ?`, [reportOnB.id]);
  assert.deepEqual(patches.flatMap((p: Doc) => p.changes.map((c: Doc) => c.path)), [`${ENTERPRISE}:manager.value`]);

  // A report created now that the manager is there carries B's id in its very first request.
  await createInA({ userName: 'direct@example.com', userType: 'Employee', [ENTERPRISE]: { manager: { value: manager } } });
  const direct = await waitFor(() => onB('direct@example.com'), 'the second report on B');
  const { rows: created } = await b.db.knex.raw(`SELECT after FROM journal WHERE action = 'create' AND resource_id = ?`, [direct.id]);
  assert.equal(created[0].after[ENTERPRISE].manager.value, managerOnB.id, 'the POST carried the target id');

  // The manager leaves the scope (disabled on B): the reference is taken back.
  await setUserType(manager, 'Contractor');
  await waitFor(async () => (await onB('mgr@example.com'))?.active === false, 'the manager disabled on B');
  await waitFor(async () => (await onB('report@example.com'))?.[ENTERPRISE]?.manager === undefined, 'the manager reference removed from the report');
  await waitFor(async () => (await pendingJobs(a.server.db.knex)) === 0, 'queue drained');
});

test("a deleted user's push entries name it, and the journal table shows method, path, status and outcome", async () => {
  const id = await createInA({ userName: 'gone@example.com', userType: 'Leaver-test' });
  await waitFor(() => t.userByName('gone@example.com'), 'the user on the target');
  await a.server.request('DELETE', `/Users/${id}`);
  await waitFor(() => !t.userByName('gone@example.com'), 'the user deleted on the target');
  const rows = await waitFor(async () => {
    const { rows: found } = await a.server.db.knex.raw(`SELECT * FROM journal WHERE action = 'sync.push' AND resource_id = ? ORDER BY id`, [id]);
    return found.some((row: JournalRow) => (row.changes as Doc).method === 'DELETE') ? (found as JournalRow[]) : undefined;
  }, 'the DELETE in the journal');
  const deletion = rows.find((row) => (row.changes as Doc).method === 'DELETE')!;
  assert.equal(deletion.resource_name, 'gone@example.com', 'named although the user no longer exists in Roster');
  const table = renderTable(rows);
  assert.match(table, /POST \/Users → 201 ok/);
  assert.match(table, /DELETE \/Users\/[0-9a-f-]+ → 204 ok/);
  assert.match(table, /User gone@example\.com/);
});

/** Inserts users straight into A's table (no outbox jobs: these tests drive the full sync themselves). */
async function insertUsers(knex: RosterA['server']['db']['knex'], users: Doc[]): Promise<void> {
  for (let i = 0; i < users.length; i += 500) {
    await knex('users').insert(users.slice(i, i + 500).map((user) => ({ id: user.id ?? randomUUID(), resource: JSON.stringify(user.resource) })));
  }
}

test('a full sync creates managers before their reports, with references in the target ids, and then sees no drift', async () => {
  const target = await startFaultTarget();
  const full = await startRosterA([{ name: 'tree', baseUrl: target.url, auth: { type: 'bearer', tokenEnv: 'T' } }], { T: target.token }, { worker: false });
  try {
    // A reporting line five deep, listed reports first, plus someone who manages herself.
    const ids = Array.from({ length: 30 }, () => randomUUID());
    const users = ids.map((id, i) => ({
      id,
      resource: { userName: `tree${i}@example.com`, ...(i < 29 ? { [ENTERPRISE]: { manager: { value: ids[Math.min(29, i + 1 + (i % 5))] } } } : {}) },
    }));
    const self = randomUUID();
    users.push({ id: self, resource: { userName: 'self@example.com', [ENTERPRISE]: { manager: { value: self } } } });
    await insertUsers(full.server.db.knex, users);
    const connector = full.connectors.get('tree')!;
    const report = await fullSync(full.syncDb, connector, { reportOnly: false });
    assert.equal(report.toCreate.users, 31);
    const remoteIdOf = (localId: string) => [...target.users.values()].find((u) => u.externalId === localId)?.id;
    for (const [i, user] of users.slice(0, 29).entries()) {
      const remote = [...target.users.values()].find((u) => u.externalId === user.id)!;
      assert.equal(remote[ENTERPRISE].manager.value, remoteIdOf(ids[Math.min(29, i + 1 + (i % 5))]!), `tree${i}'s manager in the target's id`);
    }
    const patches = target.requests.filter((r) => r.method === 'PATCH');
    assert.equal(patches.length, 0, 'no report had to be fixed up: its manager was there when it was created');
    // Someone who manages herself can only be referenced once she exists: the queue fixes it up.
    assert.equal(await pendingJobs(full.server.db.knex), 1);
    const again = await fullSync(full.syncDb, connector, { reportOnly: true });
    assert.deepEqual(again.drift.map((d) => d.name), ['self@example.com'], "translated managers are no drift; only the self-reference is still to send");
  } finally {
    await full.close();
    await target.close();
  }
});

test('report-only and dry-run full syncs journal what they found and would send, never an adoption or a change', async () => {
  const target = await startFaultTarget();
  const carolRemote = target.addUser({ schemas: [USER_SCHEMA], userName: 'Carol@Example.com', externalId: 'hr-123', title: 'Old title', active: true });
  target.addUser({ schemas: [USER_SCHEMA], userName: 'stranger@example.com' });
  const connectors = ['report', 'dry'].map((name) => ({ name, baseUrl: target.url, auth: { type: 'bearer', tokenEnv: 'T' }, dryRun: name === 'dry' }));
  const full = await startRosterA(connectors, { T: target.token }, { worker: false });
  try {
    const knex = full.server.db.knex;
    const carol = randomUUID();
    await insertUsers(knex, [{ id: carol, resource: { userName: 'carol@example.com', title: 'Controller' } }, { resource: { userName: 'dave@example.com' } }]);
    const lastId = async () => (await knex.raw(`SELECT coalesce(max(id), 0)::int AS id FROM journal`)).rows[0].id;
    const entriesAfter = async (id: number) => (await knex.raw(`SELECT action, resource_id, changes FROM journal WHERE id > ? ORDER BY id`, [id])).rows as Doc[];

    // Report only: one summary entry, nothing sent but reads.
    let before = await lastId();
    const sent = target.requests.length;
    const report = await fullSync(full.syncDb, full.connectors.get('report')!, { reportOnly: true });
    let entries = await entriesAfter(before);
    assert.deepEqual(entries.map((e) => e.action), ['sync.full']);
    assert.equal(entries[0]!.changes.toAdopt.users, 1);
    assert.equal(entries[0]!.changes.adopted, undefined, 'the summary does not say anything was adopted');
    assert.ok(entries[0]!.changes.listingRequests >= 1, 'the listing is counted, not journaled request by request');
    assert.deepEqual(target.requests.slice(sent).map((r) => r.method).filter((m) => m !== 'GET'), []);
    assert.equal((await knex.raw(`SELECT count(*)::int AS n FROM sync_links`)).rows[0].n, 0);

    // What the adoption will overwrite on the target.
    assert.equal(report.adopted.users, 1);
    const [adoption] = report.adoptions;
    assert.equal(adoption!.remoteId, carolRemote.id);
    assert.equal(adoption!.matchedOn, 'userName');
    const overwrites = Object.fromEntries(adoption!.overwrites.map((o) => [o.attribute, [o.remote, o.desired]]));
    assert.deepEqual(overwrites, { userName: ['Carol@Example.com', 'carol@example.com'], externalId: ['hr-123', carol], title: ['Old title', 'Controller'] });
    const text = reportText(report);
    assert.match(text, /report only \(nothing was changed\)/);
    assert.match(text, /would adopt: +1 users/);
    assert.doesNotMatch(text, /adopted:/);
    assert.match(text, /User carol@example\.com .*matched on userName; overwrites .*userName "Carol@Example\.com" → "carol@example\.com"/);
    assert.match(text, /externalId "hr-123" → /);

    // Dry run: the summary and the exact requests, nothing sent, nothing adopted.
    before = await lastId();
    const dry = await fullSync(full.syncDb, full.connectors.get('dry')!, { reportOnly: false });
    entries = await entriesAfter(before);
    assert.deepEqual([...new Set(entries.map((e) => e.action))].sort(), ['sync.dry-run', 'sync.full']);
    const patch = entries.find((e) => e.action === 'sync.dry-run' && e.changes.method === 'PATCH')!;
    assert.equal(patch.resource_id, carol);
    assert.equal(patch.changes.path, `/Users/${carolRemote.id}`);
    assert.deepEqual(patch.changes.body.Operations.map((o: Doc) => o.path).sort(), ['externalId', 'title', 'userName']);
    const post = entries.find((e) => e.action === 'sync.dry-run' && e.changes.method === 'POST')!;
    assert.equal(post.changes.body.userName, 'dave@example.com');
    assert.equal(entries.filter((e) => e.action === 'sync.dry-run').length, 2, 'one request per change, no POST for the account it would adopt');
    assert.match(reportText(dry), /dry run .*would adopt: +1 users/s);
    assert.deepEqual(target.requests.slice(sent).map((r) => r.method).filter((m) => m !== 'GET'), []);
    assert.equal(target.userByName('carol@example.com')!.title, 'Old title');

    // The applying run is the one that adopts, and says so once.
    before = await lastId();
    const applied = await fullSync(full.syncDb, full.connectors.get('report')!, { reportOnly: false });
    assert.equal(applied.adopted.users, 1);
    entries = await entriesAfter(before);
    assert.equal(entries.filter((e) => e.action === 'sync.adopt').length, 1);
    assert.equal(target.users.get(carolRemote.id)!.title, 'Controller');
    assert.match(reportText(applied), /adopted: +1 users/);
  } finally {
    await full.close();
    await target.close();
  }
});

test('a target that caps pages at 50 and misreports totalResults is read in full: 500 remote users', { timeout: 120_000 }, async () => {
  const target = await startFaultTarget({ shortPages: 50, recordBodies: false });
  for (let i = 1; i <= 500; i++) target.addUser({ schemas: [USER_SCHEMA], userName: `remote${i}@example.com`, active: true });
  const full = await startRosterA([{ name: 'short', baseUrl: target.url, auth: { type: 'bearer', tokenEnv: 'T' }, rateLimit: { concurrency: 6 } }], { T: target.token }, { worker: false });
  // The paging anomaly is logged, once however many runs meet it.
  const warnings: Array<[string, Doc]> = [];
  const warn = logger.warn;
  logger.warn = ((message: string, meta: Doc) => {
    warnings.push([message, meta]);
    return logger;
  }) as typeof logger.warn;
  try {
    // Roster knows 480 of them (rows 1..480, most far beyond the first page) and 10 more.
    await insertUsers(full.server.db.knex, [
      ...Array.from({ length: 480 }, (_, i) => ({ resource: { userName: `remote${i + 1}@example.com` } })),
      ...Array.from({ length: 10 }, (_, i) => ({ resource: { userName: `new${i + 1}@example.com` } })),
    ]);
    const connector = full.connectors.get('short')!;
    const planned = await fullSync(full.syncDb, connector, { reportOnly: true });
    assert.equal(planned.remote.users, 500, 'every page read, whatever totalResults said');
    assert.equal(planned.adopted.users, 480);
    assert.equal(planned.toCreate.users, 10);
    assert.equal(planned.unmanaged.userCount, 20);
    assert.deepEqual([...planned.unmanaged.users].sort(), Array.from({ length: 20 }, (_, i) => `remote${i + 481}@example.com`).sort());

    const report = await fullSync(full.syncDb, connector, { reportOnly: false });
    assert.equal(report.remote.users, 500);
    assert.equal(report.toCreate.users, 10, 'no spurious "created"');
    assert.equal(report.adopted.users, 480);
    assert.equal(report.unmanaged.userCount, 20);
    assert.equal(target.requests.filter((r) => r.status === 409).length, 0, 'no create ran into an existing account');
    assert.equal(target.users.size, 510);
    const again = await fullSync(full.syncDb, connector, { reportOnly: true });
    assert.equal(again.toCreate.users + again.adopted.users + again.drift.length, 0, 'the next run finds nothing to do');
    assert.equal(again.unmanaged.userCount, 20);
    const paging = warnings.filter(([message]) => /pages its list oddly/.test(message));
    assert.equal(paging.length, 1, 'three runs, one warning');
    assert.equal(paging[0]![1].connector, 'short');
    assert.deepEqual(paging[0]![1].anomalies, ['pages hold at most 50 objects although 500 were asked for', 'totalResults said 50, 500 objects were read (RFC 7644 §3.4.2.4: it is the total)']);
  } finally {
    logger.warn = warn;
    await full.close();
    await target.close();
  }
});

test('a planned create that meets an existing account (409) and adopts it is reported as an adoption', async () => {
  const target = await startFaultTarget({ unlisted: (user) => user.userName === 'hidden@example.com' });
  target.addUser({ schemas: [USER_SCHEMA], userName: 'hidden@example.com', active: true });
  const full = await startRosterA([{ name: 'hidden', baseUrl: target.url, auth: { type: 'bearer', tokenEnv: 'T' } }], { T: target.token }, { worker: false });
  try {
    await insertUsers(full.server.db.knex, [{ resource: { userName: 'hidden@example.com' } }, { resource: { userName: 'fresh@example.com' } }]);
    const report = await fullSync(full.syncDb, full.connectors.get('hidden')!, { reportOnly: false });
    assert.ok(target.requests.some((r) => r.status === 409), 'the create met the account the listing did not show');
    assert.deepEqual(report.toCreate, { users: 1, groups: 0 });
    assert.deepEqual(report.adopted, { users: 1, groups: 0 });
    assert.equal(target.users.size, 2, 'adopted, not duplicated');
    const { rows } = await full.server.db.knex.raw(`SELECT changes FROM journal WHERE action = 'sync.full'`);
    assert.equal(rows[0].changes.adopted.users, 1);
    assert.equal(rows[0].changes.toCreate.users, 1);
  } finally {
    await full.close();
    await target.close();
  }
});
