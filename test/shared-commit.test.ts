/**
 * Group commit of concurrent writes (src/write/shared-commit.ts, decision 0700) on real PostgreSQL
 * and over real HTTP: changes that arrive together share one transaction, each in its own
 * savepoint, so an invalid one fails alone, with its own error, and the others commit, each with
 * its own journal entries under its own request id. The journal chain stays whole.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyJournal } from '../src/journal/verify.js';
import { composeWritePath } from '../src/compose/write-path.js';
import { createUser, patchUser } from '../src/resources/users.js';
import { WritePath } from '../src/write/write-path.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { ALL_STAFF_POLICY, ENTERPRISE, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';

const POLICY = ALL_STAFF_POLICY;

let db: TestDatabase;
let server: TestServer;
before(async () => {
  db = await createTestDatabase();
  server = await startTestServer({ policy: POLICY });
});
after(async () => {
  await server?.close();
  await db?.drop();
});

const actorFor = (requestId: string) => ({ name: 'shared-commit-test', source: 'cli' as const, requestId });

type Context = Parameters<Parameters<WritePath['run']>[1]>[0];

/** Creates the user and says in which transaction (txid_current is the top-level one inside a savepoint). */
async function createIn(context: Context, userName: string): Promise<{ id: string; txid: string }> {
  const row = await createUser(context, { schemas: [USER_SCHEMA], userName });
  const { rows } = await context.tx.raw(`SELECT txid_current()::text AS txid`);
  return { id: row.id, txid: rows[0].txid };
}

test('changes queued together share one transaction; the one that fails in SQL fails alone and the others commit, each journaled under its own request id', async () => {
  const writePath = new WritePath(db.knex);
  await writePath.run(actorFor('seed'), (c) => createUser(c, { schemas: [USER_SCHEMA], userName: 'taken@example.com' }));
  // The first goes alone; the rest queue behind it, in this order, and run in one shared transaction.
  const names = ['first', 'a', 'b', 'TAKEN', 'c', 'd'].map((n) => `${n}@example.com`);
  const settled = await Promise.allSettled(
    names.map((userName, i) => writePath.runShared(actorFor(`req-${i}`), (c) => createIn(c, userName))),
  );
  const failed = settled.flatMap((s, i) => (s.status === 'rejected' ? [{ i, error: s.reason as { status?: number; scimType?: string } }] : []));
  assert.equal(failed.length, 1, 'only the duplicate userName failed');
  assert.equal(failed[0]!.i, 3);
  assert.equal(failed[0]!.error.status, 409);
  assert.equal(failed[0]!.error.scimType, 'uniqueness');

  const committed = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const created = committed.map((c) => c.id);
  assert.equal(created.length, 5);
  assert.equal(new Set(committed.slice(1).map((c) => c.txid)).size, 1, 'the four queued behind the first committed in one transaction');
  assert.notEqual(committed[0]!.txid, committed[1]!.txid, 'the first, alone, in its own');

  const { rows } = await db.knex.raw(`SELECT request_id, resource_id::text FROM journal WHERE request_id LIKE 'req-%' ORDER BY seq`);
  assert.deepEqual(
    rows.map((r: { request_id: string }) => r.request_id),
    ['req-0', 'req-1', 'req-2', 'req-4', 'req-5'],
    'one entry per committed change, in arrival order, none for the failed one',
  );
  assert.deepEqual(
    rows.map((r: { resource_id: string }) => r.resource_id),
    created,
  );
  const { rows: dup } = await db.knex.raw(`SELECT count(*)::int AS n FROM users WHERE lower(resource->>'userName') = 'taken@example.com'`);
  assert.equal(dup[0].n, 1, 'the failed change left nothing');
  assert.equal((await verifyJournal(db.knex)).ok, true);
});

