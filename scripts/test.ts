/**
 * `npm test`: runs every test file under test/ with node's test runner against real PostgreSQL.
 * With DATABASE_URL set (CI, or your own server) the tests use that server; without it, an
 * embedded PostgreSQL is started in .roster-data/test and stopped afterwards. Each test file
 * creates and drops its own database, so runs never depend on each other.
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { startEmbeddedPostgres } from '../src/db/embedded.js';
import { EmbeddedPostgresError } from '../src/db/embedded-errors.js';

function findTests(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return findTests(full);
    return name.endsWith('.test.ts') ? [full] : [];
  });
}

async function main(): Promise<number> {
  const only = process.argv.slice(2);
  const files = only.length > 0 ? only : findTests('test').sort();
  let stop: (() => Promise<void>) | undefined;
  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    const port = Number(process.env.ROSTER_TEST_PG_PORT ?? 54339);
    process.stdout.write(`DATABASE_URL is not set: starting an embedded PostgreSQL for the tests on port ${port}\n`);
    const server = await startEmbeddedPostgres({
      dataDir: path.resolve('.roster-data/test'),
      port,
      notice: (message) => process.stdout.write(`embedded PostgreSQL: ${message}\n`),
    });
    databaseUrl = server.url;
    stop = server.stop;
  }
  const code = await new Promise<number>((resolve) => {
    // TAP when the output is not a terminal (CI, logs), as Node 20 does by default; Node 24 would
    // print its spec reporter there, so say it, and the closing lines read the same on both.
    const reporter = process.stdout.isTTY ? [] : ['--test-reporter=tap'];
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...reporter, ...files], {
      stdio: 'inherit',
      env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: process.env.LOG_LEVEL ?? 'error' },
    });
    child.on('exit', (exitCode) => resolve(exitCode ?? 1));
  });
  await stop?.();
  return code;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).message}\n`);
    // A PostgreSQL that cannot start here is a setup problem (exit 2, as `npm start` says it).
    process.exit(error instanceof EmbeddedPostgresError ? 2 : 1);
  },
);
