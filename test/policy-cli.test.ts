/**
 * The policy commands as an operator runs them: real processes against a real database, using the
 * shipped policy.yaml and examples/columns.yaml on examples/hr-sample.csv.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from './support/database.js';

const run = promisify(execFile);
let db: TestDatabase;
let tmp: string;
before(async () => {
  db = await createTestDatabase();
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'roster-policy-cli-'));
});
after(async () => {
  await db.drop();
  await fs.rm(tmp, { recursive: true, force: true });
});

const roster = (args: string[]) =>
  run(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'error', USER: 'tester' }, maxBuffer: 20_000_000 });
const fails = (args: string[]) => roster(args).then(
  () => assert.fail(`roster ${args.join(' ')} should have failed`),
  (e: { code: number; stderr: string }) => e,
);

test('apply, import, plan a change, explain, grant, report: the operator workflow', async () => {
  const applied = await roster(['policy', 'apply', '--file', 'policy.yaml']);
  assert.match(applied.stdout, /Applied policy\.yaml version [0-9a-f]{12}/);

  const imported = await roster(['import', 'examples/hr-sample.csv', '--columns', 'examples/columns.yaml']);
  assert.match(imported.stdout, /2000 rows in [\d.]+ s: 1987 created, 0 updated, 0 unchanged, 13 rejected/);
  assert.match(imported.stdout, /row \d+ \(E1\d+\): no Work Email \(required\)/);
  assert.match(imported.stderr, /written \d+\/1987/);
  const again = await roster(['import', 'examples/hr-sample.csv']);
  assert.match(again.stdout, /0 created, 0 updated, 1987 unchanged, 13 rejected/);

  // A rule change: analysts must now be senior. The plan shows who loses, and changes nothing.
  const changed = (await fs.readFile('policy.yaml', 'utf8')).replace('and title co "Analyst"', 'and title sw "Senior"');
  const file = path.join(tmp, 'new.yaml');
  await fs.writeFile(file, changed);
  const planned = await roster(['policy', 'plan', '--file', file, '--json']);
  const plan = JSON.parse(planned.stdout);
  const reporting = plan.groups.find((g: { name: string }) => g.name === 'Finance Reporting');
  assert.ok(reporting.losses > 0 && reporting.gains === 0, planned.stdout);
  assert.equal(plan.usersLosingAccess, reporting.losses > 0 ? plan.usersLosingAccess : 0);
  const text = await roster(['policy', 'plan', '--file', file]);
  assert.match(text.stdout, /Finance Reporting\s+\+0\s+-\d+\s+lose: /);
  const unchangedPlan = await roster(['policy', 'plan', '--file', 'policy.yaml']);
  assert.match(unchangedPlan.stdout, /No changes: applying this policy would change nothing/);

  // Explain a Finance analyst and give them an exception.
  const { rows } = await db.knex.raw(`SELECT resource->>'userName' AS u FROM users WHERE resource->>'title' = 'Financial Analyst' AND resource->'active' = 'true' LIMIT 1`);
  const analyst = rows[0].u as string;
  const explained = await roster(['explain', analyst]);
  assert.match(explained.stdout, /Finance Reporting \[managed by policy policy\.yaml\]/);
  assert.match(explained.stdout, /rule finance-analyst: .*department eq "Finance" and title co "Analyst"/);
  assert.match(explained.stdout, /because department="Finance", title="Financial Analyst"/);
  assert.match(explained.stdout, /journal entry #\d+ at .* \(members\.add by import:hr-sample\.csv \(tester\), import\)/);

  const granted = await roster(['grant', analyst, 'Server Admins', '--reason', 'migration weekend (CHG-42)', '--until', '2099-01-01']).catch((e: { stderr: string }) => e);
  assert.match((granted as { stderr: string }).stderr, /more than 366 days/);
  const grantedOk = await roster(['grant', analyst, 'Server Admins', '--reason', 'migration weekend (CHG-42)']);
  assert.match(grantedOk.stdout, /Granted "Server Admins" to .* until \d{4}-/);
  // A duration from now, as the README's example gives it.
  const before14d = Date.now();
  const grantedFor = await roster(['grant', analyst, 'Support Desk', '--reason', 'audit support (CHG-43)', '--until', '14d']);
  const until = new Date(/until (\S+) \(exception/.exec(grantedFor.stdout)![1]!).getTime();
  assert.ok(Math.abs(until - (before14d + 14 * 86_400_000)) < 60_000, grantedFor.stdout);
  const csv = await roster(['report', 'access', '--group', 'Server Admins', '--format', 'csv']);
  assert.match(csv.stdout, /^group,userName,displayName,active,basis,detail,since$/m);
  assert.match(csv.stdout, new RegExp(`Server Admins,${analyst.replace('.', '\\.')},.*,true,exception,"exception: migration weekend \\(CHG-42\\) \\(by cli:tester, until \\d{4}-\\d\\d-\\d\\d\\)"`));
  assert.match(csv.stdout, /Server Admins,.*,policy,roles: it-admins,/);
  const revoked = await roster(['revoke', analyst, 'Server Admins']);
  assert.match(revoked.stdout, /no longer in "Server Admins"/);
});

test('mistakes stop with the line, the rule and the reason, and exit 2', async () => {
  const broken = path.join(tmp, 'broken.yaml');
  await fs.writeFile(broken, 'version: 1\nroles:\n  - name: finance\n    when: \'departmnt eq "Finance"\'\n    groups: [Finance Team]\n');
  const bad = await fails(['policy', 'plan', '--file', broken]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /broken\.yaml:4: role "finance": when: unknown attribute "departmnt" for User resources/);
  const emptyPolicy = path.join(tmp, 'empty.yaml');
  await fs.writeFile(emptyPolicy, 'version: 1\nroles: []\n');
  const refused = await fails(['policy', 'apply', '--file', emptyPolicy]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /Refusing to apply .*empty\.yaml .* users would lose access, more than the limit of \d+/);
  const noUser = await fails(['explain', 'nobody@example.com']);
  assert.match(noUser.stderr, /No user with userName "nobody@example.com"/);
  const noReason = await fails(['grant', 'x@example.com', 'Server Admins']);
  assert.match(noReason.stderr, /--reason/);
});
