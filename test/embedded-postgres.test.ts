/**
 * The zero-setup path: without DATABASE_URL Roster runs an embedded PostgreSQL. This starts one in
 * a temporary folder (as `npm start` would, also as root), migrates it, serves a request, and stops it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { startEmbeddedPostgres } from '../src/db/embedded.js';
import { createKnex, migrateToLatest, migrationsAreCurrent } from '../src/db/knex.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

test('embedded PostgreSQL starts in a data folder, keeps data across restarts, and stops', { timeout: 180_000 }, async () => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'roster-embedded-'));
  await fs.chmod(dataDir, 0o755);
  const port = await freePort();
  try {
    const first = await startEmbeddedPostgres({ dataDir, port });
    const knex = createKnex({ url: first.url });
    await migrateToLatest(knex);
    await knex.raw(`INSERT INTO users (id, resource) VALUES (gen_random_uuid(), '{"userName":"kept@example.com"}')`);
    await knex.destroy();

    // A second command on the same folder (e.g. `token create` while the server runs) joins the running cluster.
    const joined = await startEmbeddedPostgres({ dataDir, port: await freePort() });
    assert.equal(new URL(joined.url).port, String(port));
    await joined.stop(); // a no-op: the first owner stops it
    await fetchPostgres(port);
    await first.stop();

    const second = await startEmbeddedPostgres({ dataDir, port });
    const again = createKnex({ url: second.url });
    assert.equal(await migrationsAreCurrent(again), true);
    const { rows } = await again.raw(`SELECT resource->>'userName' AS u FROM users`);
    assert.deepEqual(rows, [{ u: 'kept@example.com' }]);
    await again.destroy();
    await second.stop();
    await assert.rejects(fetchPostgres(port), 'the server is stopped');
  } finally {
    await fs.rm(dataDir, { recursive: true, force: true });
  }
});

function fetchPostgres(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve();
    });
    socket.on('error', reject);
  });
}

test('an embedded PostgreSQL that cannot start is one paragraph and exit status 2, never a stack trace', { timeout: 180_000 }, async () => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'roster-embedded-'));
  await fs.chmod(dataDir, 0o755);
  // Something else already listens on the port the embedded PostgreSQL is told to use.
  const squatter = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => squatter.once('listening', resolve));
  const takenPort = (squatter.address() as net.AddressInfo).port;
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, ROSTER_DATA_DIR: dataDir, ROSTER_EMBEDDED_PG_PORT: String(takenPort), PORT: '0', HOST: '127.0.0.1' };
    delete env.DATABASE_URL;
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 2, stderr);
    assert.match(stderr, new RegExp(`Is port ${takenPort} taken\\? Set ROSTER_EMBEDDED_PG_PORT to a free port, or DATABASE_URL`));
    assert.match(stderr, /The embedded PostgreSQL in \S+ \(run as the user '[^']+'\) stopped while starting/);
    assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
    assert.equal(stderr.trim().split('\n').length, 1, `one paragraph:\n${stderr}`);
  } finally {
    squatter.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
});
