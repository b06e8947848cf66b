/**
 * The ops console over HTTP (no browser): sign-in with a Roster token, sessions (cookie flags,
 * idle and absolute limits, sign-out), CSRF and role refusals, the strict CSP, escaping, and the
 * pages reading through the same queries as the API. Browser journeys: console-browser.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createToken } from '../src/auth/token-store.js';
import { parseRoleMap, rolesFromClaim } from '../src/config/console.js';
import { loadConfig } from '../src/config/env.js';
import { ConsoleClient, hiddenField } from './support/console-client.js';
import { ENTERPRISE, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';

const POLICY = `version: 1
roles:
  - name: finance-analyst
    when: '${ENTERPRISE}:department eq "Finance" and title co "Analyst"'
    groups: [Finance Reporting]
`;

async function withServer(run: (server: TestServer) => Promise<void>): Promise<void> {
  const server = await startTestServer({ policy: POLICY });
  try {
    await run(server);
  } finally {
    await server.close();
  }
}

const sessionCount = async (server: TestServer): Promise<number> => Number((await server.db.knex.raw(`SELECT count(*)::int AS n FROM console_sessions`)).rows[0].n);

async function createUser(server: TestServer, body: Record<string, unknown>): Promise<string> {
  const res = await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA, ENTERPRISE], ...body } });
  assert.equal(res.status, 201, res.text);
  return res.body.id as string;
}

test('token sign-in starts a server-side session with safe cookies; pages carry a strict CSP; sign-out ends it', async () => {
  await withServer(async (server) => {
    const browser = new ConsoleClient(server.url);
    const anonymous = await browser.get('/console/people');
    assert.equal(anonymous.status, 303);
    assert.equal(anonymous.headers.get('location'), '/console/sign-in?next=%2Fconsole%2Fpeople');

    const signIn = await browser.signInWithToken(server.token);
    assert.equal(signIn.status, 303, signIn.text);
    assert.equal(signIn.headers.get('location'), '/console');
    const cookie = signIn.headers.getSetCookie().find((c) => c.startsWith('roster_console='))!;
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Lax/);
    assert.match(cookie, /Path=\/console/);
    assert.doesNotMatch(cookie, /Secure/, 'plain http on loopback: no Secure flag');
    // Only the hash of the session id is stored.
    const { rows } = await server.db.knex.raw(`SELECT id_hash, roles, issuer, subject, display_name FROM console_sessions`);
    assert.equal(rows.length, 1);
    assert.notEqual(rows[0].id_hash, browser.cookies.get('roster_console'));
    assert.deepEqual(rows[0].roles, ['viewer', 'operator', 'auditor']);

    const overview = await browser.get('/console');
    assert.equal(overview.status, 200);
    const csp = overview.headers.get('content-security-policy')!;
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /style-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
    assert.doesNotMatch(overview.text, /<script>|style="/, 'no inline script or style');
    assert.match(overview.text, /<main id="main"/);
    const css = await browser.get('/console/static/console.css');
    assert.equal(css.status, 200);

    const journaled = await server.db.knex('journal').where({ action: 'console.signed_in' }).first();
    assert.equal(journaled.source, 'console');
    assert.equal(journaled.actor, 'console:bootstrap <bootstrap@roster-token>');

    const csrf = await browser.csrfToken();
    const out = await browser.post('/console/sign-out', { _csrf: csrf });
    assert.equal(out.status, 303);
    assert.equal(await sessionCount(server), 0);
    assert.equal((await browser.get('/console')).status, 303);
  });
});

test('a bad token, a forged sign-in form and a token without ops:read are refused at sign-in', async () => {
  await withServer(async (server) => {
    const browser = new ConsoleClient(server.url);
    const bad = await browser.signInWithToken('rst_not-a-real-token-at-all');
    assert.equal(bad.status, 401);
    assert.match(bad.text, /not valid/);

    const page = await browser.get('/console/sign-in');
    const forged = await browser.post('/console/sign-in/token', { _sign_in: 'x' + hiddenField(page.text, '_sign_in').slice(1), token: server.token });
    assert.equal(forged.status, 403);

    const { token } = await createToken(server.db.knex, 'idp-only', ['scim:write']);
    const noOps = await browser.signInWithToken(token);
    assert.equal(noOps.status, 403);
    assert.match(noOps.text, /lacks the ops:read scope/);
    assert.equal(await sessionCount(server), 0);
    // Refused sign-ins are journaled like the API's refusals, without the token.
    const refusals = await server.db.knex('journal').where({ source: 'auth' }).orderBy('id');
    assert.deepEqual(refusals.map((r) => [r.action, r.actor, r.reason.code, r.reason.path]), [
      ['auth.failed', 'anonymous', 'unknown_token', '/console/sign-in/token'],
      ['auth.forbidden', 'idp-only', 'insufficient_scope', '/console/sign-in/token'],
    ]);
    assert.doesNotMatch(JSON.stringify(refusals), /rst_not-a-real-token|rst_[A-Za-z0-9_-]{20}/);
  });
});

test('a state-changing request without the CSRF token, or from a role without the right, is refused and changes nothing', async () => {
  await withServer(async (server) => {
    const { token } = await createToken(server.db.knex, 'reader', ['ops:read']);
    const viewer = new ConsoleClient(server.url);
    assert.equal((await viewer.signInWithToken(token)).status, 303);
    const csrf = await viewer.csrfToken();

    const noToken = await viewer.post('/console/sign-out', {});
    assert.equal(noToken.status, 403);
    assert.match(noToken.text, /security token \(CSRF\)/);
    assert.equal((await viewer.get('/console')).status, 200, 'the session survives a refused request');

    const journalBefore = Number((await server.db.knex('journal').count({ n: '*' }))[0]!.n);
    const refused = await viewer.post('/console/connectors/anything/approve', { _csrf: csrf });
    assert.equal(refused.status, 403);
    assert.match(refused.text, /needs the operator role/);
    const entries = await server.db.knex('journal').where('id', '>', 0).orderBy('id', 'desc').limit(1);
    assert.equal(entries[0].action, 'auth.forbidden');
    assert.equal(entries[0].actor, 'console:reader <token:' + (await server.db.knex('api_tokens').where({ name: 'reader' }).first()).id + '@roster-token>');
    assert.equal(Number((await server.db.knex('journal').count({ n: '*' }))[0]!.n), journalBefore + 1);
  });
});

test('sessions end after the idle limit and after the absolute limit', async () => {
  await withServer(async (server) => {
    const browser = new ConsoleClient(server.url);
    await browser.signInWithToken(server.token);
    assert.equal((await browser.get('/console')).status, 200);
    await server.db.knex.raw(`UPDATE console_sessions SET last_seen_at = now() - interval '31 minutes'`);
    assert.equal((await browser.get('/console')).status, 303, 'idle for longer than 30 minutes');
    assert.equal(await sessionCount(server), 0, 'the expired session is deleted');

    await browser.signInWithToken(server.token);
    await server.db.knex.raw(`UPDATE console_sessions SET created_at = now() - interval '13 hours'`);
    assert.equal((await browser.get('/console')).status, 303, 'older than 12 hours, however active');
  });
});

test('people: plain-text and SCIM-filter search, a bad filter answered on the page, the person page says why, values escaped', async () => {
  await withServer(async (server) => {
    const alice = await createUser(server, { userName: 'alice@example.com', displayName: 'Alice <b>Analyst</b>', title: 'Senior Analyst', [ENTERPRISE]: { department: 'Finance' } });
    await createUser(server, { userName: 'bob@example.com', title: 'Engineer', [ENTERPRISE]: { department: 'Engineering' } });
    const browser = new ConsoleClient(server.url);
    await browser.signInWithToken(server.token);

    const plain = await browser.get('/console/people?q=alice');
    assert.equal(plain.status, 200);
    assert.match(plain.text, /alice@example\.com/);
    assert.doesNotMatch(plain.text, /bob@example\.com/);
    assert.match(plain.text, /Alice &lt;b&gt;Analyst&lt;\/b&gt;/, 'directory values are escaped');
    assert.match(plain.text, /1 person whose names contain “alice”/);
    // Case-insensitive, over the display name too; LIKE's wildcards are plain text.
    assert.match((await browser.get('/console/people?q=ANALYST')).text, /alice@example\.com/);
    const wildcard = await browser.get('/console/people?q=%25');
    assert.match(wildcard.text, /0 people whose names contain “%”/);
    const everyone = await browser.get('/console/people?q=example.com');
    assert.match(everyone.text, /2 people whose names contain/);

    const filtered = await browser.get(`/console/people?filter=${encodeURIComponent('title eq "Engineer"')}`);
    assert.match(filtered.text, /bob@example\.com/);
    assert.doesNotMatch(filtered.text, /alice@example\.com/);

    const bad = await browser.get(`/console/people?filter=${encodeURIComponent('title eq')}`);
    assert.equal(bad.status, 400);
    assert.match(bad.text, /That search is not valid/);

    const person = await browser.get(`/console/people/${alice}`);
    assert.equal(person.status, 200);
    assert.match(person.text, /Finance Reporting/);
    assert.match(person.text, /role <strong>finance-analyst<\/strong>/);
    assert.match(person.text, /<code>department<\/code> = Finance/);
    assert.match(person.text, /policy policy\.yaml/);
    assert.doesNotMatch(person.text, /marks attributes of the Roster HR extension/, 'no HR legend for a person with no HR attributes');

    const journal = await browser.get(`/console/journal?user=alice%40example.com`);
    assert.match(journal.text, /user\.create|User/);
    const badFilter = await browser.get('/console/journal?since=yesterday-ish');
    assert.equal(badFilter.status, 400);
    assert.match(badFilter.text, /Since must be/);
    const entryId = /href="\/console\/journal\/(\d+)"/.exec(journal.text)![1];
    const entry = await browser.get(`/console/journal/${entryId}`);
    assert.equal(entry.status, 200);
    assert.match(entry.text, /Before and after/);

    const exportCsv = await browser.get('/console/journal/export?format=csv&user=alice%40example.com');
    assert.equal(exportCsv.status, 200);
    assert.match(exportCsv.headers.get('content-type')!, /text\/csv/);
    assert.match((await browser.get('/console/nowhere')).text, /No console page/);
  });
});

test('console settings: the role map, the claim, and the OIDC keys that belong together are checked at start', () => {
  const map = parseRoleMap('Roster-Operators=operator, Roster-Auditors=auditor,Staff=viewer,Roster-Operators=viewer');
  assert.ok(map instanceof Map);
  assert.deepEqual(rolesFromClaim(['Staff', 'Roster-Operators', 'Other'], map), ['viewer', 'operator']);
  assert.deepEqual(rolesFromClaim('Roster-Auditors', map), ['auditor']);
  assert.deepEqual(rolesFromClaim(undefined, map), []);
  assert.match(String(parseRoleMap('Staff=admin')), /not a console role/);

  const base = { ROSTER_CONSOLE_OIDC_ISSUER: 'https://login.example.com', ROSTER_CONSOLE_OIDC_CLIENT_ID: 'roster' };
  assert.throws(() => loadConfig({ ROSTER_CONSOLE_OIDC_ISSUER: 'https://login.example.com' }), /ROSTER_CONSOLE_OIDC_ISSUER and ROSTER_CONSOLE_OIDC_CLIENT_ID together/);
  assert.throws(() => loadConfig(base), /ROSTER_CONSOLE_OIDC_REDIRECT_URI/);
  assert.throws(() => loadConfig({ ...base, ROSTER_PUBLIC_URL: 'https://roster.example.com' }), /ROSTER_CONSOLE_ROLE_MAP must map/);
  assert.throws(() => loadConfig({ ...base, ROSTER_PUBLIC_URL: 'https://roster.example.com', ROSTER_CONSOLE_ROLE_MAP: 'x=boss' }), /ROSTER_CONSOLE_ROLE_MAP: "boss"/);
  const config = loadConfig({ ...base, ROSTER_PUBLIC_URL: 'https://roster.example.com/', ROSTER_CONSOLE_ROLE_MAP: 'ops=operator' });
  assert.equal(config.console.oidc?.redirectUri, 'https://roster.example.com/console/callback');
  assert.deepEqual(config.console.oidc?.scopes, ['openid', 'profile', 'email']);
  assert.equal(config.console.idleMs, 30 * 60_000);
  assert.throws(() => loadConfig({ ROSTER_CONSOLE_TOKEN_SIGN_IN: 'maybe' }), /ROSTER_CONSOLE_TOKEN_SIGN_IN: must be on or off/);
});

test('policy: a broken file lists its problems; a viewer may preview but not apply; the mass-revoke guard refuses and changes nothing', async () => {
  await withServer(async (server) => {
    for (let i = 0; i < 3; i++) await createUser(server, { userName: `fin${i}@example.com`, title: 'Analyst', [ENTERPRISE]: { department: 'Finance' } });
    const operator = new ConsoleClient(server.url);
    await operator.signInWithToken(server.token);
    const csrf = await operator.csrfToken();

    const broken = await operator.post('/console/policy/plan', { _csrf: csrf, policy: 'version: 1\nroles:\n  - name: x\n    when: "title eq"\n    groups: [A]\n' });
    assert.equal(broken.status, 400);
    assert.match(broken.text, /not a valid policy/);
    assert.match(broken.text, /policy\.yaml:4/);

    const { token } = await createToken(server.db.knex, 'reader', ['ops:read']);
    const viewer = new ConsoleClient(server.url);
    await viewer.signInWithToken(token);
    const viewerCsrf = await viewer.csrfToken();
    const emptied = 'version: 1\nroles: []\n';
    const preview = await viewer.post('/console/policy/plan', { _csrf: viewerCsrf, policy: emptied });
    assert.equal(preview.status, 200);
    assert.match(preview.text, /3 would lose access/);
    assert.match(preview.text, /Applying needs the operator role/);
    const version = /version <strong>([0-9a-f]+)<\/strong>/.exec(preview.text)![1]!;
    assert.equal((await viewer.post('/console/policy/apply', { _csrf: viewerCsrf, policy: emptied, version, reason: 'cleaning up' })).status, 403);

    const before = await server.db.knex.raw(`SELECT count(*)::int AS n FROM group_members`);
    const guarded = await operator.post('/console/policy/apply', { _csrf: csrf, policy: emptied, version, reason: 'cleaning up' });
    assert.equal(guarded.status, 409);
    assert.match(guarded.text, /mass-revoke guard refused: 3 of 3 users/);
    assert.deepEqual((await server.db.knex.raw(`SELECT count(*)::int AS n FROM group_members`)).rows, before.rows);
    const noReason = await operator.post('/console/policy/apply', { _csrf: csrf, policy: emptied, version, reason: '' });
    assert.equal(noReason.status, 400);
  });
});

test('every console setting is documented in .env.example', async () => {
  const { readFile } = await import('node:fs/promises');
  const example = await readFile('.env.example', 'utf8');
  const source = await readFile('src/config/env.ts', 'utf8');
  const names = [...source.matchAll(/\b(ROSTER_CONSOLE_[A-Z_]+):/g)].map((m) => m[1]!);
  assert.ok(names.length >= 10);
  for (const name of names) assert.match(example, new RegExp(`#${name}=`), `${name} in .env.example`);
});

test('HR import: an upload without its CSRF token or file is refused; a viewer may dry-run but not apply; an upload is usable by its own session only', async () => {
  await withServer(async (server) => {
    const csv = 'Employee ID,First Name,Last Name,Preferred Name,Work Email,Department,Job Title,Cost Center,Location,Employment Type,Manager ID,Start Date,End Date,Status\nE1,Ann,Lee,Ann,ann.lee@example.com,Finance,Analyst,CC,Oslo,Employee,,2024-01-01,,Active\n';
    const { token } = await createToken(server.db.knex, 'reader', ['ops:read']);
    const viewer = new ConsoleClient(server.url);
    await viewer.signInWithToken(token);
    const viewerCsrf = await viewer.csrfToken();

    assert.equal((await viewer.upload('/console/import/preview', {}, { csv: { name: 'hr.csv', text: csv } })).status, 403, 'no CSRF token');
    const noFile = await viewer.upload('/console/import/preview', { _csrf: viewerCsrf }, {});
    assert.equal(noFile.status, 400);
    assert.match(noFile.text, /Choose the HR export/);
    const dryRun = await viewer.upload('/console/import/preview', { _csrf: viewerCsrf }, { csv: { name: 'hr.csv', text: csv } });
    assert.equal(dryRun.status, 200, dryRun.text);
    assert.match(dryRun.text, /Applying needs the operator role/);
    const uploadId = (await server.db.knex('console_uploads').first()).id as string;
    assert.equal((await viewer.post('/console/import/apply', { _csrf: viewerCsrf, upload: uploadId })).status, 403);

    const operator = new ConsoleClient(server.url);
    await operator.signInWithToken(server.token);
    const stolen = await operator.post('/console/import/apply', { _csrf: await operator.csrfToken(), upload: uploadId });
    assert.equal(stolen.status, 400, "another session's upload is not found");
    assert.equal((await server.db.knex.raw(`SELECT count(*)::int AS n FROM users`)).rows[0].n, 0, 'nothing imported');

    const asOf = await operator.get(`/console/people/${randomUUID()}/as-of?at=last-tuesday`);
    assert.equal(asOf.status, 404);
  });
});

test('a long action runs in the background: a status page that reloads itself without JavaScript, its JSON, then the report; a failure says what to do next', async () => {
  await withServer(async (server) => {
    const header = 'Employee ID,First Name,Last Name,Preferred Name,Work Email,Department,Job Title,Cost Center,Location,Employment Type,Manager ID,Start Date,End Date,Status';
    const ann = 'E1,Ann,Lee,Ann,ann.lee@example.com,Finance,Analyst,CC,Oslo,Employee,,2024-01-01,,Active';
    const operator = new ConsoleClient(server.url);
    await operator.signInWithToken(server.token);
    const csrf = await operator.csrfToken();
    const upload = async (text: string, fields: Record<string, string> = {}) => {
      const preview = await operator.upload('/console/import/preview', { _csrf: csrf, ...fields }, { csv: { name: 'hr.csv', text } });
      assert.equal(preview.status, 200, preview.text);
      return hiddenField(preview.text, 'upload');
    };

    // Held off writing users, the import is seen running.
    const hold = await server.db.knex.transaction();
    await hold.raw('LOCK TABLE users IN SHARE MODE');
    const started = await operator.post('/console/import/apply', { _csrf: csrf, upload: await upload(`${header}\n${ann}\n`) });
    assert.equal(started.status, 303);
    const taskPath = started.headers.get('location')!;
    assert.match(taskPath, /^\/console\/tasks\/[\w-]{20,}$/);
    const running = await operator.get(taskPath);
    assert.equal(running.status, 200);
    assert.match(running.text, /<noscript><meta http-equiv="refresh" content="2"><\/noscript>/, 'reloads itself without JavaScript');
    assert.match(running.text, /<progress id="task-progress"/);
    assert.match(running.text, new RegExp(`data-task-status="${taskPath}/status"`));
    const status = await operator.get(`${taskPath}/status`);
    assert.equal(status.headers.get('cache-control'), 'no-store');
    assert.equal(JSON.parse(status.text).state, 'running');
    await hold.commit();

    let finished: { state: string } = { state: 'running' };
    for (let i = 0; i < 100 && finished.state === 'running'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      finished = JSON.parse((await operator.get(`${taskPath}/status`)).text) as { state: string };
    }
    assert.deepEqual(finished, { state: 'done', phase: 'finished', done: 1, total: 1, percent: 100 });
    const report = await operator.get(taskPath);
    assert.doesNotMatch(report.text, /http-equiv="refresh"/);
    assert.match(report.text, /Applied hr\.csv\./);
    assert.match(report.text, /Imported <strong>hr\.csv<\/strong>: 1 rows/);
    assert.equal((await server.db.knex.raw(`SELECT count(*)::int AS n FROM users`)).rows[0].n, 1);

    // A full import that would deactivate too many is refused by the guard, in the task: its page says what to do.
    const refused = await operator.post('/console/import/apply', { _csrf: csrf, upload: await upload(`${header}\nE2,Bo,Ek,Bo,bo.ek@example.com,Sales,Rep,CC,Oslo,Employee,,2024-01-01,,Active\n`, { full: 'on' }) });
    const refusedPath = refused.headers.get('location')!;
    let failed = '';
    for (let i = 0; i < 100 && !/Did not finish/.test(failed); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      failed = (await operator.get(refusedPath)).text;
    }
    assert.match(failed, /Did not finish: Refusing the full import: 1 of 1 users are missing from the file/);
    assert.match(failed, /From the console: upload the complete export, or run the import with the CLI/);
    assert.match(failed, /<a href="\/console\/import">Upload the file again<\/a>/);
    assert.equal(JSON.parse((await operator.get(`${refusedPath}/status`)).text).state, 'failed');
    assert.equal((await server.db.knex.raw(`SELECT count(*)::int AS n FROM users WHERE resource->>'active' = 'true'`)).rows[0].n, 1, 'nobody deactivated, nobody created');

    assert.equal((await operator.get('/console/tasks/no-such-task-at-all-here')).status, 404);

    // A task whose process stopped (no heartbeat for a while) is shown as interrupted, with what to do.
    await server.db.knex('console_tasks').insert({ id: 'interrupted-task-0123456789', kind: 'sync', title: 'Full sync: crm', started_by: 'Olivia', request_id: 'req-1', phase: 'syncing users', done: 40, total: 100, updated_at: server.db.knex.raw(`now() - interval '5 minutes'`) });
    const interrupted = await operator.get('/console/tasks/interrupted-task-0123456789');
    assert.match(interrupted.text, /Interrupted: the Roster process running it stopped at &quot;syncing users&quot; \(40 of 100\)/);
    assert.match(interrupted.text, /Start it again/);
    assert.doesNotMatch(interrupted.text, /http-equiv="refresh"/);
    assert.equal(JSON.parse((await operator.get('/console/tasks/interrupted-task-0123456789/status')).text).state, 'interrupted');
  });
});

test('the HR import without an uploaded columns file uses ROSTER_HR_COLUMNS_FILE (config.hrColumnsFile)', async () => {
  const { mkdtemp, rm, writeFile } = await import('node:fs/promises');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'roster-console-columns-'));
  const columns = path.join(dir, 'hr-columns.yaml');
  await writeFile(columns, 'version: 1\ncolumns:\n  Staff No:\n    to: urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber\n    required: true\n  Mail:\n    to: userName\n    required: true\n    format: email\n');
  const server = await startTestServer({ policy: POLICY, hrColumnsFile: columns });
  try {
    const operator = new ConsoleClient(server.url);
    await operator.signInWithToken(server.token);
    const form = await operator.get('/console/import');
    assert.match(form.text, new RegExp(`optional, default ${columns.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\)`));
    const dryRun = await operator.upload('/console/import/preview', { _csrf: await operator.csrfToken() }, { csv: { name: 'export.csv', text: 'Staff No,Mail\nS1,sam.one@example.com\nS2,sam.two@example.com\n' } });
    assert.equal(dryRun.status, 200, dryRun.text);
    assert.match(dryRun.text, /Dry run of <strong>export\.csv<\/strong>: 2 rows/);
    assert.match(dryRun.text, /<span class="n">2<\/span>to create/);
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