test('a change that throws before it sends any SQL, and one the database aborts with an error, both fail alone; a failure at the end of the queue leaves the rest committed', async () => {
  const writePath = new WritePath(db.knex);
  const work = (userName: string) => (c: Context) => createUser(c, { schemas: [USER_SCHEMA], userName });
  const settled = await Promise.allSettled([
    writePath.runShared(actorFor('q-0'), work('q0@example.com')),
    writePath.runShared(actorFor('q-1'), async () => {
      throw new Error('refused before any SQL');
    }),
    writePath.runShared(actorFor('q-2'), work('q2@example.com')),
    writePath.runShared(actorFor('q-3'), async ({ tx }) => {
      await tx.raw('SELECT 1/0');
    }),
    writePath.runShared(actorFor('q-4'), work('q4@example.com')),
    writePath.runShared(actorFor('q-5'), work('q2@example.com')),
  ]);
  assert.deepEqual(
    settled.map((s) => s.status),
    ['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled', 'rejected'],
  );
  assert.match(String((settled[3] as PromiseRejectedResult).reason), /division by zero/);
  const { rows } = await db.knex.raw(`SELECT request_id FROM journal WHERE request_id LIKE 'q-%' ORDER BY seq`);
  assert.deepEqual(
    rows.map((r: { request_id: string }) => r.request_id),
    ['q-0', 'q-2', 'q-4'],
  );
  assert.equal((await verifyJournal(db.knex)).ok, true);
});

test('over HTTP: a batch of concurrent POSTs with the policy on, one invalid and one duplicate, fail alone; the others are created with their memberships and journal entries', async () => {
  const body = (userName: string) => ({ schemas: [USER_SCHEMA, ENTERPRISE], userName, active: true, [ENTERPRISE]: { department: 'Engineering' } });
  await server.request('POST', '/Users', { body: body('http-taken@example.com') });
  const requests = [
    body('http-1@example.com'),
    body('http-2@example.com'),
    { schemas: [USER_SCHEMA], userName: 42 }, // invalid: refused by validation
    body('HTTP-TAKEN@example.com'), // duplicate: refused by the database's unique index
    body('http-3@example.com'),
    body('http-4@example.com'),
    body('http-5@example.com'),
  ];
  const responses = await Promise.all(requests.map((b) => server.request('POST', '/Users', { body: b })));
  assert.deepEqual(
    responses.map((r) => r.status),
    [201, 201, 400, 409, 201, 201, 201],
  );
  const created = responses.filter((r) => r.status === 201).map((r) => r.body.id as string);
  const { rows } = await server.db.knex.raw(
    `SELECT resource_id::text, action, request_id FROM journal WHERE resource_id::text = ANY(?::text[]) OR (action = 'members.add' AND member_ids && ?::uuid[]) ORDER BY seq`,
    [created, created],
  );
  for (const id of created) {
    const own = rows.filter((r: { resource_id: string; action: string }) => r.resource_id === id && r.action === 'create');
    assert.equal(own.length, 1, `one create entry for ${id}`);
  }
  const requestIds = new Set(rows.filter((r: { action: string }) => r.action === 'create').map((r: { request_id: string }) => r.request_id));
  assert.equal(requestIds.size, created.length, 'each request journaled under its own request id');
  const { rows: members } = await server.db.knex.raw(
    `SELECT count(*)::int AS n FROM group_members gm JOIN groups g ON g.id = gm.group_id WHERE g.resource->>'displayName' = 'All Staff' AND gm.member_id = ANY(?::uuid[])`,
    [created],
  );
  assert.equal(members[0].n, created.length, 'the policy made every created user a member of All Staff');
  const { rows: refused } = await server.db.knex.raw(`SELECT count(*)::int AS n FROM users WHERE lower(resource->>'userName') = 'http-taken@example.com'`);
  assert.equal(refused[0].n, 1);
  assert.equal((await verifyJournal(server.db.knex)).ok, true);
});

/** The composed write path with the policy hook, as `serve` builds it, on the server's database (its policy applied). */
const policyWritePath = () => composeWritePath(server.db.knex, { policy: true });

