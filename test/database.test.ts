import { test } from 'node:test';
import assert from 'node:assert/strict';
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
