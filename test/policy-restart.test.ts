/**
 * A policy applied in the console survives a restart (decision 0502): real `roster serve`
 * processes, one after another, on the same database and the same policy file.
 *   1. start with file A; apply B in the console; restart with A unchanged: B stays in force, and
 *      the log says so and what to do;
 *   2. change the file to C and restart: start-up refuses (exit 2), naming both and the two ways out;
 *   3. `policy show > file` (keep B): the next start serves, B in force;
 *   4. a deploy of the file after that (D) is applied at start as before.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ConsoleClient } from './support/console-client.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { ENTERPRISE } from './support/server.js';

const run = promisify(execFile);
const token = `rst-test-${randomBytes(16).toString('hex')}`;
let db: TestDatabase;
let dir: string;
let policyFile: string;

const policyText = (groups: string) => `version: 1
roles:
  - name: finance
    when: '${ENTERPRISE}:department eq "Finance"'
    groups: [${groups}]
`;

before(async () => {
  db = await createTestDatabase({ migrate: false });
  dir = await mkdtemp(path.join(os.tmpdir(), 'roster-policy-restart-'));
  policyFile = path.join(dir, 'policy.yaml');
});
after(async () => {
  await db.drop();
  await rm(dir, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const env = (port: number) => ({ ...process.env, DATABASE_URL: db.url, ROSTER_POLICY_FILE: policyFile, ROSTER_BOOTSTRAP_TOKEN: token, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' });

interface Started {
  url: string;
  output: () => string;
  stop(): Promise<void>;
}

/** `roster serve` as a process; resolves when it is ready, rejects with its output when it exits first. */
async function serve(): Promise<Started> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], { env: env(port), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? -1)));
  const url = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
    const code = await Promise.race([exited, new Promise<undefined>((resolve) => setTimeout(resolve, 200))]);
    if (code !== undefined) throw Object.assign(new Error(`roster serve exited ${code}`), { code, output });
    const ready = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
    if (ready) {
      return {
        url,
        output: () => output,
        stop: async () => {
          child.kill('SIGTERM');
          await exited;
        },
      };
    }
  }
  child.kill('SIGKILL');
  throw new Error(`roster serve was not ready in 60 s:\n${output}`);
}

const appliedVersion = async () => ((await db.knex('policy_state').first()) as { version: string; applied_by: string } | undefined);

async function applyInConsole(url: string, text: string): Promise<string> {
  const browser = new ConsoleClient(url);
  await browser.signInWithToken(token);
  const csrf = await browser.csrfToken();
  const plan = await browser.post('/console/policy/plan', { _csrf: csrf, policy: text });
  const version = /version <strong>([0-9a-f]+)<\/strong>/.exec(plan.text)?.[1];
  assert.ok(version, plan.text);
  const applied = await browser.post('/console/policy/apply', { _csrf: csrf, policy: text, version, reason: 'Finance moved to the new reporting group' });
  assert.equal(applied.status, 303, applied.text);
  return version;
}

test('a policy applied in the console survives a restart; a changed file does not silently overwrite it', { timeout: 240_000 }, async () => {
  await writeFile(policyFile, policyText('Finance Reporting'));
  const first = await serve();
  const fileVersion = (await appliedVersion())!.version;
  const consoleVersion = await applyInConsole(first.url, policyText('Finance Ledger'));
  assert.notEqual(consoleVersion, fileVersion);
  await first.stop();

  // 1. Same file, restarted: the console's apply stays in force, and the log says why.
  const second = await serve();
  assert.equal((await appliedVersion())!.version, consoleVersion);
  assert.match((await appliedVersion())!.applied_by, /^console:/);
  assert.match(second.output(), /has not changed since the last start; the policy applied later by console:.* stays in force/);
  assert.match(second.output(), /policy show >/);
  await second.stop();

  // 2. The file changed too: start-up refuses, naming both, and says how to choose.
  await writeFile(policyFile, policyText('Finance Archive'));
  const refused = await serve().catch((error: { code?: number; output?: string }) => error);
  assert.equal((refused as { code?: number }).code, 2);
  const message = (refused as { output: string }).output;
  assert.match(message, /Roster did not start: the policy file .*policy\.yaml changed since the last start/);
  assert.match(message, new RegExp(`a different policy \\(version ${consoleVersion}\\) was applied since then by console:`));
  assert.match(message, /policy apply --file/);
  assert.match(message, /policy show >/);
  assert.equal((await appliedVersion())!.version, consoleVersion, 'nothing was applied');

  // 3. Keep the console's policy: save it into the file; the next start serves it.
  const shown = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', 'policy', 'show'], { env: { ...env(0), LOG_LEVEL: 'error' } });
  assert.equal(shown.stdout, policyText('Finance Ledger'));
  await writeFile(policyFile, shown.stdout);
  const third = await serve();
  assert.equal((await appliedVersion())!.version, consoleVersion);
  await third.stop();

  // 4. A later deploy of the file is applied at start, as before.
  await writeFile(policyFile, policyText('Finance Archive'));
  const fourth = await serve();
  const deployed = (await appliedVersion())!;
  assert.notEqual(deployed.version, consoleVersion);
  assert.equal(deployed.applied_by, 'roster-serve');
  await fourth.stop();
});