/** Counts the statements whose text contains `marker` while `run` runs. */
async function countingStatements<T>(marker: RegExp, run: () => Promise<T>): Promise<{ result: T; count: number }> {
  let count = 0;
  const listener = (query: { sql: string }) => {
    if (marker.test(query.sql)) count++;
  };
  server.db.knex.on('query', listener);
  try {
    return { result: await run(), count };
  } finally {
    server.db.knex.off('query', listener);
  }
}

test('the policy runs once over a batch (one state read, one version bump), and each change journals its own membership under its own request id', async () => {
  const writePath = policyWritePath();
  const names = ['pb-first', 'pb-a', 'pb-b', 'pb-c', 'pb-d'].map((n) => `${n}@example.com`);
  const { result: settled, count: stateReads } = await countingStatements(/'member' AS kind/, () =>
    Promise.all(names.map((userName, i) => writePath.runShared(actorFor(`pb-${i}`), (c) => createUser(c, { schemas: [USER_SCHEMA], userName, active: true })))),
  );
  assert.equal(stateReads, 2, 'one state read for the first (alone), one for the four queued behind it');
  const ids = settled.map((row) => row.id);
  const { rows } = await server.db.knex.raw(
    `SELECT request_id, member_ids::text[] AS members FROM journal WHERE action = 'members.add' AND request_id LIKE 'pb-%' ORDER BY seq`,
  );
  assert.deepEqual(
    rows.map((r: { request_id: string; members: string[] }) => [r.request_id, r.members]),
    ids.map((id, i) => [`pb-${i}`, [id]]),
    'each request has its own members.add entry naming only its own user',
  );
  const { rows: members } = await server.db.knex.raw(
    `SELECT count(*)::int AS n FROM group_members gm JOIN groups g ON g.id = gm.group_id WHERE g.resource->>'displayName' = 'All Staff' AND gm.member_id = ANY(?::uuid[])`,
    [ids],
  );
  assert.equal(members[0].n, ids.length);
  assert.equal((await verifyJournal(server.db.knex)).ok, true);
});

test('a user created and deactivated by two changes of one batch ends outside the managed group: the second change is reconciled after the first', async () => {
  const writePath = policyWritePath();
  const first = writePath.runShared(actorFor('mv-0'), (c) => createUser(c, { schemas: [USER_SCHEMA], userName: 'mv-first@example.com', active: true }));
  let createdId = '';
  const create = writePath.runShared(actorFor('mv-1'), async (c) => {
    const row = await createUser(c, { schemas: [USER_SCHEMA], userName: 'mv-user@example.com', active: true });
    createdId = row.id;
    return row;
  });
  const deactivate = writePath.runShared(actorFor('mv-2'), (c) =>
    patchUser(c, createdId, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] }, {}),
  );
  await Promise.all([first, create, deactivate]);
  const { rows } = await server.db.knex.raw(
    `SELECT request_id, action FROM journal WHERE request_id IN ('mv-1', 'mv-2') AND action LIKE 'members.%' ORDER BY seq`,
  );
  assert.deepEqual(
    rows.map((r: { request_id: string; action: string }) => `${r.request_id} ${r.action}`),
    ['mv-1 members.add', 'mv-2 members.remove'],
  );
  const { rows: members } = await server.db.knex.raw(`SELECT count(*)::int AS n FROM group_members WHERE member_id = ?`, [createdId]);
  assert.equal(members[0].n, 0, 'the deactivated user is in no managed group');
  assert.equal((await verifyJournal(server.db.knex)).ok, true);
});

