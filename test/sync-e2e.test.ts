/**
 * Roster A pushes to Roster B, a real SCIM server on loopback: joiner, mover and leaver reach B,
 * with group membership, nothing duplicated, and every push attempt in A's journal.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createToken } from '../src/auth/token-store.js';
import { ENTERPRISE, GROUP_SCHEMA, PATCH_OP, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';
import { pendingJobs, startRosterA, waitFor, type RosterA } from './support/sync-harness.js';

let b: TestServer;
let a: RosterA;

before(async () => {
  b = await startTestServer();
  a = await startRosterA(
    [
      {
        name: 'roster-b',
        baseUrl: b.scimUrl,
        auth: { type: 'bearer', tokenEnv: 'B_TOKEN' },
        users: { filter: 'userType eq "Employee"' },
        groups: { names: ['Engineering'] },
        deprovision: 'disable',
        retry: { baseDelay: '100ms', maxDelay: '1s' },
      },
    ],
    { B_TOKEN: b.token },
  );
});
after(async () => {
  await a?.close();
  await b?.close();
});

const onB = async (userName: string) => {
  const response = await b.request('GET', `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`);
  return response.body.Resources[0] as Record<string, any> | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
};
const groupOnB = async (displayName: string) => {
  const response = await b.request('GET', `/Groups?filter=${encodeURIComponent(`displayName eq "${displayName}"`)}`);
  return response.body.Resources[0] as Record<string, any> | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
};

test('joiner, mover and leaver reach the target, with membership, once each', async () => {
  const group = (await a.server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'Engineering' } })).body.id;
  const other = (await a.server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'Not synced' } })).body.id;

  // Joiner.
  const alice = (
    await a.server.request('POST', '/Users', {
      body: { schemas: [USER_SCHEMA, ENTERPRISE], userName: 'alice@example.com', userType: 'Employee', title: 'Engineer', name: { givenName: 'Alice', familyName: 'A' }, [ENTERPRISE]: { department: 'R&D' } },
    })
  ).body.id;
  await a.server.request('PATCH', `/Groups/${group}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: alice }] }] } });
  await a.server.request('PATCH', `/Groups/${other}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: alice }] }] } });
  const remoteAlice = await waitFor(() => onB('alice@example.com'), 'alice on B');
  assert.equal(remoteAlice.externalId, alice, 'externalId on the target is Roster A id');
  assert.equal(remoteAlice.title, 'Engineer');
  assert.equal(remoteAlice[ENTERPRISE].department, 'R&D');
  const remoteGroup = await waitFor(async () => {
    const g = await groupOnB('Engineering');
    return g && g.members?.length === 1 ? g : undefined;
  }, 'Engineering with alice on B');
  assert.equal(remoteGroup.members[0].value, remoteAlice.id);
  assert.equal(await groupOnB('Not synced'), undefined, 'a group outside the scope is not pushed');

  // Mover: title and department change; only the changed paths go out.
  await a.server.request('PATCH', `/Users/${alice}`, {
    body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: 'Lead' }, { op: 'replace', path: `${ENTERPRISE}:department`, value: 'Platform' }] },
  });
  await waitFor(async () => (await onB('alice@example.com'))?.title === 'Lead', 'title change on B');
  const moved = await onB('alice@example.com');
  assert.equal(moved![ENTERPRISE].department, 'Platform');
  // The journal entry commits just after the target answered.
  const pushes = await waitFor(async () => {
    const { rows } = await a.server.db.knex.raw(
      `SELECT changes FROM journal WHERE source = 'sync' AND action = 'sync.push' AND resource_id = ? AND changes->>'method' = 'PATCH' ORDER BY id`,
      [alice],
    );
    return rows.length > 0 ? rows : undefined;
  }, 'the PATCH in the journal');
  assert.equal(pushes.length, 1);
  assert.equal(pushes[0].changes.connector, 'roster-b');
  assert.equal(pushes[0].changes.status, 200);
  assert.equal(pushes[0].changes.outcome, 'ok');
  assert.equal(typeof pushes[0].changes.latencyMs, 'number');
  const { rows: patchOnB } = await b.db.knex.raw(`SELECT changes FROM journal WHERE resource_id = ? AND action = 'update'`, [remoteAlice.id]);
  assert.deepEqual(
    patchOnB[0].changes.map((c: { path: string }) => c.path).sort(),
    ['title', `${ENTERPRISE}:department`].sort(),
    'B saw exactly the two changed attributes',
  );

  // Leaver: out of scope → disabled on B and removed from the group there.
  await a.server.request('PATCH', `/Users/${alice}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'userType', value: 'Contractor' }] } });
  await waitFor(async () => (await onB('alice@example.com'))?.active === false, 'alice disabled on B');
  await waitFor(async () => (await groupOnB('Engineering'))?.members?.length === 0, 'alice removed from Engineering on B');

  // Rejoin: back in scope → re-enabled and re-added.
  await a.server.request('PATCH', `/Users/${alice}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'userType', value: 'Employee' }] } });
  await waitFor(async () => (await onB('alice@example.com'))?.active === true, 'alice re-enabled on B');
  await waitFor(async () => (await groupOnB('Engineering'))?.members?.length === 1, 'alice back in Engineering on B');

  // Nothing duplicated: one account, one create in B's journal.
  const { rows: creates } = await b.db.knex.raw(`SELECT count(*)::int AS n FROM journal WHERE action = 'create' AND resource_type = 'User'`);
  assert.equal(creates[0].n, 1);
  await waitFor(async () => (await pendingJobs(a.server.db.knex)) === 0, 'queue drained');
});

test('a user deleted in Roster is disabled on the target, and no secret reaches the journal', async () => {
  const bob = (await a.server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'bob@example.com', userType: 'Employee', password: 'Sup3r-secret-pw!' } })).body.id;
  await waitFor(() => onB('bob@example.com'), 'bob on B');
  assert.equal((await onB('bob@example.com'))!.password, undefined);
  await a.server.request('DELETE', `/Users/${bob}`);
  await waitFor(async () => (await onB('bob@example.com'))?.active === false, 'bob disabled on B');
  const { rows } = await a.server.db.knex.raw(`SELECT count(*)::int AS n FROM journal WHERE source = 'sync' AND (changes::text LIKE ? OR changes::text LIKE ?)`, ['%Sup3r%', `%${b.token}%`]);
  assert.equal(rows[0].n, 0);
});

test('GET /ops/connectors shows each connector (scope ops:read), without secrets', async () => {
  const response = await a.server.request('GET', `${a.server.url}/ops/connectors`);
  assert.equal(response.status, 200, response.text);
  const [status] = response.body.connectors;
  assert.equal(status.name, 'roster-b');
  assert.equal(status.profile, 'generic');
  assert.equal(status.dryRun, false);
  assert.equal(status.circuit.state, 'closed');
  assert.equal(typeof status.queueDepth, 'number');
  assert.equal(status.parked, 0);
  assert.ok(status.lastSuccessAt);
  assert.ok(status.managed.users >= 1);
  assert.ok(!response.text.includes(b.token), 'no secret in the answer');
  const { token } = await createToken(a.server.db.knex, 'reader', ['scim:read']);
  const denied = await a.server.request('GET', `${a.server.url}/ops/connectors`, { token });
  assert.equal(denied.status, 403);
});
