/**
 * Every test file gets its own freshly migrated database on the server named by DATABASE_URL
 * (set by `npm test`: the CI server, or an embedded PostgreSQL it started), and drops it at the end.
 */
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import pg from 'pg';
import { createKnex, migrateToLatest } from '../../src/db/knex.js';

export interface TestDatabase {
  url: string;
  knex: Knex;
  drop(): Promise<void>;
}

function serverUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: run the tests with `npm test`, which provides a PostgreSQL server');
  return url;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = '/' + database;
  return parsed.toString();
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: withDatabase(serverUrl(), 'postgres') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const name = `roster_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = withDatabase(serverUrl(), name);
  const knex = createKnex({ url, poolMax: 10 });
  if (options.migrate !== false) await migrateToLatest(knex);
  return {
    url,
    knex,
    async drop() {
      await knex.destroy();
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
