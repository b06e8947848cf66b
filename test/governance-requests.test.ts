/**
 * Access requests (issue 17) on real PostgreSQL, against Roster B, a real SCIM server on loopback:
 * a request approved in two stages becomes an exception that reaches B and ends on its date; a
 * self-approval and an approval that would break separation of duties are refused; a denied and a
 * withdrawn request change no access; an undecided request expires; approvers are told by email
 * (a real SMTP server on loopback) and by a signed webhook (a real HTTP receiver), and a failing
 * receiver is journaled without touching the request.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import type { Runner } from 'graphile-worker';
import { createToken } from '../src/auth/token-store.js';
import { connectionStringOf } from '../src/db/knex.js';
import { loadConfig } from '../src/config/env.js';
import { personUser } from '../src/console/pages/requests.js';
import { notifyApprovers } from '../src/governance/request-notify.js';
import { requestTasks } from '../src/governance/request-tasks.js';
import { createRequest, decideRequest, RequestError, withdrawRequest, type Party } from '../src/governance/requests.js';
import { startWorker } from '../src/queue/queue.js';
import { ENTERPRISE, PATCH_OP, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';
import { startSmtpReceiver, startWebhookReceiver, type ReceivedHook, type ReceivedMail, type SmtpReceiver, type WebhookReceiver } from './support/notify-receivers.js';
import { startRosterA, waitFor, type RosterA } from './support/sync-harness.js';

const POLICY = `version: 1
conflicts: [[payments-initiator, payments-approver]]
roles:
  - name: staff
    when: 'active eq true'
    groups: [All Staff]
  - name: payments-initiator
    when: 'title eq "Accountant"'
    groups: [Payments Initiators]
  - name: payments-approver
    when: 'title eq "Controller"'
    groups: [Payments Approvers]
  - name: analysts
    when: 'title eq "Analyst"'
    groups: [Finance Reporting]
catalog:
  - name: finance-reporting
    group: Finance Reporting
    approvers:
      - manager: true
      - owners: [owen@example.com]
    maxDays: 30
  - name: payments-approver
    role: payments-approver
    approvers: [{ manager: true }]
    justification: optional
`;

const WEBHOOK_SECRET = 'webhook-secret-0123456789';
let b: TestServer;
let a: RosterA;
let requestWorker: Runner;
let smtp: SmtpReceiver | undefined;
let receiver: WebhookReceiver | undefined;
let mails: ReceivedMail[] = [];
let hooks: ReceivedHook[] = [];
const ids: Record<string, string> = {};

before(async () => {
  b = await startTestServer();
  a = await startRosterA([{ name: 'roster-b', baseUrl: b.scimUrl, auth: { type: 'bearer', tokenEnv: 'B_TOKEN' }, groups: { names: ['Finance Reporting'] }, retry: { baseDelay: '100ms', maxDelay: '1s' } }], { B_TOKEN: b.token }, { server: { policy: POLICY, worker: true } });
  smtp = await startSmtpReceiver();
  // The receiver refuses payments requests, to show a failing webhook changes nothing.
  receiver = await startWebhookReceiver((body) => (body.includes('"entry":"payments-approver"') ? 500 : 204));
  ({ mails } = smtp);
  ({ hooks } = receiver);
  const notify = { smtpUrl: smtp.url, emailFrom: 'roster@example.com', webhookUrl: receiver.url, webhookSecret: WEBHOOK_SECRET, publicUrl: 'https://roster.example.com' };
  requestWorker = await startWorker(connectionStringOf(a.server.db.knex), requestTasks(a.server.writePath, notify), { pollInterval: 100, concurrency: 2 });
  const create = async (userName: string, title: string, manager?: string) => {
    const response = await a.server.request('POST', '/Users', {
      body: { schemas: [USER_SCHEMA, ENTERPRISE], userName, title, active: true, emails: [{ value: userName, primary: true }], ...(manager ? { [ENTERPRISE]: { manager: { value: ids[manager] } } } : {}) },
    });
    assert.equal(response.status, 201, response.text);
    ids[userName] = response.body.id;
  };
  await create('mona@example.com', 'Finance Manager');
  await create('owen@example.com', 'Controller');
  for (const person of ['rita@example.com', 'dan@example.com', 'wim@example.com', 'paula@example.com', 'eve@example.com']) await create(person, 'Clerk', 'mona@example.com');
  await create('adam@example.com', 'Accountant', 'mona@example.com');
});
after(async () => {
  await requestWorker?.stop();
  await a?.close();
  await b?.close();
  await smtp?.close();
  await receiver?.close();
});

const person = (userName: string): Party => ({ actor: { name: `console:${userName}`, source: 'console', requestId: `test-${userName}` }, userId: ids[userName] });
const operator: Party = { actor: { name: 'ops-alice', source: 'ops', requestId: 'test-ops' } };
const groupOnB = async (name: string) => (await b.request('GET', `/Groups?filter=${encodeURIComponent(`displayName eq "${name}"`)}`)).body.Resources[0];
const userOnB = async (userName: string) => (await b.request('GET', `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`)).body.Resources[0];
const isMemberOnB = async (group: string, userName: string) => {
  const [g, u] = await Promise.all([groupOnB(group), userOnB(userName)]);
  return Boolean(g && u && (g.members ?? []).some((m: { value: string }) => m.value === u.id));
};
const membershipsOf = async (userName: string) =>
  (await a.server.db.knex.raw(`SELECT g.resource->>'displayName' AS name FROM group_members gm JOIN groups g ON g.id = gm.group_id WHERE gm.member_id = ? ORDER BY 1`, [ids[userName]!])).rows.map((r: { name: string }) => r.name);
const journalOf = async (action: string) => (await a.server.db.knex.raw(`SELECT actor, changes, reason FROM journal WHERE action = ? ORDER BY id`, [action])).rows;
const refusedWith = async (status: number, pattern: RegExp, work: () => Promise<unknown>) =>
  assert.rejects(work, (error: unknown) => error instanceof RequestError && error.status === status && pattern.test(error.message));

test('a request approved in two stages becomes a grant that reaches the target and ends on its date', async () => {
  await waitFor(() => userOnB('rita@example.com'), 'rita on B');
  const until = new Date(Date.now() + 8000);
  const request = await createRequest(a.server.writePath, { entry: 'finance-reporting', user: 'rita@example.com', justification: 'quarter-end close (FIN-231)', until }, person('rita@example.com'));
  assert.equal(request.status, 'pending');
  assert.equal(request.stage, 0);
  assert.equal(request.stageCount, 2);

  await refusedWith(403, /Nobody approves or denies their own request/, () => decideRequest(a.server.writePath, request.id, { decision: 'approve', reason: 'looks fine' }, person('rita@example.com')));
  await refusedWith(403, /Stage 1 of request #\d+ is decided by the manager/, () => decideRequest(a.server.writePath, request.id, { decision: 'approve', reason: 'owner first' }, person('owen@example.com')));
  await refusedWith(400, /A reason is required/, () => decideRequest(a.server.writePath, request.id, { decision: 'approve', reason: ' ' }, person('mona@example.com')));

  const first = await decideRequest(a.server.writePath, request.id, { decision: 'approve', reason: 'she covers the close' }, person('mona@example.com'));
  assert.equal(first.status, 'pending');
  assert.equal(first.stage, 1);
  assert.deepEqual(await membershipsOf('rita@example.com'), ['All Staff'], 'one stage grants nothing');
  await refusedWith(403, /Stage 2 .* decided by owen@example.com/, () => decideRequest(a.server.writePath, request.id, { decision: 'approve', reason: 'again' }, person('mona@example.com')));

  const approved = await decideRequest(a.server.writePath, request.id, { decision: 'approve', reason: 'agreed, until the close' }, person('owen@example.com'));
  assert.equal(approved.status, 'approved');
  assert.equal(approved.grantedUntil, until.toISOString());
  assert.deepEqual(approved.decisions.map((d) => [d.stage, d.decision, d.approver]), [[1, 'approve', 'mona@example.com'], [2, 'approve', 'owen@example.com']]);
  const [exception] = (await a.server.db.knex('policy_exceptions').where({ request_id: request.id })) as Array<{ expires_at: Date; granted_by: string }>;
  assert.equal(exception!.expires_at.toISOString(), until.toISOString());
  assert.match(exception!.granted_by, /approved by owen@example.com/);
  assert.deepEqual(await membershipsOf('rita@example.com'), ['All Staff', 'Finance Reporting']);
  await waitFor(() => isMemberOnB('Finance Reporting', 'rita@example.com'), 'rita in Finance Reporting on B');
  // "Why does Rita have Finance Reporting?" names the request.
  const access = await a.server.request('GET', `${a.server.url}/ops/users/${ids['rita@example.com']}/access`);
  const why = access.body.groups.find((g: { group: { displayName: string } }) => g.group.displayName === 'Finance Reporting').because;
  assert.deepEqual(why.map((b: { kind: string; accessRequest: number }) => [b.kind, b.accessRequest]), [['exception', request.id]]);

  // Every step journaled with who took it.
  assert.deepEqual((await journalOf('request.create')).filter((e: { changes: { request: number } }) => e.changes.request === request.id).map((e: { actor: string }) => e.actor), ['console:rita@example.com']);
  const approvals = (await journalOf('request.approve')).filter((e: { changes: { request: number } }) => e.changes.request === request.id);
  assert.deepEqual(approvals.map((e: { actor: string; changes: { stage: number } }) => [e.actor, e.changes.stage]), [['console:mona@example.com', 1], ['console:owen@example.com', 2]]);
  assert.equal((await journalOf('exception.grant')).at(-1).reason.accessRequest, request.id);

  // The date arrives: the queued re-evaluation ends the exception and the sync removes her on B.
  await waitFor(async () => !(await membershipsOf('rita@example.com')).includes('Finance Reporting'), 'the grant ended in Roster', 20_000);
  await waitFor(async () => !(await isMemberOnB('Finance Reporting', 'rita@example.com')), 'rita removed from Finance Reporting on B');
  const ended = (await a.server.db.knex('policy_exceptions').where({ request_id: request.id }).first()) as { ended_by: string };
  assert.equal(ended.ended_by, 'expiry');
});

test('separation of duties is checked when the request is made and again at approval', async () => {
  await refusedWith(409, /Separation of duties: adam@example.com holds payments-initiator \(by rule\)/, () =>
    createRequest(a.server.writePath, { entry: 'payments-approver', user: 'adam@example.com' }, person('adam@example.com')),
  );
  const request = await createRequest(a.server.writePath, { entry: 'payments-approver', user: 'paula@example.com', days: 3 }, person('paula@example.com'));
  // Paula becomes an Accountant while her request waits: approving it now would break SoD.
  const patched = await a.server.request('PATCH', `/Users/${ids['paula@example.com']}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: 'Accountant' }] } });
  assert.equal(patched.status, 200);
  await refusedWith(409, /Separation of duties: paula@example.com holds payments-initiator/, () => decideRequest(a.server.writePath, request.id, { decision: 'approve', reason: 'cover for May' }, person('mona@example.com')));
  const after = (await a.server.db.knex('access_requests').where({ id: request.id }).first()) as { status: string; stage: number };
  assert.deepEqual([after.status, after.stage], ['pending', 0], 'the refused approval recorded nothing');
  assert.equal((await a.server.db.knex('policy_exceptions').where({ request_id: request.id })).length, 0);
  assert.ok(!(await membershipsOf('paula@example.com')).includes('Payments Approvers'));
});

test('a denied and a withdrawn request change no access; nobody decides a request they filed, operator or not', async () => {
  const before = { dan: await membershipsOf('dan@example.com'), wim: await membershipsOf('wim@example.com') };
  const exceptionsBefore = (await a.server.db.knex('policy_exceptions')).length;
  const denied = await createRequest(a.server.writePath, { entry: 'finance-reporting', user: 'dan@example.com', justification: 'curious about the numbers' }, person('dan@example.com'));
  const deniedNow = await decideRequest(a.server.writePath, denied.id, { decision: 'deny', reason: 'not needed for his work' }, person('mona@example.com'));
  assert.equal(deniedNow.status, 'denied');
  assert.equal(deniedNow.closedReason, 'not needed for his work');
  await refusedWith(409, /is denied already/, () => decideRequest(a.server.writePath, denied.id, { decision: 'approve', reason: 'changed my mind' }, person('mona@example.com')));

  // An operator files for Wim; the same operator may not approve it, someone else may not withdraw it.
  const filed = await createRequest(a.server.writePath, { entry: 'finance-reporting', user: 'wim@example.com', justification: 'audit support (AUD-7)' }, operator);
  assert.equal(filed.requestedBy, 'ops-alice');
  await refusedWith(403, /Nobody approves or denies their own request/, () => decideRequest(a.server.writePath, filed.id, { decision: 'approve', reason: 'mine' }, { ...operator, userId: ids['mona@example.com'] }));
  await refusedWith(409, /already has request/, () => createRequest(a.server.writePath, { entry: 'finance-reporting', user: 'wim@example.com', justification: 'audit support again' }, person('wim@example.com')));
  await refusedWith(403, /Only whoever filed request/, () => withdrawRequest(a.server.writePath, filed.id, person('eve@example.com')));
  const withdrawn = await withdrawRequest(a.server.writePath, filed.id, person('wim@example.com'), 'no longer needed');
  assert.equal(withdrawn.status, 'withdrawn');

  assert.deepEqual(await membershipsOf('dan@example.com'), before.dan);
  assert.deepEqual(await membershipsOf('wim@example.com'), before.wim);
  assert.equal((await a.server.db.knex('policy_exceptions')).length, exceptionsBefore);
  assert.deepEqual((await journalOf('request.deny')).map((e: { actor: string }) => e.actor), ['console:mona@example.com']);
  assert.deepEqual((await journalOf('request.withdraw')).map((e: { actor: string; reason: { reason: string } }) => [e.actor, e.reason.reason]), [['console:wim@example.com', 'no longer needed']]);
});

test('bad requests are refused with a message that says what to do, and change nothing', async () => {
  const count = async () => Number((await a.server.db.knex('access_requests').count('* as n'))[0]!.n);
  const before = await count();
  await refusedWith(404, /no entry "nope"; the entries are: finance-reporting, payments-approver/, () => createRequest(a.server.writePath, { entry: 'nope', user: 'eve@example.com' }, person('eve@example.com')));
  await refusedWith(400, /needs a justification/, () => createRequest(a.server.writePath, { entry: 'finance-reporting', user: 'eve@example.com' }, person('eve@example.com')));
  await refusedWith(400, /days must be a whole number from 1 to 30/, () => createRequest(a.server.writePath, { entry: 'finance-reporting', user: 'eve@example.com', justification: 'a long project', days: 90 }, person('eve@example.com')));
  await refusedWith(409, /Nobody could decide stage 1 of "finance-reporting" for mona@example.com \(it is decided by the manager; is their manager set in HR\?\)/, () =>
    createRequest(a.server.writePath, { entry: 'finance-reporting', user: 'mona@example.com', justification: 'for the board pack' }, person('mona@example.com')),
  );
  await refusedWith(404, /No user "ghost@example.com"/, () => createRequest(a.server.writePath, { entry: 'finance-reporting', user: 'ghost@example.com', justification: 'for a ghost' }, operator));
  await refusedWith(404, /No access request #999999/, () => decideRequest(a.server.writePath, 999_999, { decision: 'approve', reason: 'why not' }, person('mona@example.com')));
  assert.equal(await count(), before);
});

test('an undecided request expires; approvers are told by email and by a signed webhook, and a failing receiver changes nothing', async () => {
  const expiring = await createRequest(a.server.writePath, { entry: 'finance-reporting', user: 'eve@example.com', justification: 'year-end inventory' }, person('eve@example.com'), { undecidedMs: 1500 });
  await waitFor(async () => ((await a.server.db.knex('access_requests').where({ id: expiring.id }).first()) as { status: string }).status === 'expired', 'the request expired', 15_000);
  assert.equal((await journalOf('request.expire')).at(-1).changes.request, expiring.id);
  await refusedWith(409, /is expired already/, () => decideRequest(a.server.writePath, expiring.id, { decision: 'approve', reason: 'late' }, person('mona@example.com')));

  // Eve's first request told Mona (the manager, stage 1) by email and webhook.
  const mail = await waitFor(() => mails.find((m) => m.text.includes(`Access request #${expiring.id}`)), 'the email at the SMTP server');
  // Approvers are blind copies (each sees only their own address); the To is Roster's own address.
  assert.deepEqual(mail.to, ['roster@example.com', 'mona@example.com']);
  assert.match(mail.text, /eve@example\.com asks for "finance-reporting"/);
  assert.match(mail.text, /https:\/\/roster\.example\.com\/console\/requests/);
  const hook = await waitFor(() => hooks.find((h) => JSON.parse(h.body).request.id === expiring.id), 'the webhook at the receiver');
  assert.equal(hook.signature, `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(hook.body).digest('hex')}`);
  assert.deepEqual(JSON.parse(hook.body).stage, { number: 1, of: 2, decidedBy: 'the manager', approvers: ['mona@example.com'] });

  // Paula's payments request was refused by the receiver: journaled as failed; the request stands.
  const [paulas] = (await a.server.db.knex('access_requests').where({ catalog_entry: 'payments-approver' }).select('id')) as Array<{ id: string }>;
  const failed = await waitFor(async () => (await journalOf('request.notify')).find((e: { changes: { request: number; channel: string } }) => e.changes.request === Number(paulas!.id) && e.changes.channel === 'webhook'), 'the failed webhook journaled');
  assert.deepEqual(failed.reason, { outcome: 'failed', error: 'the receiver answered 500' });
  assert.equal(((await a.server.db.knex('access_requests').where({ id: paulas!.id }).first()) as { status: string }).status, 'pending');
});

test('ops API: the catalog, requests on someone\'s behalf, decisions for a named approver, refusals as SCIM errors', async () => {
  const writer = (await createToken(a.server.db.knex, 'ops-bob', ['ops:write'])).token;
  const reader = (await createToken(a.server.db.knex, 'auditor', ['ops:read'])).token;
  const ops = (method: string, route: string, body?: unknown, token = writer) => a.server.request(method, `${a.server.url}${route}`, { token, ...(body !== undefined ? { body, headers: { 'content-type': 'application/json' } } : {}) });

  const catalog = await ops('GET', '/ops/catalog', undefined, reader);
  assert.equal(catalog.status, 200);
  assert.deepEqual(catalog.body.entries.map((e: { name: string }) => e.name), ['finance-reporting', 'payments-approver']);
  assert.deepEqual(catalog.body.entries[1].conflictsWith, ['payments-initiator']);

  assert.equal((await ops('POST', '/ops/requests', { entry: 'finance-reporting', user: 'eve@example.com', justification: 'stock take' }, reader)).status, 403, 'filing needs ops:write');
  const filed = await ops('POST', '/ops/requests', { entry: 'finance-reporting', user: 'eve@example.com', justification: 'stock take (OPS-3)', days: 5 });
  assert.equal(filed.status, 201, filed.text);
  assert.equal(filed.body.requestedBy, 'ops-bob');
  const id = filed.body.id as number;

  const missing = await ops('POST', `/ops/requests/${id}/approve`, { reason: 'fine' });
  assert.equal(missing.status, 400);
  assert.equal(missing.body.scimType, 'invalidValue');
  const own = await ops('POST', `/ops/requests/${id}/approve`, { approver: 'mona@example.com', reason: 'fine' });
  assert.equal(own.status, 403, 'the token that filed it never decides it');
  assert.match(own.body.detail, /Nobody approves or denies their own request/);
  const other = (await createToken(a.server.db.knex, 'ops-carla', ['ops:write'])).token;
  const wrong = await ops('POST', `/ops/requests/${id}/approve`, { approver: 'owen@example.com', reason: 'fine' }, other);
  assert.equal(wrong.status, 403);
  const first = await ops('POST', `/ops/requests/${id}/approve`, { approver: 'mona@example.com', reason: 'Mona said yes on the phone' }, other);
  assert.equal(first.status, 200, first.text);
  assert.equal(first.body.stage, 1);
  assert.equal(first.body.decisions[0].actor, 'ops-carla');

  const listed = await ops('GET', `/ops/requests?user=eve@example.com&status=pending`, undefined, reader);
  assert.deepEqual(listed.body.items.map((r: { id: number }) => r.id), [id]);
  assert.equal((await ops('GET', '/ops/requests?status=lost', undefined, reader)).body.scimType, 'invalidValue');
  assert.equal((await ops('GET', '/ops/requests/abc', undefined, reader)).status, 404);
  assert.equal((await ops('POST', '/ops/requests', { entry: 'nope', user: 'eve@example.com' })).status, 404);
  const withdrawn = await ops('POST', `/ops/requests/${id}/withdraw`, { reason: 'done without it' });
  assert.equal(withdrawn.status, 200);
  assert.equal(withdrawn.body.status, 'withdrawn');
});

test('CLI: roster request lists the catalog and requests with --json, files and decides with the operator in the journal', { timeout: 120_000 }, async () => {
  const env = { ...process.env, DATABASE_URL: a.server.db.url, LOG_LEVEL: 'error' };
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'request', ...args], { env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d));
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
  const catalog = await run(['catalog']);
  assert.equal(catalog.code, 0, catalog.stderr);
  assert.match(catalog.stdout, /finance-reporting: Finance Reporting, up to 30 days, justification required/);
  assert.match(catalog.stdout, /approved by: 1\. the manager then 2\. owen@example\.com/);
  const filed = await run(['create', 'finance-reporting', 'eve@example.com', '--justification', 'inventory count (OPS-9)', '--days', '2', '--as', 'bob', '--json']);
  assert.equal(filed.code, 0, filed.stderr);
  const id = JSON.parse(filed.stdout).id as number;
  assert.equal((await journalOf('request.create')).at(-1).actor, 'cli:bob');
  const self = await run(['approve', String(id), '--approver', 'mona@example.com', '--reason', 'looks right', '--as', 'bob']);
  assert.equal(self.code, 2);
  assert.match(self.stderr, /Nobody approves or denies their own request/);
  const denied = await run(['deny', String(id), '--approver', 'mona@example.com', '--reason', 'ask again in January', '--as', 'carla']);
  assert.equal(denied.code, 0, denied.stderr);
  assert.match(denied.stdout, /stage 1: deny by mona@example\.com \(cli:carla\)/);
  const listed = await run(['list', '--user', 'eve@example.com', '--json']);
  assert.equal(JSON.parse(listed.stdout).items[0].status, 'denied');
  const bad = await run(['show', 'x1']);
  assert.equal(bad.code, 2);
});

test('an unreachable mail server is journaled and logged; the request stands; the settings come from the environment', async () => {
  const filed = await createRequest(a.server.writePath, { entry: 'payments-approver', user: 'dan@example.com', days: 2 }, operator);
  // Port 9 on loopback: nothing listens, the connection is refused at once.
  const outcomes = await notifyApprovers(a.server.writePath, { smtpUrl: 'smtp://127.0.0.1:9', emailFrom: 'roster@example.com', webhookUrl: undefined, webhookSecret: undefined, publicUrl: undefined }, filed.id, 1);
  assert.deepEqual(outcomes.map((o) => [o.channel, o.ok, o.recipients]), [['email', false, 1]]);
  const entry = (await journalOf('request.notify')).findLast((e: { changes: { request: number; channel: string } }) => e.changes.request === filed.id && e.changes.channel === 'email');
  assert.equal(entry.reason.outcome, 'failed');
  assert.match(entry.reason.error, /ECONNREFUSED|connect/i);
  assert.equal(((await a.server.db.knex('access_requests').where({ id: filed.id }).first()) as { status: string }).status, 'pending');

  const config = loadConfig({ ROSTER_ACCESS_REQUEST_EXPIRY_DAYS: '3', ROSTER_NOTIFY_WEBHOOK_URL: 'https://chat.example.com/hook', ROSTER_NOTIFY_EMAIL_FROM: 'roster@example.com' });
  assert.equal(config.requests.undecidedMs, 3 * 86_400_000);
  assert.equal(config.requests.notify.webhookUrl, 'https://chat.example.com/hook');
  assert.equal(config.requests.notify.smtpUrl, undefined, 'no email unless configured');
  assert.throws(() => loadConfig({ ROSTER_NOTIFY_SMTP_URL: 'mail.example.com' }), /ROSTER_NOTIFY_SMTP_URL/);
});

test('the console finds the signed-in person by userName, else by an email address (any case), else by subject', async () => {
  const created = await a.server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'rq-7781', active: true, emails: [{ value: 'Rq.Person@Example.com', type: 'work' }] } });
  assert.equal(created.status, 201, created.text);
  const signedIn = (email: string | undefined, subject: string) => personUser(a.server.db.knex, { issuer: 'https://idp.example.com', subject, displayName: 'X', ...(email ? { email } : {}) });
  assert.equal((await signedIn('rq.person@example.com', 'opaque-1'))?.id, created.body.id);
  assert.equal((await signedIn(undefined, 'MONA@example.com'))?.id, ids['mona@example.com']);
  assert.equal(await signedIn('nobody@example.com', 'opaque-2'), undefined);
});
