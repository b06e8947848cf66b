/**
 * Access reviews (issue 17), on real PostgreSQL, over real HTTP, with Roster B as a real SCIM
 * target on loopback: a campaign over the policy's rules and its exceptions assigns each rule to
 * its owner and each exception to the person's manager (else the fallback reviewer); a reviewer
 * revokes an exception and it is removed downstream; another shortens one; the rule owner
 * certifies a rule; at the deadline the queue applies the default (revoke) to what is left, which
 * also reaches the target, and closes the campaign; the report (JSON and CSV) names every decision
 * with its journal entries. Bad input is refused with SCIM errors and changes nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Runner } from 'graphile-worker';
import { createToken } from '../src/auth/token-store.js';
import { ledgerRecorder } from '../src/governance/ledger-store.js';
import { reviewTasks, sendReminders } from '../src/governance/review-deadline.js';
import { fullSync } from '../src/sync/full-sync.js';
import { grantException } from '../src/policy/exceptions.js';
import { startWorker } from '../src/queue/queue.js';
import { ENTERPRISE, GROUP_SCHEMA, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';
import { runCli } from './support/cli.js';
import { startSmtpReceiver, startWebhookReceiver } from './support/notify-receivers.js';
import { startRosterA, waitFor, type RosterA } from './support/sync-harness.js';

const POLICY = `version: 1
roles:
  - name: finance-analyst
    owner: fiona@example.com
    when: '${ENTERPRISE}:department eq "Finance"'
    groups: [Finance Reporting]
  - name: engineer
    when: '${ENTERPRISE}:department eq "Engineering"'
    groups: [Engineering]
`;

let b: TestServer;
let a: RosterA;
let reviewWorker: Runner | undefined;
let operator: string;
let reader: string;
const ids: Record<string, string> = {};
const FAR = new Date(Date.now() + 30 * 86_400_000).toISOString();

before(async () => {
  b = await startTestServer();
  a = await startRosterA(
    [{ name: 'roster-b', baseUrl: b.scimUrl, auth: { type: 'bearer', tokenEnv: 'B_TOKEN' }, groups: { all: true }, retry: { baseDelay: '100ms', maxDelay: '1s' } }],
    { B_TOKEN: b.token },
    { server: { policy: POLICY } },
  );
  operator = (await createToken(a.server.db.knex, 'olga-operator', ['ops:write'])).token;
  reader = (await createToken(a.server.db.knex, 'auditor', ['ops:read'])).token;
  const user = async (userName: string, department: string, manager?: string) => {
    const res = await a.server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA, ENTERPRISE], userName, [ENTERPRISE]: { department, ...(manager ? { manager: { value: manager } } : {}) } } });
    assert.equal(res.status, 201, res.text);
    return res.body.id as string;
  };
  ids.mia = await user('mia@example.com', 'Management');
  ids.fiona = await user('fiona@example.com', 'Finance');
  ids.alice = await user('alice@example.com', 'Finance', ids.mia);
  ids.bob = await user('bob@example.com', 'Engineering', ids.mia);
  ids.carl = await user('carl@example.com', 'Engineering', ids.mia);
  ids.dan = await user('dan@example.com', 'Sales');
  const actor = { name: 'cli:olga', source: 'cli' as const, requestId: 'grant' };
  await grantException(a.server.writePath, 'bob@example.com', 'Finance Reporting', { reason: 'covering payroll (CHG-1)', actor });
  await grantException(a.server.writePath, 'carl@example.com', 'Finance Reporting', { reason: 'quarter close (CHG-2)', actor });
  await grantException(a.server.writePath, 'dan@example.com', 'Finance Reporting', { reason: 'audit support (CHG-3)', actor });
  await waitFor(async () => (await membersOnB('Finance Reporting')).length === 5 || undefined, 'Finance Reporting pushed to B with five members');
});

after(async () => {
  await reviewWorker?.stop();
  await a?.close();
  await b?.close();
});

const ops = (method: string, route: string, body?: unknown, token = operator) =>
  a.server.request(method, `${a.server.url}${route}`, { token, ...(body !== undefined ? { body, headers: { 'content-type': 'application/json' } } : {}) });

async function membersOnB(group: string): Promise<string[]> {
  const found = (await b.request('GET', `/Groups?filter=${encodeURIComponent(`displayName eq "${group}"`)}`)).body.Resources?.[0];
  if (!found) return [];
  const names: string[] = [];
  for (const member of found.members ?? []) names.push((await b.request('GET', `/Users/${member.value}`)).body.userName);
  return names.sort();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON
type Json = Record<string, any>;
let campaign: Json;
let items: Json[];
const itemFor = (label: string) => items.find((i) => i.label === label)!;
const remindersQueued = async (campaignId: string): Promise<Date[]> =>
  (await a.server.db.knex.raw(`SELECT run_at FROM graphile_worker.jobs WHERE task_identifier = 'governance.review-remind' AND key = ?`, [`review:remind:${campaignId}`])).rows.map((r: { run_at: Date }) => r.run_at);

test('opening a campaign over rules and exceptions assigns owners, managers and the fallback reviewer', async () => {
  const refused = await ops('POST', '/ops/reviews', { name: 'Q1 review', scope: ['rules', 'rows'], deadline: FAR, defaultDecision: 'revoke', fallbackReviewer: 'olga@example.com' });
  assert.equal(refused.status, 400);
  assert.equal(refused.body.scimType, 'invalidValue');
  assert.match(refused.body.detail, /Unknown scope rows/);
  assert.equal((await ops('POST', '/ops/reviews', { name: 'Q1 review', scope: ['rules'], deadline: '2020-01-01', defaultDecision: 'revoke', fallbackReviewer: 'olga' })).status, 400);
  assert.equal((await ops('POST', '/ops/reviews', { name: 'Q1 review', scope: ['rules'], deadline: FAR, defaultDecision: 'maybe', fallbackReviewer: 'olga' })).status, 400);
  assert.equal((await ops('POST', '/ops/reviews', { name: 'Q1 review', scope: ['rules'], deadline: FAR, defaultDecision: 'keep', fallbackReviewer: 'olga' }, reader)).status, 403);
  assert.equal(Number((await a.server.db.knex('review_campaigns').count({ n: '*' }))[0]!.n), 0, 'refusals opened nothing');

  // The deadline is close: the test waits for it below.
  const deadline = new Date(Date.now() + 12_000).toISOString();
  const opened = await ops('POST', '/ops/reviews', { name: 'Q1 2027 access review', scope: ['rules', 'exceptions'], deadline, defaultDecision: 'revoke', fallbackReviewer: 'olga@example.com', remindEveryHours: 1 });
  assert.equal(opened.status, 201, opened.text);
  campaign = opened.body;
  assert.equal(campaign.total, 5);
  assert.equal(campaign.decided, 0);
  items = (await ops('GET', `/ops/reviews/${campaign.id}/items`, undefined, reader)).body.items;
  const summary = items.map((i) => `${i.kind} ${i.label} -> ${i.reviewer} (${i.reviewerBasis})`).sort();
  assert.deepEqual(summary, [
    'exception bob@example.com in Finance Reporting -> mia@example.com (manager)',
    'exception carl@example.com in Finance Reporting -> mia@example.com (manager)',
    'exception dan@example.com in Finance Reporting -> olga@example.com (fallback)',
    'rule engineer: Engineering -> olga@example.com (fallback)',
    'rule finance-analyst: Finance Reporting -> fiona@example.com (owner)',
  ]);
  assert.equal(itemFor('finance-analyst: Finance Reporting').details.people, 2, 'the rule shows how many people it grants (fiona, alice)');
  assert.equal(itemFor('engineer: Engineering').details.people, 2);
  assert.equal(itemFor('bob@example.com in Finance Reporting').details.reason, 'covering payroll (CHG-1)');
  const mine = (await ops('GET', `/ops/reviews/${campaign.id}/items?reviewer=MIA@example.com`, undefined, reader)).body.items;
  assert.equal(mine.length, 2);
  const openEntry = await a.server.db.knex('journal').where({ action: 'review.open' }).first();
  assert.equal(openEntry.actor, 'olga-operator');
  assert.deepEqual(openEntry.changes.items, { rules: 2, exceptions: 3 });
});

test('reminders: one journal entry per reviewer with undecided items, and the next reminder queued', async () => {
  assert.equal((await remindersQueued(campaign.id)).length, 0, 'the deadline (12 s) comes before the first reminder (1 h): none queued');
  const sent = await sendReminders(a.server.writePath, campaign.id, { actor: { name: 'review-reminder', source: 'system', requestId: 'remind-test' } });
  assert.deepEqual(sent, [
    { reviewer: 'fiona@example.com', pending: 1 },
    { reviewer: 'mia@example.com', pending: 2 },
    { reviewer: 'olga@example.com', pending: 2 },
  ]);
  const entries = await a.server.db.knex('journal').where({ action: 'review.remind' }).orderBy('id');
  assert.deepEqual(entries.map((e) => `${e.changes.reviewer}:${e.changes.pending}`), ['fiona@example.com:1', 'mia@example.com:2', 'olga@example.com:2']);
  assert.equal((await ops('GET', `/ops/reviews/${campaign.id}`, undefined, reader)).body.lastRemindedAt !== null, true);
  assert.equal((await remindersQueued(campaign.id)).length, 0, 'the next one would come after the deadline');
});

test('a reviewer revokes an exception and it is removed downstream; shorten and keep are recorded', async () => {
  const bob = itemFor('bob@example.com in Finance Reporting');
  const noReason = await ops('POST', `/ops/reviews/${campaign.id}/items/${bob.id}/decide`, { decision: 'revoke', reason: '' });
  assert.equal(noReason.status, 400);
  assert.match(noReason.body.detail, /A reason is required/);
  const badShorten = await ops('POST', `/ops/reviews/${campaign.id}/items/${itemFor('engineer: Engineering').id}/decide`, { decision: 'shorten', reason: 'fewer', until: FAR });
  assert.equal(badShorten.status, 400);
  assert.match(badShorten.body.detail, /Only exceptions can be shortened/);
  assert.equal((await ops('POST', `/ops/reviews/${campaign.id}/items/999999/decide`, { decision: 'keep', reason: 'fine' })).status, 404);

  const revoked = await ops('POST', `/ops/reviews/${campaign.id}/items/${bob.id}/decide`, { decision: 'revoke', reason: 'payroll cover ended in November' });
  assert.equal(revoked.status, 200, revoked.text);
  assert.equal(revoked.body.decision, 'revoke');
  assert.match(revoked.body.outcome, /exception revoked: bob@example.com leaves Finance Reporting/);
  await waitFor(async () => !(await membersOnB('Finance Reporting')).includes('bob@example.com') || undefined, 'bob removed from Finance Reporting on B');
  const again = await ops('POST', `/ops/reviews/${campaign.id}/items/${bob.id}/decide`, { decision: 'keep', reason: 'changed my mind' });
  assert.equal(again.status, 409, 'a decision is final');

  const until = new Date(Date.now() + 7 * 86_400_000).toISOString();
  const carl = itemFor('carl@example.com in Finance Reporting');
  const shortened = await ops('POST', `/ops/reviews/${campaign.id}/items/${carl.id}/decide`, { decision: 'shorten', reason: 'only until the close is done', until });
  assert.equal(shortened.status, 200, shortened.text);
  const exception = await a.server.db.knex('policy_exceptions').where({ id: carl.exceptionId }).first();
  assert.equal(exception.expires_at.toISOString(), until);

  const rule = itemFor('finance-analyst: Finance Reporting');
  const certified = await ops('POST', `/ops/reviews/${campaign.id}/items/${rule.id}/decide`, { decision: 'keep', reason: 'finance analysts need the reports' });
  assert.equal(certified.body.outcome, 'certified');
  assert.equal((await ops('GET', `/ops/reviews/${campaign.id}`, undefined, reader)).body.decided, 3);
});

test('at the deadline the queue applies the default to undecided items, which reaches the target, and closes the campaign', async () => {
  reviewWorker = await startWorker(a.server.db.url, reviewTasks(a.server.writePath, () => a.connectors), { pollInterval: 200, concurrency: 1 });
  const closed = await waitFor(async () => {
    const c = (await ops('GET', `/ops/reviews/${campaign.id}`, undefined, reader)).body;
    return c.status === 'closed' ? c : undefined;
  }, 'the campaign closed at its deadline', 30_000);
  assert.equal(closed.decided, 5);
  const after = (await ops('GET', `/ops/reviews/${campaign.id}/items`, undefined, reader)).body.items as Json[];
  const dan = after.find((i) => i.label === 'dan@example.com in Finance Reporting')!;
  assert.equal(dan.decision, 'revoke');
  assert.equal(dan.byDefault, true);
  assert.equal(dan.decidedBy, 'review-deadline');
  assert.match(dan.reason, /No decision by the deadline/);
  const engineer = after.find((i) => i.label === 'engineer: Engineering')!;
  assert.equal(engineer.decision, 'revoke');
  assert.match(engineer.outcome, /decertified: the policy was not changed.*roster policy apply/);
  assert.deepEqual(await waitFor(async () => {
    const members = await membersOnB('Finance Reporting');
    return members.includes('dan@example.com') ? undefined : members;
  }, 'dan removed downstream by the default'), ['alice@example.com', 'carl@example.com', 'fiona@example.com']);
  // Decertifying a rule changes no access: engineers keep Engineering until an admin changes the policy.
  assert.equal((await a.server.db.knex('policy_roles').where({ role: 'engineer' })).length, 2);
  const closeEntry = await a.server.db.knex('journal').where({ action: 'review.close' }).first();
  assert.equal(closeEntry.changes.byDefault, 2);
  const late = await ops('POST', `/ops/reviews/${campaign.id}/items/${dan.id}/decide`, { decision: 'keep', reason: 'too late' });
  assert.equal(late.status, 409);
  assert.match(late.body.detail, /closed/);
});

test('the report names every decision with its journal entries, as JSON and CSV', async () => {
  const report = (await ops('GET', `/ops/reviews/${campaign.id}/report`, undefined, reader)).body;
  assert.deepEqual(report.summary, { total: 5, decided: 5, kept: 1, revoked: 3, shortened: 1, byDefault: 2, undecided: 0 });
  for (const item of report.items as Json[]) {
    assert.ok(item.decidedBy && item.decidedAt && item.reason, `item ${item.label} names who, when and why`);
    assert.ok(item.journalIds.length >= 1, `item ${item.label} links its journal entries`);
    const entries = await a.server.db.knex('journal').whereIn('id', item.journalIds).orderBy('id');
    const decisionEntry = entries.find((e) => e.action === `review.${item.decision}`);
    assert.ok(decisionEntry, `item ${item.label}: the review.${item.decision} entry is linked`);
    assert.equal(decisionEntry.changes.item, item.id);
    assert.equal(decisionEntry.actor, item.decidedBy);
  }
  const bob = (report.items as Json[]).find((i) => i.label === 'bob@example.com in Finance Reporting')!;
  const bobActions = (await a.server.db.knex('journal').whereIn('id', bob.journalIds).orderBy('id')).map((e) => e.action);
  assert.ok(bobActions.includes('exception.revoke') && bobActions.includes('review.revoke'), `the revocation and the decision share the transaction: ${bobActions.join(', ')}`);
  const dan = (report.items as Json[]).find((i) => i.label === 'dan@example.com in Finance Reporting')!;
  assert.ok((await a.server.db.knex('journal').whereIn('id', dan.journalIds)).some((e) => e.action === 'exception.revoke'));

  const csv = await ops('GET', `/ops/reviews/${campaign.id}/report?format=csv`, undefined, reader);
  assert.equal(csv.status, 200);
  assert.match(csv.headers.get('content-type') ?? '', /text\/csv/);
  const lines = csv.text.trim().split('\r\n');
  assert.equal(lines.length, 6);
  assert.match(lines[0]!, /^campaign,item,kind,access,reviewer/);
  assert.ok(lines.some((l) => l.includes('bob@example.com in Finance Reporting') && l.includes('payroll cover ended in November') && l.includes(bob.journalIds.join(' '))));
  assert.equal((await ops('GET', `/ops/reviews/${campaign.id}/report?format=pdf`, undefined, reader)).status, 400);
});

test('a campaign over IdP memberships in pushed groups: revoking removes the member downstream', async () => {
  const group = await a.server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'Contractors', members: [{ value: ids.dan }, { value: ids.alice }] } });
  assert.equal(group.status, 201, group.text);
  await waitFor(async () => (await membersOnB('Contractors')).length === 2 || undefined, 'Contractors pushed to B');
  const opened = await ops('POST', '/ops/reviews', { name: 'Contractor memberships', scope: ['idp'], deadline: FAR, defaultDecision: 'keep', fallbackReviewer: 'olga@example.com' });
  assert.equal(opened.status, 201, opened.text);
  const [reminder] = await remindersQueued(opened.body.id);
  assert.ok(reminder && Math.abs(new Date(reminder).getTime() - (Date.now() + 72 * 3_600_000)) < 60_000, 'the first reminder is queued 72 hours out (the default interval)');
  const list = (await ops('GET', `/ops/reviews/${opened.body.id}/items`, undefined, reader)).body.items as Json[];
  assert.deepEqual(list.map((i) => `${i.label} -> ${i.reviewer}`).sort(), ['alice@example.com in Contractors -> mia@example.com', 'dan@example.com in Contractors -> olga@example.com']);

  // A reminder with notifications configured: Mia is emailed at a real SMTP server, the webhook
  // receiver gets one POST for the campaign, and Olga (no Roster user, so no address) is journaled
  // as not reached by email.
  const smtp = await startSmtpReceiver();
  const hooks = await startWebhookReceiver();
  try {
    const notify = { smtpUrl: smtp.url, emailFrom: 'roster@example.com', webhookUrl: hooks.url, webhookSecret: undefined, publicUrl: 'https://roster.example.com' };
    const sent = await sendReminders(a.server.writePath, opened.body.id, { actor: { name: 'review-reminder', source: 'system', requestId: 'remind-notify' }, notify });
    assert.deepEqual(sent, [{ reviewer: 'mia@example.com', pending: 1 }, { reviewer: 'olga@example.com', pending: 1 }]);
    assert.deepEqual(smtp.mails.map((m) => m.to), [['roster@example.com', 'mia@example.com']], 'To: the sender, Bcc: the reviewer');
    // Long lines go out quoted-printable: undo the soft breaks before reading the body.
    const body = smtp.mails[0]!.text.replace(/=\r\n/g, '').replace(/=3D/g, '=');
    assert.match(body, /1 item\(s\) of the access review "Contractor memberships" wait for your decision/);
    assert.match(body, new RegExp(`https://roster\\.example\\.com/console/reviews/${opened.body.id}/review`));
    assert.equal(hooks.hooks.length, 1);
    const hook = JSON.parse(hooks.hooks[0]!.body);
    assert.equal(hook.event, 'access_review.reminder');
    assert.deepEqual(hook.reviewers, [{ userName: 'mia@example.com', pending: 1 }, { userName: 'olga@example.com', pending: 1 }]);
    const notified = await a.server.db.knex('journal').where({ action: 'review.notify', request_id: 'remind-notify:notify' }).orderBy('id');
    assert.deepEqual(
      notified.map((e) => `${e.changes.channel} ${e.changes.reviewer ?? 'all'} ${e.reason.outcome}`),
      ['email mia@example.com sent', 'email olga@example.com failed', 'webhook all sent'],
    );
  } finally {
    await smtp.close();
    await hooks.close();
  }
  const dan = list.find((i) => i.label.startsWith('dan'))!;
  const revoked = await ops('POST', `/ops/reviews/${opened.body.id}/items/${dan.id}/decide`, { decision: 'revoke', reason: 'contract ended' });
  assert.equal(revoked.status, 200, revoked.text);
  assert.match(revoked.body.outcome, /remove it in the IdP too/);
  await waitFor(async () => {
    const members = await membersOnB('Contractors');
    return members.length === 1 && members[0] === 'alice@example.com';
  }, 'dan removed from Contractors on B');
});

test('CLI: open with progress and --json, list items, revoke an orphan found by a report-only sync (disabled on the target), report as CSV', { timeout: 120_000 }, async () => {
  await b.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'old-admin@example.com', externalId: 'legacy-7' } });
  await fullSync(a.syncDb, a.connectors.get('roster-b')!, { reportOnly: true, findings: ledgerRecorder });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-review-'));
  const file = path.join(dir, 'connectors.yaml');
  fs.writeFileSync(file, `connectors:\n  - name: roster-b\n    baseUrl: ${b.scimUrl}\n    auth: { type: bearer, tokenEnv: B_TOKEN }\n    groups: { all: true }\n`);
  const env = { ...process.env, DATABASE_URL: a.server.db.url, ROSTER_CONNECTORS_FILE: file, B_TOKEN: b.token, LOG_LEVEL: 'error' };
  const run = (args: string[]) => runCli(args, env);
  try {
    const opened = await run(['review', 'open', '--name', 'Orphans and rules', '--scope', 'rules,ledger', '--deadline', '14d', '--default', 'keep', '--fallback-reviewer', 'olga@example.com', '--ledger-reviewer', 'sam@example.com', '--as', 'olga', '--json']);
    assert.equal(opened.code, 0, opened.stderr);
    assert.match(opened.stderr, /opening: rules: 2 item\(s\)/);
    assert.match(opened.stderr, /opening: ledger: 1 item\(s\)/);
    const campaignId = JSON.parse(opened.stdout).id as string;
    const listed = await run(['review', 'items', campaignId, '--reviewer', 'sam@example.com', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const orphan = (JSON.parse(listed.stdout).items as Json[])[0]!;
    assert.equal(orphan.kind, 'orphan');
    assert.equal(orphan.label, 'roster-b: old-admin@example.com');
    assert.equal(orphan.reviewerBasis, 'named');
    const all = (JSON.parse((await run(['review', 'items', campaignId, '--json'])).stdout).items as Json[]).map((i) => Number(i.id));
    assert.deepEqual(all, [...all].sort((x, y) => x - y), 'items in id order, also past id 9');
    assert.ok(all.some((id) => id >= 10));

    const bad = await run(['review', 'decide', campaignId, orphan.id, 'forget', '--reason', 'x']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /one of keep, revoke, shorten/);
    const revoked = await run(['review', 'decide', campaignId, orphan.id, 'revoke', '--reason', 'left in 2024, nobody owns it', '--as', 'sam']);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, /revoke\. disabled on roster-b/);
    const onB = (await b.request('GET', `/Users?filter=${encodeURIComponent('userName eq "old-admin@example.com"')}`)).body.Resources[0];
    assert.equal(onB.active, false, 'the orphan is disabled on the target');

    const table = await run(['review', 'list']);
    assert.match(table.stdout, /Orphans and rules\s+open\s+1\/3/);
    const csv = await run(['review', 'report', campaignId]);
    assert.equal(csv.code, 0, csv.stderr);
    const line = csv.stdout.split('\r\n').find((l) => l.includes('old-admin@example.com'))!;
    assert.match(line, /orphan,roster-b: old-admin@example\.com,sam@example\.com,named,revoke,"left in 2024, nobody owns it"/);
    const report = JSON.parse((await run(['review', 'report', campaignId, '--format', 'json'])).stdout);
    const decided = (report.items as Json[]).find((i) => i.kind === 'orphan')!;
    const actions = (await a.server.db.knex('journal').whereIn('id', decided.journalIds).orderBy('id')).map((e) => `${e.action} by ${e.actor}`);
    // The request sent to the target, the ledger action and the decision: all under the decision's request id.
    assert.deepEqual(actions, ['sync.push by connector:roster-b', 'ledger.disable by cli:sam', 'review.revoke by cli:sam']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
