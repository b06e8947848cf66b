/**
 * Time in the policy, on the real database-backed queue with a real worker: a contractor's access
 * ends at the contract's end date, a role starts at its start date, and an exception grant is
 * revoked when it expires (or by revoke). Each is journaled like any other change.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { grantException, revokeException, ExceptionError } from '../src/policy/exceptions.js';
import { ENTERPRISE, GROUP_SCHEMA, HR, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';

const POLICY = `
version: 1
roles:
  - name: contractors
    when: 'userType eq "Contractor" and active eq true'
    groups: [Contractors]
    until: ${HR}:endDate
  - name: new-starters
    when: '${ENTERPRISE}:department eq "Engineering"'
    groups: [Engineering]
    from: ${HR}:startDate
  - name: finance
    when: '${ENTERPRISE}:department eq "Finance"'
    groups: [Finance Reporting, Payroll]
`;

let server: TestServer;
before(async () => {
  server = await startTestServer({ policy: POLICY, worker: true });
});
after(async () => {
  await server.close();
});

const operator = { name: 'alice-admin', source: 'cli' as const, requestId: 'time-test' };

async function createUser(userName: string, body: Record<string, unknown>): Promise<string> {
  const res = await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA, ENTERPRISE, HR], userName, active: true, ...body } });
  assert.equal(res.status, 201, res.text);
  return res.body.id;
}

async function groupsOf(id: string): Promise<string[]> {
  const res = await server.request('GET', `/Users/${id}`);
  return ((res.body.groups ?? []) as Array<{ display: string }>).map((g) => g.display).sort();
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();

describe('time-bound roles', () => {
  test("a contractor's access ends at the end date, by a queued job, journaled with source policy", async () => {
    const id = await createUser('con@example.com', { userType: 'Contractor', [HR]: { endDate: inSeconds(2) } });
    assert.deepEqual(await groupsOf(id), ['Contractors']);
    const { rows: jobs } = await server.db.knex.raw(`SELECT task_identifier, run_at FROM graphile_worker.jobs WHERE key = ?`, [`policy:user:${id}`]);
    assert.equal(jobs.length, 1, 'a re-evaluation job is queued for the end date');
    assert.equal(jobs[0].task_identifier, 'policy.reevaluate');
    await waitFor(async () => (await groupsOf(id)).length === 0, 'the contractor to lose Contractors');
    const { rows } = await server.db.knex.raw(`SELECT actor, source, reason FROM journal WHERE action = 'members.remove' AND changes->'membersRemoved' @> ?::jsonb`, [JSON.stringify([{ value: id }])]);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].source, 'policy');
    assert.equal(rows[0].actor, 'policy-scheduler');
    assert.equal(rows[0].reason.members[0].rules[0].role, 'contractors');
    assert.ok(rows[0].reason.members[0].rules[0].attributes[`${HR}:endDate`]);
  });

  test('an extended contract keeps access: the job re-evaluates and finds the new date', async () => {
    const id = await createUser('ext@example.com', { userType: 'Contractor', [HR]: { endDate: inSeconds(2) } });
    const extended = await server.request('PATCH', `/Users/${id}`, {
      body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: `${HR}:endDate`, value: inSeconds(3600) }] },
    });
    assert.equal(extended.status, 200);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.deepEqual(await groupsOf(id), ['Contractors']);
  });

  test('a role with a start date begins when the date arrives', async () => {
    const id = await createUser('starter@example.com', { [ENTERPRISE]: { department: 'Engineering' }, [HR]: { startDate: inSeconds(2) } });
    assert.deepEqual(await groupsOf(id), []);
    await waitFor(async () => (await groupsOf(id)).includes('Engineering'), 'the starter to gain Engineering');
  });
});

describe('exceptions', () => {
  test('a grant outside the rules is journaled, explained, and revoked automatically when it expires', async () => {
    const id = await createUser('cover@example.com', { [ENTERPRISE]: { department: 'Sales' } });
    const granted = await grantException(server.writePath, 'cover@example.com', 'payroll', { reason: 'covering payroll in March (TICKET-1)', until: new Date(Date.now() + 2500), actor: operator });
    assert.equal(granted.added, true);
    assert.deepEqual(await groupsOf(id), ['Payroll']);
    const access = await server.request('GET', `${server.url}/ops/users/${id}/access`);
    const basis = access.body.groups[0].because[0];
    assert.equal(basis.kind, 'exception');
    assert.equal(basis.reason, 'covering payroll in March (TICKET-1)');
    assert.equal(basis.grantedBy, 'alice-admin');
    await waitFor(async () => (await groupsOf(id)).length === 0, 'the exception to expire');
    const { rows } = await server.db.knex.raw(`SELECT action, source FROM journal WHERE resource_id = ? AND action LIKE 'exception.%' ORDER BY id`, [id]);
    assert.deepEqual(rows.map((r: { action: string }) => r.action), ['exception.grant', 'exception.expired']);
  });

  test('revoke ends a grant at once; a rule-granted membership survives the end of an exception', async () => {
    const id = await createUser('fin@example.com', { [ENTERPRISE]: { department: 'Finance' } });
    await grantException(server.writePath, 'fin@example.com', 'Payroll', { reason: 'belt and braces', actor: operator });
    const revoked = await revokeException(server.writePath, 'fin@example.com', 'Payroll', operator);
    assert.equal(revoked.removed, false, 'the finance rule still grants Payroll');
    assert.deepEqual(await groupsOf(id), ['Finance Reporting', 'Payroll']);

    const other = await createUser('temp@example.com', {});
    await grantException(server.writePath, 'temp@example.com', 'Payroll', { reason: 'audit support', actor: operator });
    const { rows } = await server.db.knex.raw(`SELECT round(EXTRACT(EPOCH FROM expires_at - granted_at) / 86400)::int AS days FROM policy_exceptions WHERE user_id = ?`, [other]);
    assert.equal(rows[0].days, 90, 'default expiry: 90 days');
    assert.equal((await revokeException(server.writePath, 'temp@example.com', 'Payroll', operator)).removed, true);
    assert.deepEqual(await groupsOf(other), []);
  });

  test('mistakes are refused with what to do, and change nothing', async () => {
    await createUser('nobody-special@example.com', {});
    await server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'IdP Only' } });
    const cases: Array<[() => Promise<unknown>, RegExp]> = [
      [() => grantException(server.writePath, 'nobody-special@example.com', 'Payroll', { reason: '', actor: operator }), /--reason is required/],
      [() => grantException(server.writePath, 'ghost@example.com', 'Payroll', { reason: 'why not', actor: operator }), /No user with userName/],
      [() => grantException(server.writePath, 'nobody-special@example.com', 'IdP Only', { reason: 'why not', actor: operator }), /not managed by the policy/],
      [() => grantException(server.writePath, 'nobody-special@example.com', 'Payroll', { reason: 'why not', until: new Date(Date.now() - 1000), actor: operator }), /in the past/],
      [() => grantException(server.writePath, 'nobody-special@example.com', 'Payroll', { reason: 'why not', until: new Date(Date.now() + 400 * 86_400_000), actor: operator }), /more than 366 days/],
      [() => revokeException(server.writePath, 'nobody-special@example.com', 'Payroll', operator), /no open exception/],
    ];
    const before = (await server.db.knex.raw(`SELECT count(*)::int AS n FROM journal`)).rows[0].n;
    for (const [attempt, message] of cases) await assert.rejects(attempt(), (e: Error) => e instanceof ExceptionError && message.test(e.message));
    assert.equal((await server.db.knex.raw(`SELECT count(*)::int AS n FROM journal`)).rows[0].n, before);
  });
});
