import { test } from 'node:test';
import assert from 'node:assert/strict';
import { queryPrepared } from '../src/db/prepared.js';
import { createTestDatabase } from './support/database.js';

test('a test database is created, migrated and dropped', async () => {
  const db = await createTestDatabase();
  try {
    const { rows } = await db.knex.raw(`SELECT count(*)::int AS n FROM journal`);
    assert.equal(rows[0].n, 0);
  } finally {
    await db.drop();
  }
});

test('queryPrepared on a transaction runs on the transaction\'s connection and sees its writes', async () => {
  const db = await createTestDatabase();
  const statement = { name: 'roster_test_prepared_tx', text: `SELECT pg_backend_pid() AS pid, (SELECT count(*)::int FROM policy_state) AS n` };
  try {
    await db.knex
      .transaction(async (tx) => {
        const [pid] = (await tx.raw(`SELECT pg_backend_pid() AS pid`)).rows as Array<{ pid: number }>;
        await tx.raw(`INSERT INTO policy_state (version, source_name, source_text, applied_by) VALUES ('v', 'f', 't', 'test')`);
        const [inside] = await queryPrepared<{ pid: number; n: number }>(tx, statement, []);
        assert.deepEqual(inside, { pid: pid!.pid, n: 1 });
        throw new Error('roll back');
      })
      .catch((error: Error) => assert.equal(error.message, 'roll back'));
    const [outside] = await queryPrepared<{ pid: number; n: number }>(db.knex, statement, []);
    assert.equal(outside!.n, 0);
  } finally {
    await db.drop();
  }
});
