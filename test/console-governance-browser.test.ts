/**
 * Governance journeys in a real headless Chromium (test/support/browser.ts) against a real Roster
 * on real PostgreSQL, signing in through a real OpenID Connect provider on loopback, with Roster B
 * as the real SCIM target: a manager completes an access review (revokes one exception, keeps
 * another, certifies nothing she does not own) and the revoked membership leaves the target; an
 * operator reads the printable report with each decision's journal entries; an operator acts on
 * orphans from the ledger page (adopt one, ignore another) after a drift report found them; an
 * operator opens a campaign from the Reviews page's form, which a viewer neither sees nor can post. Each
 * journey saves screenshots under test-artifacts/; axe-core finds no serious or critical problem.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openCampaign } from '../src/governance/review-open.js';
import { grantException } from '../src/policy/exceptions.js';
import { browserSkip, startBrowser, type TestBrowser } from './support/browser.js';
import { oidcConsoleSettings, registerRoster, signInThroughProvider } from './support/console-journey.js';
import { startOidcProvider, type TestOidcProvider } from './support/oidc-provider.js';
import { ENTERPRISE, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';
import { startRosterA, waitFor, type RosterA } from './support/sync-harness.js';

const POLICY = `version: 1
roles:
  - name: finance-analyst
    owner: fiona@example.com
    when: '${ENTERPRISE}:department eq "Finance"'
    groups: [Finance Reporting]
`;

let op: TestOidcProvider;
let b: TestServer;
let roster: RosterA;
let browser: TestBrowser;
let campaignId: string;
const accessibility: string[] = [];

before(async () => {
  if (browserSkip) return;
  op = await startOidcProvider({
    olivia: { name: 'Olivia Operator', email: 'olivia@example.com', groups: ['Roster-Operators'] },
    mia: { name: 'Mia Manager', email: 'mia@example.com', groups: ['Staff'] },
  });
  b = await startTestServer();
  const settings = oidcConsoleSettings(op);
  roster = await startRosterA(
    [{ name: 'roster-b', baseUrl: b.scimUrl, auth: { type: 'bearer', tokenEnv: 'B_TOKEN' }, groups: { all: true }, retry: { baseDelay: '100ms', maxDelay: '1s' } }],
    { B_TOKEN: b.token },
    { server: { console: settings, policy: POLICY } },
  );
  registerRoster(op, settings, roster.server.url);
  browser = await startBrowser();

  const user = async (userName: string, extra: Record<string, unknown>) => {
    const res = await roster.server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA, ENTERPRISE], userName, ...extra } });
    assert.equal(res.status, 201, res.text);
    return res.body.id as string;
  };
  // Mia signs in as subject "mia": her Roster account carries it as externalId, as an IdP's push does.
  const mia = await user('mia@example.com', { externalId: 'mia', displayName: 'Mia Manager' });
  await user('fiona@example.com', { [ENTERPRISE]: { department: 'Finance' } });
  await user('alice@example.com', { displayName: 'Alice', [ENTERPRISE]: { department: 'Sales', manager: { value: mia } } });
  await user('bob@example.com', { displayName: 'Bob', [ENTERPRISE]: { department: 'Sales', manager: { value: mia } } });
  const actor = { name: 'cli:olivia', source: 'cli' as const, requestId: 'grant' };
  await grantException(roster.server.writePath, 'alice@example.com', 'Finance Reporting', { reason: 'helped with the audit (CHG-11)', actor });
  await grantException(roster.server.writePath, 'bob@example.com', 'Finance Reporting', { reason: 'quarterly forecast (CHG-12)', actor });
  await waitFor(async () => (await membersOnB('Finance Reporting')).length === 3 || undefined, 'Finance Reporting on B with three members');
  const campaign = await openCampaign(roster.server.writePath, {
    name: 'Q1 2027 access review',
    scope: ['rules', 'exceptions'],
    deadline: new Date(Date.now() + 14 * 86_400_000),
    defaultDecision: 'revoke',
    fallbackReviewer: 'olivia@example.com',
    actor: { name: 'cli:olivia', source: 'cli', requestId: 'open' },
  });
  campaignId = campaign.id;
});

after(async () => {
  if (browserSkip) return;
  await browser?.close();
  await roster?.close();
  await b?.close();
  await op?.close();
});

async function membersOnB(group: string): Promise<string[]> {
  const found = (await b.request('GET', `/Groups?filter=${encodeURIComponent(`displayName eq "${group}"`)}`)).body.Resources?.[0];
  const names: string[] = [];
  for (const member of found?.members ?? []) names.push((await b.request('GET', `/Users/${member.value}`)).body.userName);
  return names.sort();
}

const checkAccessibility = async () => void accessibility.push(...(await browser.accessibilityProblems()));
const signIn = (login: string) => signInThroughProvider(browser, roster.server.url, op, login);

test('a manager completes her review in the browser; the revoked exception leaves the target', { skip: browserSkip, timeout: 120_000 }, async () => {
  const { page } = browser;
  await signIn('mia');
  await page.getByRole('link', { name: 'Reviews', exact: true }).click();
  const row = page.getByRole('row', { name: /Q1 2027 access review/ });
  assert.match(await row.innerText(), /0 of 3 decided/);
  await checkAccessibility();
  await browser.screenshot('console-reviews-list');
  await row.getByRole('link', { name: 'Q1 2027 access review' }).click();
  await page.getByRole('link', { name: 'Your items (2 to decide)' }).click();
  await page.getByRole('heading', { name: 'To decide (2)' }).waitFor();
  assert.doesNotMatch(await page.locator('main').innerText(), /finance-analyst/, "the rule is Fiona's to certify, not Mia's");
  await checkAccessibility();
  await browser.screenshot('console-review-items');

  const alice = page.getByRole('row', { name: /alice@example\.com in Finance Reporting/ });
  await alice.getByLabel('Revoke').check();
  await alice.getByLabel('Reason').fill('the audit is over');
  await alice.getByRole('button', { name: 'Decide' }).click();
  assert.match(await page.locator('[role="status"]').first().innerText(), /alice@example\.com in Finance Reporting: revoke\. exception revoked/);
  const bob = page.getByRole('row', { name: /bob@example\.com in Finance Reporting/ });
  await bob.getByLabel('Keep').check();
  await bob.getByLabel('Reason').fill('forecast runs until June');
  await bob.getByRole('button', { name: 'Decide' }).click();
  await page.getByRole('heading', { name: 'To decide (0)' }).waitFor();
  assert.match(await page.getByRole('table', { name: 'Your decisions' }).innerText(), /alice@example\.com in Finance Reporting\s+revoke[\s\S]*the audit is over/);
  await checkAccessibility();
  await browser.screenshot('console-review-completed');

  await waitFor(async () => {
    const members = await membersOnB('Finance Reporting');
    return !members.includes('alice@example.com') && members.includes('bob@example.com');
  }, 'alice removed from Finance Reporting on B, bob kept');
  const decisions = await roster.server.db.knex('journal').whereIn('action', ['review.revoke', 'review.keep']).orderBy('id');
  assert.deepEqual(decisions.map((e) => e.actor), [`console:Mia Manager <mia@${op.issuer}>`, `console:Mia Manager <mia@${op.issuer}>`]);

  // A viewer may decide only her own items: the rule's form, posted anyway, is refused on the server.
  const rule = await roster.server.db.knex('review_items').where({ campaign_id: campaignId, kind: 'rule' }).first();
  const csrf = await page.locator('input[name="_csrf"]').first().inputValue();
  const refused = await page.request.post(`${roster.server.url}/console/reviews/${campaignId}/items/${String(rule.id)}/decide`, { form: { _csrf: csrf, decision: 'revoke', reason: 'not mine to decide' } });
  assert.equal(refused.status(), 403);
  assert.equal((await roster.server.db.knex('review_items').where({ id: rule.id }).first()).decision, null);
});

test('the report lists every decision with its journal entries and prints without the console chrome', { skip: browserSkip, timeout: 120_000 }, async () => {
  const { page } = browser;
  await signIn('olivia');
  await page.goto(`${roster.server.url}/console/reviews/${campaignId}`);
  assert.match(await page.locator('main').innerText(), /2 of 3 decided/);
  await page.getByRole('link', { name: 'Report' }).click();
  const table = page.getByRole('table', { name: 'Every item, its reviewer and decision' });
  const alice = await table.getByRole('row', { name: /alice@example\.com/ }).innerText();
  assert.match(alice, /mia@example\.com[\s\S]*revoke[\s\S]*the audit is over[\s\S]*Mia Manager/);
  const links = table.getByRole('row', { name: /alice@example\.com/ }).locator('a[href^="/console/journal/"]');
  assert.ok((await links.count()) >= 2, 'the revocation and the decision are linked');
  await checkAccessibility();
  await browser.screenshot('console-review-report');
  await page.emulateMedia({ media: 'print' });
  assert.equal(await page.locator('header.top').isVisible(), false, 'no navigation on paper');
  assert.equal(await page.getByRole('link', { name: 'Download CSV' }).isVisible(), false);
  await browser.screenshot('console-review-report-print');
  await page.emulateMedia({ media: 'screen' });
  await links.first().click();
  await page.getByRole('heading', { name: /Journal entry #/ }).waitFor();
});

test('an operator acts on orphans from the ledger page: adopt one, ignore another', { skip: browserSkip, timeout: 120_000 }, async () => {
  // Andrea is in Roster but not linked on B (her link was lost); her old account there is an orphan under another name.
  const andrea = await roster.server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'andrea.smith@example.com' } });
  const pushed = await waitFor(async () => (await b.request('GET', `/Users?filter=${encodeURIComponent('userName eq "andrea.smith@example.com"')}`)).body.Resources[0], 'andrea pushed to B');
  await b.request('DELETE', `/Users/${pushed.id}`);
  await roster.server.db.knex('sync_links').where({ resource_id: andrea.body.id }).delete();
  for (const userName of ['a.smith@example.com', 'svc-backup@example.com']) {
    await b.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName, externalId: `legacy-${userName}` } });
  }
  const { page } = browser;
  await signIn('olivia');
  await page.goto(`${roster.server.url}/console/connectors/roster-b`);
  await page.getByRole('button', { name: 'Report drift (changes nothing)' }).click();
  await page.getByText('Report only: nothing was changed.').waitFor();
  await page.getByRole('link', { name: 'Ledger', exact: true }).click();
  await page.getByLabel('Kind').selectOption('orphan');
  await page.getByRole('button', { name: 'Filter' }).click();
  assert.match(page.url(), /kind=orphan/);
  await checkAccessibility();
  await browser.screenshot('console-ledger');

  const smith = page.getByRole('row', { name: /a\.smith@example\.com/ });
  await smith.getByText('Act on a.smith@example.com').click();
  await smith.getByLabel('Person (userName)').fill('andrea.smith@example.com');
  await smith.getByRole('button', { name: 'Adopt' }).click();
  assert.match(await page.locator('[role="status"]').first().innerText(), /Adopted a\.smith@example\.com on roster-b as andrea\.smith@example\.com's account/);

  const backup = page.getByRole('row', { name: /svc-backup@example\.com/ });
  await backup.getByText('Act on svc-backup@example.com').click();
  await backup.getByLabel('Reason to ignore').fill('backup job service account (CHG-7)');
  await backup.getByLabel('Until').fill(new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10));
  await backup.getByRole('button', { name: 'Ignore' }).click();
  assert.match(await page.locator('[role="status"]').first().innerText(), /Ignored svc-backup@example\.com on roster-b until/);
  assert.match(await page.getByRole('row', { name: /svc-backup@example\.com/ }).innerText(), /ignored until[\s\S]*backup job service account/);
  await checkAccessibility();
  await browser.screenshot('console-ledger-acted');

  const entries = await roster.server.db.knex('journal').whereIn('action', ['ledger.adopt', 'ledger.ignore']).orderBy('id');
  assert.deepEqual(entries.map((e) => `${e.action} ${e.actor}`), [`ledger.adopt console:Olivia Operator <olivia@${op.issuer}>`, `ledger.ignore console:Olivia Operator <olivia@${op.issuer}>`]);
  const orphan = await roster.server.db.knex('governance_ledger').where({ name: 'a.smith@example.com' }).first();
  assert.equal(orphan.status, 'adopted');
  const adopted = await waitFor(async () => (await b.request('GET', `/Users/${orphan.remote_id}`)).body, 'the adopted account on B');
  assert.equal(adopted.userName, 'andrea.smith@example.com', "the adopted account is brought to Andrea's state on the target");

  // A viewer sees the ledger but no actions.
  await signIn('mia');
  await page.goto(`${roster.server.url}/console/ledger`);
  assert.equal(await page.getByRole('button', { name: 'Ignore' }).count(), 0);
});

test('an operator opens a campaign from the Reviews page; a viewer gets no form and her POST is refused', { skip: browserSkip, timeout: 120_000 }, async () => {
  const { page } = browser;
  await signIn('olivia');
  await page.getByRole('link', { name: 'Reviews', exact: true }).click();
  await page.getByText('Open a campaign').click();
  await page.getByLabel('Name', { exact: true }).fill('Ledger spot check');
  await page.locator('input[name="scope"][value="exceptions"]').uncheck();
  await page.locator('input[name="scope"][value="ledger"]').check();
  await page.getByLabel('revoked').check();
  await page.getByLabel(/^Fallback reviewer/).fill('olivia@example.com');
  await page.getByLabel(/^Ledger reviewer/).fill('fiona@example.com');
  await checkAccessibility();
  await browser.screenshot('console-review-open-form');
  await page.getByRole('button', { name: 'Open the campaign' }).click();
  await page.getByRole('heading', { name: 'Ledger spot check' }).waitFor();
  const opened = await roster.server.db.knex('review_campaigns').where({ name: 'Ledger spot check' }).first();
  assert.equal(new URL(page.url()).pathname, `/console/reviews/${String(opened.id)}`);
  assert.deepEqual([opened.scope, opened.default_decision, opened.fallback_reviewer], [['rules', 'ledger'], 'revoke', 'olivia@example.com']);
  const rule = await roster.server.db.knex('review_items').where({ campaign_id: opened.id, kind: 'rule' }).first();
  assert.equal(rule.reviewer, 'fiona@example.com', "the rule goes to its owner");
  const journaled = await roster.server.db.knex('journal').where({ action: 'review.open' }).orderBy('id', 'desc').first();
  assert.equal(journaled.actor, `console:Olivia Operator <olivia@${op.issuer}>`);
  await checkAccessibility();
  await browser.screenshot('console-review-opened');

  // The service's refusal is the page's message, and opens nothing.
  const campaigns = async () => Number((await roster.server.db.knex('review_campaigns').count({ n: '*' }).first())!.n);
  await page.goto(`${roster.server.url}/console/reviews`);
  await page.getByText('Open a campaign').click();
  await page.getByLabel('Name', { exact: true }).fill('Nothing in scope');
  for (const box of await page.locator('input[name="scope"]').all()) await box.uncheck();
  await page.getByLabel(/^Fallback reviewer/).fill('olivia@example.com');
  await page.getByRole('button', { name: 'Open the campaign' }).click();
  await page.getByText(/Choose what the campaign reviews/).waitFor();
  assert.equal(await campaigns(), 2);

  await signIn('mia');
  await page.goto(`${roster.server.url}/console/reviews`);
  assert.equal(await page.getByText('Open a campaign').count(), 0, 'a viewer has no form');
  const csrf = await page.locator('input[name="_csrf"]').first().inputValue();
  const forged = await page.request.post(`${roster.server.url}/console/reviews`, {
    form: { _csrf: csrf, name: 'Forged campaign', scope: 'rules', deadline: new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10), defaultDecision: 'revoke', fallbackReviewer: 'mia@example.com' },
    maxRedirects: 0,
  });
  assert.equal(forged.status(), 403);
  assert.equal(await campaigns(), 2, 'nothing opened');
});

test('no serious or critical accessibility problem on any governance page, and no CSP violation', { skip: browserSkip }, () => {
  assert.deepEqual(accessibility, []);
  assert.deepEqual(browser.cspViolations, []);
});
