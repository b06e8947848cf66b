/**
 * Where the bench databases live: the PostgreSQL server named by DATABASE_URL, or, without it, an
 * embedded PostgreSQL in a temporary folder (stopped and removed at the end). Each scenario gets a
 * fresh database `roster_bench_<random>_<users>` that is dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/db/embedded.js';
import { freePort } from './ports.js';

export interface BenchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export interface DatabaseServer {
  describe: string;
  createDatabase(suffix: string): Promise<BenchDatabase>;
  stop(): Promise<void>;
}

function withDatabaseName(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl, application_name: 'roster-bench' });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function serverAt(adminUrl: string, describe: string, stop: () => Promise<void>): DatabaseServer {
  const runTag = randomBytes(4).toString('hex');
  return {
    describe,
    async createDatabase(suffix) {
      const name = `roster_bench_${runTag}_${suffix}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
      await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
      let dropped = false;
      return {
        name,
        url: withDatabaseName(adminUrl, name),
        async drop() {
          if (dropped) return;
          dropped = true;
          await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        },
      };
    },
    stop,
  };
}

export async function openDatabaseServer(log: (line: string) => void): Promise<DatabaseServer> {
  const url = process.env.DATABASE_URL;
  if (url) {
    const parsed = new URL(url);
    return serverAt(url, `PostgreSQL at ${parsed.host} (DATABASE_URL)`, async () => undefined);
  }
  log('DATABASE_URL is not set: starting an embedded PostgreSQL in a temporary folder');
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'roster-bench-pg-'));
  const embedded = await startEmbeddedPostgres({ dataDir, port: await freePort() });
  return serverAt(embedded.url, 'embedded PostgreSQL (DATABASE_URL unset)', async () => {
    await embedded.stop();
    await fs.rm(dataDir, { recursive: true, force: true });
  });
}