test('a hook that fails over a whole batch sends every change of it to run again alone, where each commits with its own journal entries', async () => {
  const writePath = policyWritePath();
  let batchFailures = 0;
  writePath.addHook(
    Object.assign(async () => undefined, {
      many: async () => {
        batchFailures++;
        throw new Error('a hook failed over the batch');
      },
    }),
  );
  const names = ['hf-first', 'hf-a', 'hf-b', 'hf-c'].map((n) => `${n}@example.com`);
  const settled = await Promise.allSettled(names.map((userName, i) => writePath.runShared(actorFor(`hf-${i}`), (c) => createUser(c, { schemas: [USER_SCHEMA], userName, active: true }))));
  assert.deepEqual(settled.map((s) => s.status), ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
  assert.equal(batchFailures, 1, 'the shared transaction of the three queued changes failed once');
  const { rows } = await server.db.knex.raw(`SELECT request_id FROM journal WHERE request_id LIKE 'hf-%' AND action = 'create' ORDER BY seq`);
  // Run again alone side by side, so in any order.
  assert.deepEqual(rows.map((r: { request_id: string }) => r.request_id).sort(), ['hf-0', 'hf-1', 'hf-2', 'hf-3']);
  const { rows: members } = await server.db.knex.raw(`SELECT count(*)::int AS n FROM group_members gm JOIN users u ON u.id = gm.member_id WHERE u.resource->>'userName' LIKE 'hf-%'`);
  assert.equal(members[0].n, 4, 'each, run alone, got its All Staff membership');
  assert.equal((await verifyJournal(server.db.knex)).ok, true);
});

/** Waits until `condition` holds, up to 5 s. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test('the next batch runs its work while the one before it is still finishing (its hooks, journal and COMMIT), and both commit', async () => {
  const writePath = new WritePath(server.db.knex);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let hookCalls = 0;
  let firstFinished = false;
  writePath.addHook(
    Object.assign(
      async () => {
        // The first change (alone) is held in its hooks, after its work, until released.
        if (hookCalls++ === 0) {
          await gate;
          firstFinished = true;
        }
      },
      { many: async () => void hookCalls++ },
    ),
  );
  const first = writePath.runShared(actorFor('pl-0'), (c) => createUser(c, { schemas: [USER_SCHEMA], userName: 'pl-first@example.com' }));
  await until(() => hookCalls === 1, 'the first change is in its hooks');
  const worked: string[] = [];
  const next = ['pl-a', 'pl-b'].map((name, i) =>
    writePath.runShared(actorFor(`pl-${i + 1}`), async (c) => {
      const row = await createUser(c, { schemas: [USER_SCHEMA], userName: `${name}@example.com` });
      worked.push(name);
      return row;
    }),
  );
  try {
    await until(() => worked.length === 2, 'the next changes have done their work');
    assert.equal(firstFinished, false, 'the first change is still held in its hooks');
  } finally {
    release();
  }
  const rows = await Promise.all([first, ...next]);
  assert.equal(rows.length, 3);
  const { rows: journal } = await server.db.knex.raw(`SELECT request_id FROM journal WHERE request_id LIKE 'pl-%' ORDER BY request_id`);
  assert.deepEqual(journal.map((r: { request_id: string }) => r.request_id), ['pl-0', 'pl-1', 'pl-2']);
  assert.equal((await verifyJournal(server.db.knex)).ok, true);
});

test('concurrent creates and deletes over HTTP keep the unfiltered totalResults equal to the rows (counts kept in per-connection slots)', async () => {
  const body = (i: number) => ({ schemas: [USER_SCHEMA], userName: `slot-${i}@example.com`, active: true });
  const created = await Promise.all(Array.from({ length: 40 }, (_, i) => server.request('POST', '/Users', { body: body(i) })));
  assert.ok(created.every((r) => r.status === 201));
  await Promise.all(created.slice(0, 15).map((r) => server.request('DELETE', `/Users/${r.body.id as string}`)));
  const { rows } = await server.db.knex.raw(`SELECT count(*)::int AS n FROM users`);
  const list = await server.request('GET', '/Users?count=1');
  assert.equal(list.body.totalResults, rows[0].n);
  const { rows: slots } = await server.db.knex.raw(`SELECT count(*)::int AS n FROM resource_counts WHERE resource_type = 'User'`);
  assert.ok(slots[0].n >= 1);
});
