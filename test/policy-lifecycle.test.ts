/**
 * Joiners, movers and leavers through the SCIM API of a real server with a policy: memberships
 * change in the same transaction as the user, journaled with the rule, the policy version and the
 * attribute values; managed groups refuse IdP writes; explain says why; conflicts in both modes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createToken } from '../src/auth/token-store.js';
import { ENTERPRISE, GROUP_SCHEMA, PATCH_OP, snapshotCounts, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';

const DEPT = `${ENTERPRISE}:department`;
const POLICY = `
version: 1
onConflict: keep-first
conflicts:
  - [payments-initiator, payments-approver]
roles:
  - name: finance-analyst
    description: Analysts in Finance
    when: '${DEPT} eq "Finance" and title co "Analyst"'
    groups: [Finance Reporting, Expense Viewers]
  - name: sales
    when: '${DEPT} eq "Sales"'
    groups: [Sales Team, CRM Users]
  - name: staff
    when: 'userType eq "Employee"'
    groups: [All Staff]
  - name: payments-initiator
    when: 'title eq "Payments Clerk" or ${ENTERPRISE}:costCenter eq "PAY-1"'
    groups: [Payments Initiators]
  - name: payments-approver
    when: 'title eq "Payments Approver" or ${ENTERPRISE}:costCenter eq "PAY-2"'
    groups: [Payments Approvers]
`;

let server: TestServer;
before(async () => {
  server = await startTestServer({ policy: POLICY });
});
after(async () => {
  await server.close();
});

async function createUser(userName: string, attributes: Record<string, unknown> = {}, enterprise: Record<string, unknown> = {}): Promise<string> {
  const res = await server.request('POST', '/Users', {
    body: { schemas: [USER_SCHEMA, ENTERPRISE], userName, active: true, userType: 'Employee', ...attributes, [ENTERPRISE]: enterprise },
  });
  assert.equal(res.status, 201, res.text);
  return res.body.id;
}

const patchUser = async (id: string, Operations: unknown[]) => {
  const res = await server.request('PATCH', `/Users/${id}`, { body: { schemas: [PATCH_OP], Operations } });
  assert.equal(res.status, 200, res.text);
  return res;
};

async function groupsOf(id: string): Promise<string[]> {
  const res = await server.request('GET', `/Users/${id}`);
  assert.equal(res.status, 200, res.text);
  return ((res.body.groups ?? []) as Array<{ display: string }>).map((g) => g.display).sort();
}

const groupId = async (name: string): Promise<string> => (await server.db.knex.raw(`SELECT id FROM groups WHERE resource->>'displayName' = ?`, [name])).rows[0].id;

const journal = async (sql: string, bindings: string[] = []) => (await server.db.knex.raw(`SELECT * FROM journal WHERE ${sql} ORDER BY id`, bindings)).rows;

describe('policy: joiners, movers, leavers', () => {
  test('managed groups exist, are marked, and SCIM clients can read them', async () => {
    const res = await server.request('GET', `/Groups?filter=${encodeURIComponent('displayName eq "Finance Reporting"')}`);
    assert.equal(res.status, 200);
    assert.equal(res.body.totalResults, 1);
    const { rows } = await server.db.knex.raw(`SELECT count(*)::int AS n FROM groups WHERE managed_by IS NOT NULL`);
    assert.equal(rows[0].n, 7);
  });

  test('joiner: a new Finance analyst gets Finance Reporting in the same request, journaled with the reason', async () => {
    const id = await createUser('ana@example.com', { title: 'Senior Financial Analyst' }, { department: 'Finance' });
    assert.deepEqual(await groupsOf(id), ['All Staff', 'Expense Viewers', 'Finance Reporting']);
    const [grant] = await journal(`action = 'members.add' AND resource_id = ?`, [await groupId('Finance Reporting')]);
    assert.equal(grant.source, 'scim', 'journaled under the request that made the change');
    const userCreate = (await journal(`action = 'create' AND resource_id = ?`, [id]))[0];
    assert.equal(grant.request_id, userCreate.request_id, 'same request, same transaction');
    assert.deepEqual(grant.changes, { membersAdded: [{ value: id, type: 'User' }] });
    assert.equal(grant.resource_name, 'Finance Reporting');
    const [roles] = await journal(`action = 'roles.update' AND resource_id = ?`, [id]);
    assert.equal(roles.resource_name, 'ana@example.com');
    assert.equal(grant.reason.cause, 'policy');
    assert.match(grant.reason.policyVersion, /^[0-9a-f]{12}$/);
    assert.deepEqual(grant.reason.members.map((m: { value: string; userName: string }) => [m.value, m.userName]), [[id, 'ana@example.com']]);
    const [because] = grant.reason.members[0].grants;
    assert.equal(because.role, 'finance-analyst');
    assert.equal(because.attributes[DEPT], 'Finance');
    assert.equal(because.attributes.title, 'Senior Financial Analyst');
  });

  test('mover: Finance → Sales loses Finance groups and gains Sales groups in one transaction', async () => {
    const id = await createUser('mo@example.com', { title: 'Financial Analyst' }, { department: 'Finance' });
    await patchUser(id, [{ op: 'replace', path: DEPT, value: 'Sales' }]);
    assert.deepEqual(await groupsOf(id), ['All Staff', 'CRM Users', 'Sales Team']);
    const update = (await journal(`action = 'update' AND resource_id = ?`, [id]))[0];
    const sameRequest = await journal(`request_id = ? AND action LIKE 'members.%'`, [update.request_id]);
    assert.deepEqual(sameRequest.map((e: { action: string }) => e.action).sort(), ['members.add', 'members.add', 'members.remove', 'members.remove']);
    const revoke = sameRequest.find((e: { action: string; resource_id: string }) => e.action === 'members.remove');
    const [lost] = revoke.reason.members;
    assert.equal(lost.value, id);
    assert.equal(lost.why, 'rule no longer matches');
    assert.equal(lost.rules[0].role, 'finance-analyst');
    assert.equal(lost.rules[0].attributes[DEPT], 'Sales', 'the value that made the rule stop matching');
    const roles = (await server.db.knex.raw(`SELECT role FROM policy_roles WHERE user_id = ? ORDER BY role`, [id])).rows.map((r: { role: string }) => r.role);
    assert.deepEqual(roles, ['sales', 'staff']);
  });

  test('a change that affects no rule writes nothing beyond the user', async () => {
    const id = await createUser('quiet@example.com', { title: 'Analyst' }, { department: 'Finance' });
    const before = await snapshotCounts(server.db);
    await patchUser(id, [{ op: 'replace', path: 'nickName', value: 'Q' }]);
    const after = await snapshotCounts(server.db);
    assert.equal(after.journal, before.journal! + 1, 'only the user update');
    assert.equal(after.group_versions, before.group_versions);
  });

  test('leaver: active=false removes every managed membership; rehire restores them', async () => {
    const id = await createUser('leo@example.com', { title: 'Financial Analyst' }, { department: 'Finance' });
    const pushed = await server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'IdP Pushed', members: [{ value: id }] } });
    assert.equal(pushed.status, 201);
    await patchUser(id, [{ op: 'replace', path: 'active', value: false }]);
    assert.deepEqual(await groupsOf(id), ['IdP Pushed'], 'IdP groups stay the IdP’s');
    const revokes = await journal(`action = 'members.remove' AND changes->'membersRemoved' @> ?::jsonb`, [JSON.stringify([{ value: id }])]);
    assert.equal(revokes.length, 3);
    assert.ok(revokes.every((e: { reason: { members: Array<{ why: string }> } }) => e.reason.members.every((m) => m.why === 'user deactivated')));
    await patchUser(id, [{ op: 'replace', path: 'active', value: true }]);
    assert.deepEqual(await groupsOf(id), ['All Staff', 'Expense Viewers', 'Finance Reporting', 'IdP Pushed']);
  });

  test('deletion removes the managed memberships and the roles', async () => {
    const id = await createUser('del@example.com', { title: 'Analyst' }, { department: 'Finance' });
    const financeReporting = await groupId('Finance Reporting');
    const res = await server.request('DELETE', `/Users/${id}`);
    assert.equal(res.status, 204);
    const { rows } = await server.db.knex.raw(`SELECT count(*)::int AS n FROM group_members WHERE member_id = ?`, [id]);
    assert.equal(rows[0].n, 0);
    assert.equal((await server.db.knex.raw(`SELECT count(*)::int AS n FROM policy_roles WHERE user_id = ?`, [id])).rows[0].n, 0);
    const removed = await journal(`action = 'members.remove' AND resource_id = ? AND changes->'membersRemoved' @> ?::jsonb`, [financeReporting, JSON.stringify([{ value: id }])]);
    assert.equal(removed.length, 1);
  });
});

describe('managed groups refuse IdP writes', () => {
  test('PATCH members, PUT, rename and DELETE get 400 mutability naming the policy; nothing changes', async () => {
    const id = await createUser('idp@example.com');
    const group = await groupId('Finance Reporting');
    const before = await snapshotCounts(server.db);
    const attempts = [
      server.request('PATCH', `/Groups/${group}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: id }] }] } }),
      server.request('PUT', `/Groups/${group}`, { body: { schemas: [GROUP_SCHEMA], displayName: 'Finance Reporting', members: [{ value: id }] } }),
      server.request('PATCH', `/Groups/${group}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'displayName', value: 'Renamed' }] } }),
      server.request('DELETE', `/Groups/${group}`),
    ];
    for (const res of await Promise.all(attempts)) {
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.scimType, 'mutability');
      assert.match(res.body.detail, /managed by the Roster policy policy\.yaml version [0-9a-f]{12} \(roles: finance-analyst\)/);
    }
    assert.deepEqual(await snapshotCounts(server.db), before);
  });

  test('an IdP group with no policy name stays writable', async () => {
    const id = await createUser('free@example.com');
    const res = await server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'Free Group' } });
    const patched = await server.request('PATCH', `/Groups/${res.body.id}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: id }] }] } });
    assert.equal(patched.status, 204);
  });
});

describe('explain', () => {
  test('GET /ops/users/{id}/access: rule, attribute values, since and journal entry; IdP group: pushed by', async () => {
    const id = await createUser('ex@example.com', { title: 'Financial Analyst' }, { department: 'Finance' });
    await server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'Pushed Group', members: [{ value: id }] } });
    const res = await server.request('GET', `${server.url}/ops/users/${id}/access`);
    assert.equal(res.status, 200, res.text);
    const byName = new Map(res.body.groups.map((g: { group: { displayName: string } }) => [g.group.displayName, g]));
    const finance = byName.get('Finance Reporting') as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(finance.because[0].kind, 'rule');
    assert.equal(finance.because[0].role, 'finance-analyst');
    assert.equal(finance.because[0].attributes[DEPT], 'Finance');
    assert.ok(finance.because[0].roleSince);
    assert.equal(finance.journalEntry.action, 'members.add');
    const pushed = byName.get('Pushed Group') as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.deepEqual(pushed.because, [{ kind: 'pushed', actor: 'bootstrap', source: 'scim' }]);
    assert.equal(res.body.policyVersion.length, 12);
  });

  test('unknown user: 404; a token without ops:read: 403', async () => {
    const missing = await server.request('GET', `${server.url}/ops/users/00000000-0000-4000-8000-000000000000/access`);
    assert.equal(missing.status, 404);
    const bad = await server.request('GET', `${server.url}/ops/users/not-a-uuid/access`);
    assert.equal(bad.status, 404);
    const { token } = await createToken(server.db.knex, 'reader-only', ['scim:read']);
    const forbidden = await server.request('GET', `${server.url}/ops/users/00000000-0000-4000-8000-000000000000/access`, { token });
    assert.equal(forbidden.status, 403);
    assert.match(forbidden.text, /ops:read/);
  });
});

describe('separation of duties, keep-first', () => {
  test('a user matching both roles keeps the one granted first; the violation is journaled once', async () => {
    const id = await createUser('clerk@example.com', { title: 'Payments Clerk' });
    assert.ok((await groupsOf(id)).includes('Payments Initiators'));
    await patchUser(id, [{ op: 'add', path: `${ENTERPRISE}:costCenter`, value: 'PAY-2' }]);
    const groups = await groupsOf(id);
    assert.ok(groups.includes('Payments Initiators'));
    assert.ok(!groups.includes('Payments Approvers'));
    const violations = await journal(`action = 'policy.violation' AND resource_id = ?`, [id]);
    assert.equal(violations.length, 1);
    assert.deepEqual(violations[0].reason.conflict, ['payments-initiator', 'payments-approver']);
    assert.equal(violations[0].reason.kept, 'payments-initiator');
    assert.equal(violations[0].reason.notGranted, 'payments-approver');
    await patchUser(id, [{ op: 'replace', path: 'nickName', value: 'again' }]);
    assert.equal((await journal(`action = 'policy.violation' AND resource_id = ?`, [id])).length, 1, 'journaled when it arises, not on every change');
    // The clerk stops being a clerk: the conflict resolves and the approver role is granted.
    await patchUser(id, [{ op: 'replace', path: 'title', value: 'Controller' }]);
    assert.deepEqual((await groupsOf(id)).filter((g) => g.startsWith('Payments')), ['Payments Approvers']);
    assert.equal((await journal(`action = 'policy.violation.resolved' AND resource_id = ?`, [id])).length, 1);
  });

  test('when both roles arrive at once, the first of the pair is kept', async () => {
    const id = await createUser('both@example.com', { title: 'Payments Clerk' }, { costCenter: 'PAY-2' });
    const groups = await groupsOf(id);
    assert.ok(groups.includes('Payments Initiators') && !groups.includes('Payments Approvers'));
  });
});

describe('separation of duties, report only', () => {
  let reporting: TestServer;
  before(async () => {
    reporting = await startTestServer({ policy: POLICY.replace('onConflict: keep-first', 'onConflict: report') });
  });
  after(async () => {
    await reporting.close();
  });

  test('the user keeps both roles and the violation is journaled', async () => {
    const res = await reporting.request('POST', '/Users', {
      body: { schemas: [USER_SCHEMA, ENTERPRISE], userName: 'both@example.com', title: 'Payments Clerk', [ENTERPRISE]: { costCenter: 'PAY-2' } },
    });
    assert.equal(res.status, 201, res.text);
    const user = await reporting.request('GET', `/Users/${res.body.id}`);
    const groups = user.body.groups.map((g: { display: string }) => g.display).sort();
    assert.deepEqual(groups, ['Payments Approvers', 'Payments Initiators']);
    const { rows } = await reporting.db.knex.raw(`SELECT reason FROM journal WHERE action = 'policy.violation' AND resource_id = ?`, [res.body.id]);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].reason.mode, 'report');
    assert.equal(rows[0].reason.notGranted, undefined);
  });
});

test('concurrent movers granted the same managed groups all succeed (no deadlock on the groups they share)', async () => {
  // Each move adds its user to two managed groups, removes it from two, and bumps the four groups'
  // versions: the member inserts hold KEY SHARE locks on the groups (foreign key), so the version
  // bump must not take FOR UPDATE, or two movers deadlock.
  for (let round = 0; round < 3; round++) {
    const ids: string[] = [];
    for (let i = 0; i < 16; i++) ids.push(await createUser(`crowd-${round}-${i}@example.com`, { title: 'Account Executive' }, { department: 'Sales' }));
    const statuses = await Promise.all(
      ids.map(async (id) => {
        const res = await server.request('PATCH', `/Users/${id}`, {
          body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { title: 'Analyst', [`${DEPT}`]: 'Finance' } }] },
        });
        return res.status === 200 ? 200 : `${res.status} ${res.text}`;
      }),
    );
    assert.deepEqual(statuses, Array(16).fill(200), `round ${round}`);
  }
  const { rows } = await server.db.knex.raw(
    `SELECT g.resource->>'displayName' AS name, count(*)::int AS n FROM group_members gm JOIN groups g ON g.id = gm.group_id JOIN users u ON u.id = gm.member_id
      WHERE u.resource->>'userName' LIKE 'crowd-%' GROUP BY 1 ORDER BY 1`,
  );
  assert.deepEqual(rows, [{ name: 'All Staff', n: 48 }, { name: 'Expense Viewers', n: 48 }, { name: 'Finance Reporting', n: 48 }]);
});
