/**
 * Console journeys in a real headless Chromium (test/support/browser.ts) against a real Roster
 * on real PostgreSQL, a real OpenID Connect provider on loopback (node-oidc-provider) and a
 * fault-injecting SCIM target: sign in through the provider; find a person and see why they have
 * a group; retry a parked object until the target takes it; approve a guard pause; a viewer
 * refused an operator action; a form without its CSRF token refused. Each journey saves a
 * screenshot under test-artifacts/, and axe-core finds no serious or critical problem on any page.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { listParked } from '../src/sync/parked.js';
import { browserSkip, startBrowser, type TestBrowser } from './support/browser.js';
import { oidcConsoleSettings, registerRoster, signInThroughProvider as signInWithProvider } from './support/console-journey.js';
import { startFaultTarget, type FaultTarget } from './support/fault-target.js';
import { startOidcProvider, type TestOidcProvider } from './support/oidc-provider.js';
import { ENTERPRISE, PATCH_OP, USER_SCHEMA } from './support/server.js';
import { startRosterA, waitFor, type RosterA } from './support/sync-harness.js';

const POLICY = `version: 1
roles:
  - name: finance-analyst
    when: '${ENTERPRISE}:department eq "Finance" and title co "Analyst"'
    groups: [Finance Reporting]
`;

let op: TestOidcProvider;
let target: FaultTarget;
let roster: RosterA;
let browser: TestBrowser;
let rejectCarol = true;
const accessibility: string[] = [];

before(async () => {
  if (browserSkip) return;
  op = await startOidcProvider({
    olivia: { name: 'Olivia Operator', email: 'olivia@example.com', groups: ['Roster-Operators', 'Everyone'] },
    victor: { name: 'Victor Viewer', email: 'victor@example.com', groups: ['Staff'] },
    nora: { name: 'Nora Nobody', email: 'nora@example.com', groups: ['Everyone'] },
    ada: { name: 'Ada Auditor', email: 'ada@example.com', groups: ['Roster-Auditors'] },
  });
  target = await startFaultTarget();
  target.reject((method, _path, body) => rejectCarol && method === 'POST' && body?.userName === 'carol@example.com');
  const settings = oidcConsoleSettings(op);
  roster = await startRosterA(
    [{ name: 'target', baseUrl: target.url, auth: { type: 'bearer', tokenEnv: 'TARGET_TOKEN' }, timeout: '2s', retry: { baseDelay: '50ms', maxDelay: '400ms' }, guard: { maxDeprovisions: 1 } }],
    { TARGET_TOKEN: target.token },
    { server: { console: settings, policy: POLICY } },
  );
  registerRoster(op, settings, roster.server.url);
  browser = await startBrowser();
});

after(async () => {
  if (browserSkip) return;
  await browser?.close();
  await roster?.close();
  await target?.close();
  await op?.close();
});

async function scimUser(userName: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await roster.server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA, ENTERPRISE], userName, ...extra } });
  assert.equal(res.status, 201, res.text);
  return res.body.id as string;
}

/** Goes through the provider's login page as `login`; ends back in the console. */
const signInThroughProvider = (_page: Page, login: string) => signInWithProvider(browser, roster.server.url, op, login);

async function checkAccessibility(): Promise<void> {
  accessibility.push(...(await browser.accessibilityProblems()));
}

test('sign in through the OpenID Connect provider; a person without a mapped role is refused', { skip: browserSkip, timeout: 120_000 }, async () => {
  const { page } = browser;
  await page.goto(`${roster.server.url}/console/sign-in`);
  await checkAccessibility();
  await signInThroughProvider(page, 'olivia');
  assert.equal(new URL(page.url()).pathname, '/console');
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  assert.match(await page.locator('header .who').innerText(), /Olivia Operator \(operator\)/);
  await checkAccessibility();
  const shot = await browser.screenshot('console-overview-after-oidc-sign-in');
  const session = await roster.server.db.knex('console_sessions').where({ subject: 'olivia' }).first();
  assert.equal(session.issuer, op.issuer);
  assert.deepEqual(session.roles, ['operator']);
  const entry = await roster.server.db.knex('journal').where({ action: 'console.signed_in' }).orderBy('id', 'desc').first();
  assert.equal(entry.actor, `console:Olivia Operator <olivia@${op.issuer}>`);
  assert.ok(shot);

  await signInThroughProvider(page, 'nora');
  assert.match(await page.locator('[role="alert"]').innerText(), /Nora Nobody has no console role/);
  const refused = await roster.server.db.knex('journal').where({ action: 'auth.forbidden', source: 'auth' }).orderBy('id', 'desc').first();
  assert.equal(refused.actor, `console:Nora Nobody <nora@${op.issuer}>`);
  await browser.screenshot('console-sign-in-refused-without-role');
});

