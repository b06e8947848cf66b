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
