/**
 * The Requests page in a real headless Chromium (test/support/browser.ts) against a real Roster on
 * real PostgreSQL and a real OpenID Connect provider on loopback: Rita, signed in with only the
 * requester role, requests access from the catalog; Mona, her manager, finds it in her inbox and
 * approves it with a reason; Rita sees the grant. A self-approval and a form without its CSRF
 * token are refused server-side. Oscar, an operator whose sign-in is linked to no Roster person,
 * sees every request and files one on Sam's behalf; Vera, a viewer, sees the list but no form, and
 * her forged POST is refused. Screenshots go to test-artifacts/; axe-core finds no serious or
 * critical problem on any page.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRoleMap, type ConsoleSettings } from '../src/config/console.js';
import { browserSkip, signInThroughProvider, startBrowser, type TestBrowser } from './support/browser.js';
import { startOidcProvider, type TestOidcProvider } from './support/oidc-provider.js';
import { ENTERPRISE, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';

const POLICY = `version: 1
roles:
  - name: staff
    when: 'active eq true'
    groups: [All Staff]
  - name: analysts
    when: 'title eq "Analyst"'
    groups: [Finance Reporting]
catalog:
  - name: finance-reporting
    description: Read the finance reports
    group: Finance Reporting
    approvers: [{ manager: true }]
    maxDays: 30
`;

let op: TestOidcProvider;
let roster: TestServer;
let browser: TestBrowser;
const accessibility: string[] = [];
const ids: Record<string, string> = {};

before(async () => {
  if (browserSkip) return;
  op = await startOidcProvider({
    rita: { name: 'Rita Requester', email: 'rita@example.com', groups: ['Everyone'] },
    mona: { name: 'Mona Manager', email: 'mona@example.com', groups: ['Everyone'] },
    oscar: { name: 'Oscar Operator', email: 'oscar@example.com', groups: ['Ops'] },
    vera: { name: 'Vera Viewer', email: 'vera@example.com', groups: ['Viewers'] },
  });
  const settings: ConsoleSettings = {
    oidc: { issuer: op.issuer, clientId: op.clientId, clientSecret: op.clientSecret, redirectUri: '', scopes: ['openid', 'profile', 'email'], rolesClaim: 'groups', roleMap: parseRoleMap('Everyone=requester,Ops=operator,Viewers=viewer') as Map<string, never> },
    tokenSignIn: false,
    idleMs: 30 * 60_000,
    absoluteMs: 12 * 3_600_000,
  };
  roster = await startTestServer({ console: settings, policy: POLICY });
  settings.oidc!.redirectUri = `${roster.url}/console/callback`;
  op.registerClient(settings.oidc!.redirectUri);
  for (const [userName, manager] of [['mona@example.com', undefined], ['rita@example.com', 'mona@example.com'], ['sam@example.com', 'mona@example.com']] as const) {
    const res = await roster.request('POST', '/Users', { body: { schemas: [USER_SCHEMA, ENTERPRISE], userName, active: true, title: 'Clerk', emails: [{ value: userName }], ...(manager ? { [ENTERPRISE]: { manager: { value: ids[manager] } } } : {}) } });
    assert.equal(res.status, 201, res.text);
    ids[userName] = res.body.id;
  }
  browser = await startBrowser();
});

after(async () => {
  if (browserSkip) return;
  await browser?.close();
  await roster?.close();
  await op?.close();
});

const checkAccessibility = async () => accessibility.push(...(await browser.accessibilityProblems()));
const membershipsOf = async (userName: string) =>
  (await roster.db.knex.raw(`SELECT g.resource->>'displayName' AS name FROM group_members gm JOIN groups g ON g.id = gm.group_id WHERE gm.member_id = ? ORDER BY 1`, [ids[userName]!])).rows.map((r: { name: string }) => r.name);

test('a person requests access from the catalog and their manager approves it in the console', { skip: browserSkip, timeout: 120_000 }, async () => {
  const { page } = browser;
  await signInThroughProvider(browser, roster.url, op.issuer, 'rita');
  // Only the requester role: the console opens on Requests, the one page it allows.
  assert.equal(new URL(page.url()).pathname, '/console/requests');
  assert.deepEqual(await page.locator('nav[aria-label="Console sections"] a').allInnerTexts(), ['Requests']);
  await checkAccessibility();
  await page.getByLabel('Access', { exact: true }).selectOption('finance-reporting');
  await page.getByLabel('Why you need it').fill('quarter-end close (FIN-231)');
  await page.getByLabel(/For how many days/).fill('7');
  await page.getByRole('button', { name: 'Request access' }).click();
  await page.getByText('Request #1 is filed; its approvers are told.').waitFor();
  const row = page.locator('#request-1');
  assert.match(await row.innerText(), /finance-reporting\s+rita@example\.com\s+pending: stage 1 of 1/);
  assert.match(await page.getByRole('heading', { name: /Waiting for your decision/ }).innerText(), /\(0\)/, 'nothing to decide for Rita');
  await checkAccessibility();
  await browser.screenshot('console-requests-filed');

  // Rita cannot approve her own request, even by posting the form herself with a valid CSRF token.
  const csrf = await page.locator('input[name="_csrf"]').first().inputValue();
  const own = await page.request.post(`${roster.url}/console/requests/1/decide`, { form: { _csrf: csrf, decision: 'approve', reason: 'I need it' }, maxRedirects: 0 });
  assert.equal(own.status(), 403);
  assert.match(await own.text(), /Nobody approves or denies their own request/);
  const noToken = await page.request.post(`${roster.url}/console/requests/1/withdraw`, { form: {}, maxRedirects: 0 });
  assert.equal(noToken.status(), 403, 'no CSRF token, nothing done');
  assert.equal(((await roster.db.knex('access_requests').where({ id: 1 }).first()) as { status: string }).status, 'pending');

  await signInThroughProvider(browser, roster.url, op.issuer, 'mona');
  await page.getByRole('heading', { name: 'Waiting for your decision (1)' }).waitFor();
  const item = page.locator('li#request-1');
  assert.match(await item.innerText(), /#1: rita@example\.com asks for finance-reporting/);
  assert.match(await item.innerText(), /quarter-end close \(FIN-231\)/);
  await checkAccessibility();
  await browser.screenshot('console-requests-inbox');
  await item.getByLabel(/Reason/).fill('she runs the close this quarter');
  await item.getByRole('button', { name: 'Approve #1' }).click();
  await page.getByText('You approved request #1.').waitFor();
  await page.getByRole('heading', { name: 'Waiting for your decision (0)' }).waitFor();
  await checkAccessibility();

  assert.deepEqual(await membershipsOf('rita@example.com'), ['All Staff', 'Finance Reporting']);
  const entry = (await roster.db.knex('journal').where({ action: 'request.approve' }).first()) as { actor: string; reason: { reason: string } };
  assert.equal(entry.actor, `console:Mona Manager <mona@${op.issuer}>`);
  assert.equal(entry.reason.reason, 'she runs the close this quarter');
  const exception = (await roster.db.knex('policy_exceptions').where({ request_id: 1 }).first()) as { expires_at: Date };
  const days = (exception.expires_at.getTime() - Date.now()) / 86_400_000;
  assert.ok(days > 6.9 && days <= 7, `granted for 7 days, not ${days}`);

  await signInThroughProvider(browser, roster.url, op.issuer, 'rita');
  const approved = await page.locator('#request-1').innerText();
  assert.match(approved, /approved/);
  assert.match(approved, /Stage 1: approved by mona@example\.com/);
  await checkAccessibility();
  await browser.screenshot('console-requests-approved');
});

test('an operator linked to no person sees every request and files one on someone\'s behalf', { skip: browserSkip, timeout: 120_000 }, async () => {
  const { page } = browser;
  await signInThroughProvider(browser, roster.url, op.issuer, 'oscar');
  await page.goto(`${roster.url}/console/requests`);
  await page.getByText(/not linked to a person in Roster/).waitFor();
  assert.match(await page.locator('#all-request-1').innerText(), /#1\s+finance-reporting\s+rita@example\.com\s+console:Rita Requester/);
  await checkAccessibility();

  const form = page.locator('form[action="/console/requests/on-behalf"]');
  await form.getByLabel('Access', { exact: true }).selectOption('finance-reporting');
  await form.getByLabel(/For \(the person's userName\)/).fill('sam@example.com');
  await form.getByLabel('Justification').fill('covers the month-end close (FIN-300)');
  await form.getByLabel(/For how many days/).fill('5');
  await form.getByRole('button', { name: 'File the request' }).click();
  await page.getByText('Request #2 is filed; its approvers are told.').waitFor();
  const row = await page.locator('#all-request-2').innerText();
  assert.match(row, /#2\s+finance-reporting\s+sam@example\.com/);
  assert.ok(row.includes(`console:Oscar Operator <oscar@${op.issuer}>`), row);
  assert.match(row, /pending: stage 1 of 1/);
  await checkAccessibility();
  await browser.screenshot('console-requests-on-behalf');
  const filed = (await roster.db.knex('journal').where({ action: 'request.create' }).orderBy('id', 'desc').first()) as { actor: string; changes: { userName: string; days: number } };
  assert.equal(filed.actor, `console:Oscar Operator <oscar@${op.issuer}>`);
  assert.deepEqual([filed.changes.userName, filed.changes.days], ['sam@example.com', 5]);

  // The status filter, then the request's own page with its decisions.
  await page.getByLabel('Status').selectOption('approved');
  await page.getByRole('button', { name: 'Filter' }).click();
  assert.equal(await page.locator('#all-request-2').count(), 0, 'the pending request is filtered out');
  await page.getByRole('link', { name: '#1', exact: true }).click();
  await page.getByRole('heading', { name: 'Request #1: finance-reporting for rita@example.com' }).waitFor();
  assert.match(await page.locator('main').innerText(), /Stage 1: approved by mona@example\.com/);
  await checkAccessibility();

  // A refusal from the governance layer is the page's message, and files nothing.
  await page.goto(`${roster.url}/console/requests`);
  await form.getByLabel(/For \(the person's userName\)/).fill('nobody@example.com');
  await form.getByLabel('Justification').fill('a person Roster does not know');
  await form.getByRole('button', { name: 'File the request' }).click();
  await page.getByText('No user "nobody@example.com" (give a userName or a user id)').waitFor();
  assert.equal(Number((await roster.db.knex('access_requests').count({ n: '*' }).first())!.n), 2);
});

test('a viewer sees every request but no form, and a forged POST files nothing', { skip: browserSkip, timeout: 120_000 }, async () => {
  const { page } = browser;
  await signInThroughProvider(browser, roster.url, op.issuer, 'vera');
  await page.goto(`${roster.url}/console/requests`);
  await page.getByRole('heading', { name: 'All requests' }).waitFor();
  assert.equal(await page.locator('#all-request-2').count(), 1);
  assert.equal(await page.getByRole('button', { name: 'File the request' }).count(), 0);
  await checkAccessibility();
  // Keyset paging, as the "Older requests" link uses it: only requests older than #2.
  await page.goto(`${roster.url}/console/requests?before=2`);
  assert.deepEqual(await page.locator('tr[id^="all-request-"]').evaluateAll((rows) => rows.map((r) => r.id)), ['all-request-1']);
  const csrf = await page.locator('input[name="_csrf"]').first().inputValue();
  const forged = await page.request.post(`${roster.url}/console/requests/on-behalf`, { form: { _csrf: csrf, entry: 'finance-reporting', user: 'mona@example.com', justification: 'not mine to file' }, maxRedirects: 0 });
  assert.equal(forged.status(), 403);
  assert.match(await forged.text(), /This needs the operator role/);
  assert.equal(Number((await roster.db.knex('access_requests').count({ n: '*' }).first())!.n), 2, 'nothing filed');
});

test('no serious or critical accessibility problem on the Requests pages', { skip: browserSkip }, () => {
  assert.deepEqual(accessibility, [], accessibility.join('\n'));
});