test('find a person and see why they have a group', { skip: browserSkip, timeout: 120_000 }, async () => {
  const alice = await scimUser('alice@example.com', { displayName: 'Alice Analyst', title: 'Senior Analyst', [ENTERPRISE]: { department: 'Finance' } });
  await scimUser('bob@example.com', { displayName: 'Bob Builder', title: 'Engineer', [ENTERPRISE]: { department: 'Engineering' } });
  const { page } = browser;
  await signInThroughProvider(page, 'olivia');
  await page.getByRole('link', { name: 'People', exact: true }).click();
  await page.getByLabel('Name, userName, email or id').fill('alice');
  await page.getByRole('button', { name: 'Search' }).click();
  await checkAccessibility();
  await page.getByRole('link', { name: 'alice@example.com' }).click();
  await page.getByRole('heading', { name: 'Alice Analyst' }).waitFor();
  const row = page.getByRole('table', { name: /Groups, and why/ }).getByRole('row', { name: /Finance Reporting/ });
  const why = await row.innerText();
  assert.match(why, /policy policy\.yaml/);
  assert.match(why, /department = Finance/);
  assert.match(why, /role finance-analyst/);
  assert.match(why, /title co "Analyst"/);
  await checkAccessibility();
  await browser.screenshot('console-person-why-group');

  // The group's page, and the journal entry that added her, open from here.
  await row.getByRole('link', { name: 'Finance Reporting' }).click();
  await page.getByRole('heading', { name: 'Members' }).waitFor();
  assert.match(await page.locator('main').innerText(), /alice@example\.com/);
  await checkAccessibility();
  await page.getByRole('link', { name: 'Groups', exact: true }).click();
  await checkAccessibility();
  // Her promotion, found in the journal with the API's filters, shows before and after.
  const promoted = await roster.server.request('PATCH', `/Users/${alice}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: 'Lead Analyst' }] } });
  assert.equal(promoted.status, 200, promoted.text);
  await page.getByRole('link', { name: 'Journal', exact: true }).click();
  await page.getByLabel('User (userName)').fill('alice@example.com');
  await page.getByLabel('Action(s)').fill('update');
  await page.getByRole('button', { name: 'Filter' }).click();
  await checkAccessibility();
  await page.locator('main table tbody tr a[href^="/console/journal/"]').first().click();
  await page.getByRole('heading', { name: 'What changed' }).waitFor();
  const diff = page.getByRole('table', { name: 'Before and after' }).getByRole('row', { name: /title/ });
  assert.equal(await diff.locator('del').innerText(), 'Senior Analyst');
  assert.equal(await diff.locator('ins').innerText(), 'Lead Analyst');
  await checkAccessibility();
  await browser.screenshot('console-journal-entry');
});

test('look at access as of an earlier moment, then open a leaver\'s receipt', { skip: browserSkip, timeout: 120_000 }, async () => {
  const knex = roster.server.db.knex;
  const alice = (await knex('users').whereRaw(`resource->>'userName' = 'alice@example.com'`).first()).id as string;
  // A moment while she still had Finance Reporting (whole seconds, as a person would type it).
  const before = new Date(Math.ceil(Date.now() / 1000) * 1000 + 1000);
  await new Promise((resolve) => setTimeout(resolve, before.getTime() - Date.now() + 50));
  const left = await roster.server.request('PATCH', `/Users/${alice}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] } });
  assert.equal(left.status, 200, left.text);
  await waitFor(async () => (await knex('journal').where({ action: 'sync.push', resource_id: alice }).whereRaw(`changes->>'outcome' = 'ok' AND changes->>'method' = 'PATCH'`).first()) || undefined, 'the deactivation pushed');

  const { page } = browser;
  await signInThroughProvider(page, 'olivia');
  await page.goto(`${roster.server.url}/console/people/${alice}`);
  assert.doesNotMatch(await page.locator('main').innerText(), /Finance Reporting\s+policy/, 'no longer a member');
  await page.getByLabel(/Access as of/).fill(before.toISOString().replace('.000Z', 'Z'));
  await page.getByRole('button', { name: 'Show' }).click();
  const groups = await page.getByRole('table', { name: 'Groups' }).innerText();
  assert.match(groups, /Finance Reporting/);
  assert.match(await page.getByRole('table', { name: 'Roles' }).innerText(), /finance-analyst/);
  await checkAccessibility();
  await browser.screenshot('console-access-as-of');

  await page.goto(`${roster.server.url}/console/people/${alice}`);
  await page.getByRole('link', { name: 'Leaver receipt' }).click();
  const receipt = await page.locator('main').innerText();
  assert.match(receipt, /1\. Deactivation/);
  assert.match(await page.getByRole('table', { name: 'The change that deactivated the account' }).innerText(), /active\s+true\s+false|active\s+—\s+false/);
  assert.match(await page.getByRole('table', { name: 'Memberships and roles removed' }).innerText(), /group Finance Reporting[\s\S]*role finance-analyst/);
  assert.match(await page.getByRole('table', { name: /What each connector sent/ }).innerText(), /target[\s\S]*PATCH[\s\S]*acknowledged/);
  await checkAccessibility();
  await browser.screenshot('console-leaver-receipt');
  const json = await (await fetch(`${roster.server.url}/console/people/${alice}/receipt?format=json`, { headers: { cookie: (await browser.context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ') } })).json();
  assert.equal(json.deactivation.source, 'scim');
  assert.deepEqual(json.membershipsRemoved.map((m: { group: string }) => m.group), ['Finance Reporting']);
  assert.equal(json.pushes.at(-1).outcome, 'ok');
});

test('retry a parked object against a fault-injecting target until it succeeds', { skip: browserSkip, timeout: 120_000 }, async () => {
  const carol = await scimUser('carol@example.com', { displayName: 'Carol Rejected' });
  await waitFor(async () => (await listParked(roster.server.db.knex, 'target')).some((p) => p.resourceId === carol) || undefined, 'carol parked');
  const { page } = browser;
  await signInThroughProvider(page, 'olivia');
  await page.getByRole('link', { name: 'Connectors', exact: true }).click();
  await checkAccessibility();
  await page.getByRole('link', { name: 'target' }).first().click();
  await page.getByRole('heading', { name: /Parked objects \(1\)/ }).waitFor();
  await checkAccessibility();

  // The target still rejects her: the retry says so and she stays parked.
  await page.getByRole('button', { name: `Retry User ${carol}` }).click();
  assert.match(await page.locator('[role="alert"]').innerText(), /rejected it again/);
  assert.equal((await listParked(roster.server.db.knex, 'target')).length, 1);

  // The target is fixed: the next retry pushes her.
  rejectCarol = false;
  await page.getByRole('button', { name: `Retry User ${carol}` }).click();
  assert.match(await page.locator('[role="status"]').first().innerText(), /the target accepted it/);
  await page.getByText('Nothing is parked.').waitFor();
  assert.equal([...target.users.values()].filter((u) => u.userName === 'carol@example.com').length, 1);
  await browser.screenshot('console-connector-retried');

  const retries = await roster.server.db.knex('journal').where({ action: 'sync.retried', resource_id: carol }).orderBy('id');
  assert.equal(retries.length, 2);
  assert.equal(retries[1].actor, `console:Olivia Operator <olivia@${op.issuer}>`);
  assert.equal(retries[1].source, 'console');
  assert.equal(retries[1].changes.outcomes[0].outcome, 'pushed');
  assert.ok(retries[1].request_id, 'the request id of the console request');
});

test('approve a guard pause', { skip: browserSkip, timeout: 120_000 }, async () => {
  const ids = [await scimUser('dan@example.com'), await scimUser('erin@example.com')];
  await waitFor(() => ['dan@example.com', 'erin@example.com'].every((n) => [...target.users.values()].some((u) => u.userName === n)) || undefined, 'both pushed');
  for (const id of ids) assert.equal((await roster.server.request('DELETE', `/Users/${id}`)).status, 204);
  await waitFor(async () => (await roster.server.db.knex('sync_connectors').where({ connector: 'target' }).first()).paused_at || undefined, 'the guard pauses the connector');
  const { page } = browser;
  await signInThroughProvider(page, 'olivia');
  await page.goto(`${roster.server.url}/console/connectors/target`);
  assert.match(await page.locator('main').innerText(), /paused since/);
  await browser.screenshot('console-connector-paused');
  await page.getByRole('button', { name: 'Approve and resume' }).click();
  assert.match(await page.locator('[role="status"]').first().innerText(), /Approved: the connector resumes/);
  assert.equal((await roster.server.db.knex('sync_connectors').where({ connector: 'target' }).first()).paused_at, null);
  const approved = await roster.server.db.knex('journal').where({ action: 'sync.approved' }).first();
  assert.equal(approved.actor, `console:Olivia Operator <olivia@${op.issuer}>`);
  await checkAccessibility();
  await browser.screenshot('console-connector-approved');
});

test('preview and apply a policy change with a reason', { skip: browserSkip, timeout: 120_000 }, async () => {
  const { page } = browser;
  await signInThroughProvider(page, 'olivia');
  await page.getByRole('link', { name: 'Policy', exact: true }).click();
  assert.match(await page.getByRole('table', { name: /Rules of policy\.yaml/ }).innerText(), /finance-analyst/);
  await checkAccessibility();
  const changed = `${POLICY}  - name: engineering
    when: '${ENTERPRISE}:department eq "Engineering"'
    groups: [Engineering Tools]
`;
  await page.getByLabel(/Policy file \(YAML\)/).fill(changed);
  await page.getByRole('button', { name: 'Preview the plan' }).click();
  const groups = await page.getByRole('table', { name: 'Groups' }).innerText();
  assert.match(groups, /Engineering Tools\s+\+1\s+−0\s+bob@example\.com/);
  await checkAccessibility();
  await browser.screenshot('console-policy-plan');
  await page.getByLabel('Reason (kept in the journal)').fill('Engineering gets its tools group (ticket ENG-42)');
  await page.getByRole('button', { name: /^Apply version/ }).click();
  assert.match(await page.locator('[role="status"]').first().innerText(), /Applied version [0-9a-f]+: 1 user\(s\) brought in line/);
  const entry = await roster.server.db.knex('journal').where({ action: 'policy.apply' }).orderBy('id', 'desc').first();
  assert.equal(entry.actor, `console:Olivia Operator <olivia@${op.issuer}>`);
  assert.equal(entry.reason.statedReason, 'Engineering gets its tools group (ticket ENG-42)');
  const bob = await roster.server.request('GET', `/Users?filter=${encodeURIComponent('userName eq "bob@example.com"')}`);
  assert.deepEqual(bob.body.Resources[0].groups.map((g: { display: string }) => g.display), ['Engineering Tools']);
  await browser.screenshot('console-policy-applied');
});

test('upload an HR CSV with a rejected row: dry run, then apply', { skip: browserSkip, timeout: 120_000 }, async () => {
  const csv = [
    'Employee ID,First Name,Last Name,Preferred Name,Work Email,Department,Job Title,Cost Center,Location,Employment Type,Manager ID,Start Date,End Date,Status',
    'E900001,Hana,Kato,Hana,hana.kato@example.com,Finance,Financial Analyst,CC-1,"Berlin, DE",Employee,,2024-01-08,,Active',
    'E900002,Ivo,Novak,Ivo,ivo.novak@example.com,Sales,Account Executive,CC-2,"Prague, CZ",Employee,,someday,,Active',
    'E900003,Jun,Park,Jun,jun.park@example.com,Engineering,Engineer,CC-3,"Seoul, KR",Employee,,2025-03-03,,Active',
  ].join('\n');
  const { page } = browser;
  await signInThroughProvider(page, 'olivia');
  await page.getByRole('link', { name: 'HR import', exact: true }).click();
  await checkAccessibility();
  await page.getByLabel('HR export (CSV)').setInputFiles({ name: 'hr-december.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.getByRole('button', { name: 'Dry run' }).click();
  assert.match(await page.locator('main').innerText(), /Dry run of hr-december\.csv: 3 rows/);
  const rejected = await page.getByRole('table', { name: 'Rejected rows' }).innerText();
  assert.match(rejected, /3\s+E900002\s+Start Date "someday" is not a date/);
  assert.equal((await roster.server.db.knex('users').whereRaw(`resource->>'userName' = 'hana.kato@example.com'`)).length, 0, 'a dry run writes nothing');
  await checkAccessibility();
  await browser.screenshot('console-hr-import-dry-run');
  // The apply runs in the background: its page shows a progress bar, then the report. Holding a
  // lock on users keeps the import from writing until the running page has been looked at.
  const hold = await roster.server.db.knex.transaction();
  await hold.raw('LOCK TABLE users IN SHARE MODE');
  await page.getByRole('button', { name: 'Apply this file' }).click();
  const bar = page.locator('progress#task-progress');
  await bar.waitFor();
  assert.match(await page.getByRole('heading', { level: 1 }).innerText(), /HR import: hr-december\.csv/);
  // console.js follows the task's JSON status: the total to write (2 people; the rejected row is not written).
  await page.locator('progress#task-progress[max="2"]').waitFor();
  assert.match(await page.locator('#task-phase').innerText(), /writing people/);
  assert.equal(await page.locator('#task-counts').innerText(), '0 of 2');
  assert.match(page.url(), /\/console\/tasks\/[\w-]+$/);
  await checkAccessibility();
  await browser.screenshot('console-hr-import-progress');
  await hold.commit();
  await page.getByText('Applied hr-december.csv.').waitFor({ timeout: 60_000 });
  assert.equal(await bar.count(), 0, 'the finished task shows its report, not the bar');
  assert.match(await page.locator('main').innerText(), /Imported hr-december\.csv: 3 rows/);
  assert.match(await page.getByRole('table', { name: 'Rejected rows' }).innerText(), /3\s+E900002/);
  const hana = await roster.server.db.knex('users').whereRaw(`resource->>'userName' = 'hana.kato@example.com'`).first();
  assert.ok(hana, 'applied');
  const created = await roster.server.db.knex('journal').where({ action: 'create', resource_id: hana.id }).first();
  assert.equal(created.actor, `import:hr-december.csv (console:Olivia Operator <olivia@${op.issuer}>)`);
  assert.equal(created.source, 'import');
  await browser.screenshot('console-hr-import-applied');
});

test('a drift report from the connector page: nothing changes, the unmanaged account is named', { skip: browserSkip, timeout: 120_000 }, async () => {
  target.addUser({ schemas: [USER_SCHEMA], userName: 'stranger@example.com', active: true });
  const remoteBefore = target.users.size;
  const { page } = browser;
  await signInThroughProvider(page, 'olivia');
  await page.goto(`${roster.server.url}/console/connectors/target`);
  // Reading the target's users takes a moment, so the sync's progress page is seen running.
  target.fail(2, { kind: 'slow', ms: 1500 }, (method, path) => method === 'GET' && path.startsWith('/Users'));
  await page.getByRole('button', { name: 'Report drift (changes nothing)' }).click();
  await page.getByRole('heading', { name: 'Drift report: target' }).waitFor();
  await page.locator('progress#task-progress').waitFor();
  assert.match(await page.locator('#task-phase').innerText(), /…/);
  await checkAccessibility();
  await browser.screenshot('console-drift-report-progress');
  await page.getByText('Report only: nothing was changed').waitFor({ timeout: 60_000 });
  const report = await page.locator('main').innerText();
  assert.match(report, /Report only: nothing was changed/);
  assert.match(report, /Not managed by Roster\s+1 users, 0 groups \(left alone\): stranger@example\.com/);
  assert.equal(target.users.size, remoteBefore, 'nothing created or removed on the target');
  const requested = await roster.server.db.knex('journal').where({ action: 'sync.full.requested' }).orderBy('id', 'desc').first();
  assert.equal(requested.actor, `console:Olivia Operator <olivia@${op.issuer}>`);
  assert.equal(requested.changes.reportOnly, true);
  assert.ok(await roster.server.db.knex('journal').where({ action: 'sync.full', request_id: requested.request_id }).first(), 'the sync\'s own entry shares the request id');
  await checkAccessibility();
  await browser.screenshot('console-drift-report');
});

test('the overview charts changes per hour by source and each connector\'s push outcomes', { skip: browserSkip, timeout: 60_000 }, async () => {
  const { page } = browser;
  await signInThroughProvider(page, 'olivia');
  assert.match(await page.getByRole('img', { name: /Journal entries per hour over the last 24 hours: \d+ in all/ }).getAttribute('aria-labelledby') ?? '', /changes-title/);
  assert.match(await page.getByRole('table', { name: /Pushes per connector and outcome/ }).innerText(), /target\s+ok\s+\d+\s+\d+ ms/);
  await page.getByText('The numbers').click();
  assert.match(await page.getByRole('table', { name: 'Entries per hour by source' }).innerText(), /scim/);
  await checkAccessibility();
  await browser.screenshot('console-overview-activity');
});

/** Submits a form built in the page (as a forged or hand-made request would), with or without the CSRF token. */
async function submitForm(page: Page, action: string, csrf: string | undefined): Promise<void> {
  await Promise.all([
    page.waitForNavigation(),
    page.evaluate(
      ({ action, csrf }) => {
        const doc = (globalThis as unknown as { document: any }).document; // eslint-disable-line @typescript-eslint/no-explicit-any
        const form = doc.createElement('form');
        form.method = 'post';
        form.action = action;
        if (csrf !== undefined) {
          const input = doc.createElement('input');
          input.type = 'hidden';
          input.name = '_csrf';
          input.value = csrf;
          form.appendChild(input);
        }
        doc.body.appendChild(form);
        form.submit();
      },
      { action, csrf },
    ),
  ]);
}

test('a viewer is refused an operator action, server-side', { skip: browserSkip, timeout: 120_000 }, async () => {
  const { page } = browser;
  await signInThroughProvider(page, 'victor');
  assert.match(await page.locator('header .who').innerText(), /Victor Viewer \(viewer\)/);
  await page.goto(`${roster.server.url}/console/connectors/target`);
  assert.equal(await page.getByRole('button', { name: /Retry|Approve/ }).count(), 0, 'a viewer sees no action buttons');
  const csrf = await page.locator('input[name="_csrf"]').first().inputValue();
  await submitForm(page, '/console/connectors/target/approve', csrf);
  assert.match(await page.locator('[role="alert"]').innerText(), /needs the operator role/);
  await checkAccessibility();
  await browser.screenshot('console-viewer-refused');
  const refused = await roster.server.db.knex('journal').where({ action: 'auth.forbidden', source: 'console' }).orderBy('id', 'desc').first();
  assert.equal(refused.actor, `console:Victor Viewer <victor@${op.issuer}>`);
});

test('a request without the CSRF token is refused', { skip: browserSkip, timeout: 120_000 }, async () => {
  const { page } = browser;
  await signInThroughProvider(page, 'olivia');
  const journalBefore = (await roster.server.db.knex.raw(`SELECT max(id) AS id FROM journal`)).rows[0].id;
  await submitForm(page, '/console/connectors/target/approve', undefined);
  assert.match(await page.locator('[role="alert"]').innerText(), /security token \(CSRF\)/);
  await browser.screenshot('console-csrf-refused');
  assert.equal((await roster.server.db.knex.raw(`SELECT max(id) AS id FROM journal`)).rows[0].id, journalBefore, 'nothing was journaled or done');
});

test('an auditor verifies the journal and exports it; an operator may not', { skip: browserSkip, timeout: 120_000 }, async () => {
  const { page } = browser;
  await signInThroughProvider(page, 'olivia');
  await page.goto(`${roster.server.url}/console/journal/verify`);
  assert.match(await page.locator('main').innerText(), /Running a verification needs the auditor role/);
  assert.equal(await page.getByRole('link', { name: 'Export CSV' }).count(), 0);

  await signInThroughProvider(page, 'ada');
  await page.getByRole('link', { name: 'Journal', exact: true }).click();
  await page.getByRole('link', { name: 'Verification' }).click();
  await page.getByRole('button', { name: 'Verify the journal now' }).click();
  const result = await page.locator('[role="status"]').first().innerText();
  assert.match(result, /Last verification .* by console:Ada Auditor .*: intact, \d+ entries checked; head position \d+/);
  await checkAccessibility();
  await browser.screenshot('console-journal-verified');
  const download = await Promise.all([page.waitForEvent('download'), page.goto(`${roster.server.url}/console/journal`).then(() => page.getByRole('link', { name: 'Export CSV' }).click())]);
  assert.match(download[0].suggestedFilename(), /^roster-journal-[\dTZ-]+\.csv$/);
});

test('no serious or critical accessibility problem on any page, and no CSP violation', { skip: browserSkip }, () => {
  assert.deepEqual(accessibility, []);
  assert.deepEqual(browser.cspViolations, []);
});
