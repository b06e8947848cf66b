/**
 * The write path on real PostgreSQL: a transaction the database aborts as a deadlock victim is run
 * again, whole, and each change is journaled once; other errors are not retried.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createUser } from '../src/resources/users.js';
import { WritePath } from '../src/write/write-path.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { USER_SCHEMA } from './support/server.js';

const actor = { name: 'write-path-test', source: 'cli' as const, requestId: 'write-path-test' };

let db: TestDatabase;
let writePath: WritePath;
before(async () => {
  db = await createTestDatabase();
  writePath = new WritePath(db.knex);
});
after(async () => {
  await db.drop();
});

/** Resolves once `n` parties have arrived. */
function barrier(n: number): () => Promise<void> {
  let arrived = 0;
  let release: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (release = resolve));
  return () => {
    if (++arrived === n) release();
    return all;
  };
}

test('a deadlock victim is run again and both changes land, each journaled once', async () => {
  const [a, b] = await Promise.all(
    ['dl-a@example.com', 'dl-b@example.com'].map((userName) => writePath.run(actor, (c) => createUser(c, { schemas: [USER_SCHEMA], userName }))),
  );
  const bothLockedOne = barrier(2);
  const attempts = { first: 0, second: 0 };
  // Each locks one row, waits until the other has locked the other row, then asks for it: a real
  // deadlock, which PostgreSQL breaks by aborting one of the two. Only first attempts wait.
  const lockBoth = (name: 'first' | 'second', firstId: string, secondId: string) =>
    writePath.run(actor, async ({ tx, changes }) => {
      const attempt = ++attempts[name];
      await tx.raw(`SELECT id FROM users WHERE id = ? FOR UPDATE`, [firstId]);
      if (attempt === 1) await bothLockedOne();
      await tx.raw(`SELECT id FROM users WHERE id = ? FOR UPDATE`, [secondId]);
      changes.record({ action: 'test.deadlock', reason: { name, attempt } });
      return attempt;
    });
  const [first, second] = await Promise.all([lockBoth('first', a!.id, b!.id), lockBoth('second', b!.id, a!.id)]);
  assert.deepEqual([first, second].sort(), [1, 2], 'one ran once, the deadlock victim twice');
  const { rows } = await db.knex.raw(`SELECT reason FROM journal WHERE action = 'test.deadlock' ORDER BY seq`);
  assert.equal(rows.length, 2, 'the aborted attempt left no entry');
  assert.deepEqual(rows.map((r: { reason: { name: string } }) => r.reason.name).sort(), ['first', 'second']);
});

test('other errors are not retried', async () => {
  let attempts = 0;
  await assert.rejects(
    writePath.run(actor, async ({ tx }) => {
      attempts++;
      await tx.raw(`SELECT 1/0`);
    }),
    /division by zero/,
  );
  assert.equal(attempts, 1);
});

test('deferred hook statements: the next hook runs after them, and a failing one is the error reported, with nothing written', async () => {
  const hooked = new WritePath(db.knex);
  const order: string[] = [];
  const failing = { on: false };
  hooked.addHook(async (tx, changes) => {
    // Sent now, not awaited: a slow write, then (when failing) one that violates a constraint.
    changes.defer(
      (async () => {
        await tx.raw(`SELECT pg_sleep(0.05)`);
        await tx.raw(`UPDATE resource_counts SET total = total WHERE resource_type = 'User'`);
        if (failing.on) await tx.raw(`INSERT INTO users (id, resource) VALUES (gen_random_uuid(), '{"userName": "dup-deferred@example.com"}'), (gen_random_uuid(), '{"userName": "DUP-deferred@example.com"}')`);
        order.push('deferred done');
      })(),
    );
    order.push('first hook returned');
  });
  hooked.addHook(async () => {
    order.push('second hook');
  });
  const created = await hooked.run(actor, (c) => createUser(c, { schemas: [USER_SCHEMA], userName: 'deferred-ok@example.com' }));
  assert.deepEqual(order, ['first hook returned', 'deferred done', 'second hook']);
  assert.equal((await db.knex.raw(`SELECT count(*)::int AS n FROM journal WHERE resource_id = ?`, [created.id])).rows[0].n, 1);

  // Deferred by the last hook, so the journal append runs beside the failing statement.
  failing.on = true;
  const last = new WritePath(db.knex);
  last.addHook(async (tx, changes) => {
    changes.defer(
      (async () => {
        await tx.raw(`SELECT pg_sleep(0.05)`);
        await tx.raw(`INSERT INTO users (id, resource) VALUES (gen_random_uuid(), '{"userName": "dup-deferred@example.com"}'), (gen_random_uuid(), '{"userName": "DUP-deferred@example.com"}')`);
      })(),
    );
  });
  const journalBefore = (await db.knex.raw(`SELECT count(*)::int AS n FROM journal`)).rows[0].n;
  for (const writePath of [hooked, last]) {
    await assert.rejects(
      writePath.run(actor, (c) => createUser(c, { schemas: [USER_SCHEMA], userName: 'deferred-fails@example.com' })),
      (error: { code?: string }) => error.code === '23505', // the unique violation, not "current transaction is aborted"
    );
  }
  const { rows } = await db.knex.raw(`SELECT count(*)::int AS n FROM users WHERE lower(resource->>'userName') IN ('deferred-fails@example.com', 'dup-deferred@example.com')`);
  assert.equal(rows[0].n, 0, 'nothing was written');
  assert.equal((await db.knex.raw(`SELECT count(*)::int AS n FROM journal`)).rows[0].n, journalBefore, 'nothing was journaled');
});
