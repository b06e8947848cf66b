/**
 * Issue 12: a new user who is root clones Roster into a private folder (under /root, or a
 * `mktemp -d` folder, mode 0700) and runs the README's two commands. PostgreSQL then runs as the
 * `postgres` system user, which can reach neither the clone's data folder nor its node_modules:
 * both `npm start`'s embedded database and the test runner's must still start.
 *
 * The clone is the working tree's tracked and new files copied into the private folder, with
 * node_modules hard-linked (same inodes and modes, reachable only through the private path).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT_SHARED_DIR } from '../src/db/postgres-binaries.js';

const repoRoot = path.resolve(import.meta.dirname, '..');
const asRoot = os.userInfo().uid === 0;
const skip = asRoot ? false : 'only root is affected (PostgreSQL then runs as another user); CI runs as root';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** A private folder (0700, as mktemp -d makes it) holding a copy of this checkout. */
async function privateClone(): Promise<{ parent: string; clone: string }> {
  const parent = await fs.mkdtemp(path.join(os.tmpdir(), 'roster-private-'));
  assert.equal((await fs.stat(parent)).mode & 0o777, 0o700);
  const clone = path.join(parent, 'roster');
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: repoRoot, encoding: 'utf8' })
    .split('\0')
    .filter((file) => file !== '');
  for (const file of files) {
    const from = path.join(repoRoot, file);
    if (!(await fs.stat(from).catch(() => undefined))) continue; // deleted in the working tree
    await fs.mkdir(path.dirname(path.join(clone, file)), { recursive: true });
    await fs.copyFile(from, path.join(clone, file));
  }
  execFileSync('cp', ['-al', path.join(repoRoot, 'node_modules'), path.join(clone, 'node_modules')]);
  return { parent, clone };
}

/** Where Roster keeps the cluster of a data folder the postgres user cannot reach (embedded.ts). */
function relocatedCluster(dataDir: string): string {
  return path.join(ROOT_SHARED_DIR, `pg-${createHash('sha256').update(dataDir).digest('hex').slice(0, 12)}`);
}

function collect(child: ChildProcess): () => string {
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  return () => output;
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

function envWithout(...names: string[]): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of names) delete env[name];
  return env;
}

async function postgresPidsIn(clusterDir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').includes(clusterDir)) pids.push(Number(entry));
  }
  return pids;
}

test('npm start works as root from a clone in a private folder (embedded PostgreSQL)', { skip, timeout: 240_000 }, async () => {
  const { parent, clone } = await privateClone();
  const clusterDir = relocatedCluster(path.join(clone, '.roster-data'));
  const port = await freePort();
  const server = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], {
    cwd: clone,
    env: { ...envWithout('DATABASE_URL', 'ROSTER_BOOTSTRAP_TOKEN', 'ROSTER_PUBLIC_URL', 'ROSTER_DATA_DIR'), PORT: String(port), HOST: '127.0.0.1', ROSTER_EMBEDDED_PG_PORT: String(await freePort()), LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = collect(server);
  const exited = exitOf(server);
  try {
    let ready = false;
    for (let attempt = 0; attempt < 200 && server.exitCode === null && !ready; attempt++) {
      ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((res) => res.status === 200, () => false);
      if (!ready) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.ok(ready, `GET /readyz never answered 200; the server said:\n${output()}`);
    assert.match(output(), /Bearer token \(shown once, all scopes\): rst_/);
    assert.match(output(), /^ {2}Policy: policy\.yaml, the SAMPLE policy, applied because this is the embedded quick start/m);
    assert.match(output(), new RegExp(`keeping the cluster in ${clusterDir}`), 'the relocation is said at the default log level');

    // PostgreSQL runs as `postgres` from a copy of the programs outside the private folder.
    const [pid] = await postgresPidsIn(clusterDir);
    assert.ok(pid, `no PostgreSQL runs on ${clusterDir}`);
    const exe = await fs.readlink(`/proc/${pid}/exe`);
    assert.ok(exe.startsWith(`${ROOT_SHARED_DIR}/postgres-`), `PostgreSQL runs from ${exe}`);
    const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
    assert.equal(uid, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()));

    server.kill('SIGTERM');
    assert.equal(await exited, 0, output());
    assert.deepEqual(await postgresPidsIn(clusterDir), [], 'the embedded PostgreSQL stopped with Roster');
  } finally {
    if (server.exitCode === null) server.kill('SIGKILL');
    await fs.rm(parent, { recursive: true, force: true });
    await fs.rm(clusterDir, { recursive: true, force: true });
  }
});

test('npm test works as root from a clone in a private folder (the runner\'s embedded PostgreSQL)', { skip, timeout: 240_000 }, async () => {
  const { parent, clone } = await privateClone();
  const clusterDir = relocatedCluster(path.join(clone, '.roster-data/test'));
  // One small test file of the clone's own that needs the database the runner started.
  await fs.writeFile(
    path.join(clone, 'test', 'reach-database.test.ts'),
    `import { test } from 'node:test';\nimport assert from 'node:assert/strict';\nimport pg from 'pg';\n` +
      `test('the runner gives a working DATABASE_URL', async () => {\n  const client = new pg.Client({ connectionString: process.env.DATABASE_URL });\n` +
      `  await client.connect();\n  const { rows } = await client.query('SELECT 1 AS one');\n  await client.end();\n  assert.equal(rows[0].one, 1);\n});\n`,
  );
  const runner = spawn(process.execPath, ['--import', 'tsx', 'scripts/test.ts', 'test/reach-database.test.ts'], {
    cwd: clone,
    env: { ...envWithout('DATABASE_URL', 'NODE_TEST_CONTEXT'), ROSTER_TEST_PG_PORT: String(await freePort()) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = collect(runner);
  try {
    assert.equal(await exitOf(runner), 0, output());
    assert.match(output(), /^# pass 1$/m);
    assert.match(output(), new RegExp(`keeping the cluster in ${clusterDir}`));
    assert.deepEqual(await postgresPidsIn(clusterDir), [], 'the runner stopped its PostgreSQL');
  } finally {
    if (runner.exitCode === null) runner.kill('SIGKILL');
    await fs.rm(parent, { recursive: true, force: true });
    await fs.rm(clusterDir, { recursive: true, force: true });
  }
});
