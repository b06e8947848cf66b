/**
 * Outbound sync against a target that misbehaves (test/support/fault-target.ts, a real HTTP server
 * on loopback): down for a while, 429 with Retry-After, timeouts, connection resets, slow answers,
 * content rejections, and AWS IAM Identity Center's limits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listParked } from '../src/sync/parked.js';
import { startFaultTarget, type FaultTarget } from './support/fault-target.js';
import { GROUP_SCHEMA, PATCH_OP, USER_SCHEMA } from './support/server.js';
import { pendingJobs, startRosterA, waitFor, type RosterA } from './support/sync-harness.js';

async function setup(connector: Record<string, unknown> = {}, targetOptions: Parameters<typeof startFaultTarget>[0] = {}): Promise<{ a: RosterA; t: FaultTarget; close(): Promise<void> }> {
  const t = await startFaultTarget(targetOptions);
  const a = await startRosterA(
    [
      {
        name: 'target',
        baseUrl: t.url,
        auth: { type: 'bearer', tokenEnv: 'TARGET_TOKEN' },
        timeout: '400ms',
        retry: { baseDelay: '50ms', maxDelay: '400ms' },
        circuit: { failureThreshold: 3, openFor: '300ms', maxOpenFor: '1s' },
        ...connector,
      },
    ],
    { TARGET_TOKEN: t.token },
  );
  return { a, t, close: async () => (await a.close(), await t.close()) };
}

const createUser = (a: RosterA, userName: string, extra: Record<string, unknown> = {}) =>
  a.server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName, ...extra } }).then((r) => {
    assert.equal(r.status, 201, r.text);
    return r.body.id as string;
  });

const countByName = (t: FaultTarget, userName: string) => [...t.users.values()].filter((u) => u.userName === userName).length;

test('a target down for a while: the circuit opens, probes, and everything converges once it is back', async () => {
  const { a, t, close } = await setup({ groups: { names: ['Outage'] }, deprovision: 'delete' });
  try {
    const knex = a.server.db.knex;
    const change = async (method: 'PATCH' | 'DELETE', path: string, Operations?: unknown[]) => {
      const r = await a.server.request(method, path, Operations ? { body: { schemas: [PATCH_OP], Operations } } : {});
      assert.ok(r.status === 200 || r.status === 204, `${method} ${path}: ${r.status} ${r.text}`);
    };
    // Before the outage: four users and a group holding two of them, all on the target.
    const kept = await createUser(a, 'kept@example.com', { title: 'Engineer' });
    const leaver = await createUser(a, 'leaver@example.com', { title: 'Analyst' });
    const deleted = await createUser(a, 'deleted@example.com', { title: 'Temp' });
    const joiner = await createUser(a, 'joiner@example.com');
    const created = await a.server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'Outage', members: [{ value: kept }, { value: deleted }] } });
    assert.equal(created.status, 201, created.text);
    const group = created.body.id as string;
    await waitFor(() => t.groupByName('Outage')?.members.size === 2, 'the group with its two members on the target');
    await waitFor(async () => (await pendingJobs(knex)) === 0, 'queue drained before the outage');
    const remote = (userName: string) => t.userByName(userName)?.id as string | undefined;
    const remoteBefore = { kept: remote('kept@example.com')!, leaver: remote('leaver@example.com')!, joiner: remote('joiner@example.com')! };
    const beforeOutage = t.requests.length;

    t.down({ status: 503 });
    // While it is down: 20 creates, an update, a deactivation, a delete and a membership change.
    const names = Array.from({ length: 20 }, (_, i) => `down-${i}@example.com`);
    const ids: string[] = [];
    for (const name of names) ids.push(await createUser(a, name));
    await change('PATCH', `/Users/${kept}`, [{ op: 'replace', path: 'title', value: 'Staff Engineer' }]);
    await change('PATCH', `/Users/${leaver}`, [{ op: 'replace', path: 'active', value: false }]);
    await change('DELETE', `/Users/${deleted}`);
    await change('PATCH', `/Groups/${group}`, [
      { op: 'remove', path: `members[value eq "${kept}"]` },
      { op: 'add', path: 'members', value: [{ value: joiner }, { value: ids[0] }] },
    ]);
    await waitFor(async () => {
      const { rows } = await knex.raw(`SELECT circuit FROM sync_connectors WHERE connector = 'target'`);
      return rows[0]?.circuit === 'open' || rows[0]?.circuit === 'half-open';
    }, 'the circuit to open');
    const sentWhileDown = t.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const probes = t.requests.length - sentWhileDown;
    // Open for 300 ms doubling to 1 s: a handful of probes in 1.5 s, not 24 objects hammering.
    assert.ok(probes <= 6, `probed ${probes} times in 1.5 s while open`);
    t.up();
    const duringOutage = t.requests.slice(beforeOutage, sentWhileDown + probes);
    assert.ok(duringOutage.length > 0 && duringOutage.every((r) => r.status === 503), 'every request during the outage got a 503');

    // The target ends up holding exactly Roster's final state.
    const expectedMembers = () => [remoteBefore.joiner, remote(names[0]!)].sort();
    const converged = () => {
      const g = t.groupByName('Outage');
      return (
        names.every((n) => countByName(t, n) === 1) &&
        t.userByName('kept@example.com')?.title === 'Staff Engineer' &&
        t.userByName('leaver@example.com')?.active === false &&
        !t.userByName('deleted@example.com') &&
        g !== undefined &&
        JSON.stringify([...g.members].sort()) === JSON.stringify(expectedMembers())
      );
    };
    await waitFor(converged, 'the target at the final state', 30_000);
    await waitFor(async () => (await pendingJobs(knex)) === 0, 'queue drained', 30_000);
    assert.ok(converged(), 'still at the final state once the queue is drained');

    const byName = new Map([...t.users.values()].map((u) => [u.userName as string, u]));
    assert.equal(t.users.size, 23, `23 users on the target: ${[...byName.keys()].join(', ')}`);
    for (const name of names) {
      assert.equal(countByName(t, name), 1, `${name} exactly once`);
      assert.equal(byName.get(name)!.active, true, `${name} active`);
    }
    assert.deepEqual(
      { title: byName.get('kept@example.com')!.title, active: byName.get('kept@example.com')!.active, id: byName.get('kept@example.com')!.id },
      { title: 'Staff Engineer', active: true, id: remoteBefore.kept },
      'kept: the update arrived, on the same account',
    );
    assert.deepEqual(
      { title: byName.get('leaver@example.com')!.title, active: byName.get('leaver@example.com')!.active, id: byName.get('leaver@example.com')!.id },
      { title: 'Analyst', active: false, id: remoteBefore.leaver },
      'leaver: deactivated, on the same account',
    );
    assert.equal(byName.has('deleted@example.com'), false, 'deleted: gone from the target');
    assert.equal(t.groups.size, 1, 'one group on the target');
    assert.deepEqual([...t.groupByName('Outage')!.members].sort(), expectedMembers(), 'members: joiner and the user created while down, not kept nor deleted');

    // Nothing sent twice: no 409 answered, one successful POST per user, one DELETE.
    const answered409 = t.requests.filter((r) => r.status === 409);
    assert.deepEqual(answered409.map((r) => `${r.method} ${r.path}`), [], 'the target answered no 409');
    const posts = t.requests.filter((r) => r.method === 'POST' && r.path === '/Users' && r.status === 201).map((r) => (r.body as { userName: string }).userName);
    assert.equal(posts.length, 24, `one successful POST per user: ${posts.length}`);
    assert.equal(new Set(posts).size, 24, 'no userName posted twice');
    assert.equal(t.requests.filter((r) => r.method === 'DELETE' && r.status === 204).length, 1, 'one DELETE');
    assert.deepEqual(await listParked(knex, 'target'), [], 'nothing parked');

    const { rows } = await knex.raw(`SELECT circuit, consecutive_failures FROM sync_connectors WHERE connector = 'target'`);
    assert.deepEqual(rows[0], { circuit: 'closed', consecutive_failures: 0 });
    const { rows: failures } = await knex.raw(`SELECT count(*)::int AS n FROM journal WHERE action = 'sync.push' AND changes->>'outcome' = 'retry'`);
    assert.ok(failures[0].n >= 3, 'failed attempts are journaled');
  } finally {
    await close();
  }
});

test('429 with Retry-After: nothing is sent to the target before the time it asked for', async () => {
  const { a, t, close } = await setup();
  try {
    t.fail(1, { status: 429, retryAfter: '1' });
    await createUser(a, 'throttled@example.com');
    await waitFor(() => countByName(t, 'throttled@example.com') === 1, 'the user after the 429');
    const throttled = t.requests.find((r) => r.status === 429)!;
    const next = t.requests.find((r) => r.at > throttled.at && r.status !== 429)!;
    assert.ok(next.at - throttled.at >= 950, `retried after ${next.at - throttled.at} ms, Retry-After was 1 s`);
  } finally {
    await close();
  }
});

test('timeouts, connection resets, 500s and slow answers: retried, each user created exactly once', async () => {
  const { a, t, close } = await setup({ circuit: { failureThreshold: 50, openFor: '300ms' } });
  try {
    t.fail(1, { kind: 'timeout' });
    t.fail(1, { kind: 'reset' });
    t.fail(1, { status: 500 });
    t.fail(1, { kind: 'slow', ms: 200 });
    const names = ['flaky-1@example.com', 'flaky-2@example.com', 'flaky-3@example.com', 'flaky-4@example.com'];
    for (const name of names) await createUser(a, name);
    await waitFor(() => names.every((n) => countByName(t, n) === 1), 'all users despite the faults');
    await waitFor(async () => (await pendingJobs(a.server.db.knex)) === 0, 'queue drained');
    for (const name of names) assert.equal(countByName(t, name), 1);
    const { rows } = await a.server.db.knex.raw(`SELECT changes->>'outcome' AS outcome, changes->>'error' AS error FROM journal WHERE action = 'sync.push' AND changes->>'outcome' <> 'ok'`);
    const errors = rows.map((r: { error: string | null }) => r.error);
    assert.ok(errors.includes('ETIMEDOUT'), `timeout journaled: ${JSON.stringify(rows)}`);
    assert.ok(errors.includes('ECONNRESET'), 'reset journaled');
  } finally {
    await close();
  }
});

test('a create the target applied but answered too late: one account, linked, later changes reach it', async () => {
  const { a, t, close } = await setup();
  try {
    // The POST is applied after 700 ms, past the connector's 400 ms timeout: the client gives up,
    // retries, and must end up with the one account the target has, not two or none.
    t.fail(1, { kind: 'slow', ms: 700 }, (method, path) => method === 'POST' && path.startsWith('/Users'));
    const id = await createUser(a, 'late@example.com', { title: 'v1' });
    await waitFor(() => countByName(t, 'late@example.com') === 1 || undefined, 'the account on the target');
    await waitFor(async () => (await pendingJobs(a.server.db.knex)) === 0, 'queue drained');
    await new Promise((resolve) => setTimeout(resolve, 800)); // any late answer has arrived by now
    assert.equal(countByName(t, 'late@example.com'), 1, 'exactly one account');
    const remote = t.userByName('late@example.com')!;
    const { rows } = await a.server.db.knex.raw(`SELECT remote_id, state FROM sync_links WHERE connector = 'target' AND resource_id = ?`, [id]);
    assert.deepEqual(rows, [{ remote_id: remote.id, state: 'active' }], 'linked to that account');
    assert.deepEqual(await listParked(a.server.db.knex, 'target'), []);
    const { rows: timedOut } = await a.server.db.knex.raw(`SELECT count(*)::int AS n FROM journal WHERE action = 'sync.push' AND changes->>'method' = 'POST' AND changes->>'error' = 'ETIMEDOUT'`);
    assert.equal(timedOut[0].n, 1, 'the first POST timed out on the client');
    // And it is that account that later changes reach.
    await a.server.request('PATCH', `/Users/${id}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: 'v2' }] } });
    await waitFor(() => t.userByName('late@example.com')?.title === 'v2' || undefined, 'the update on the same account');
    assert.equal(countByName(t, 'late@example.com'), 1);
  } finally {
    await close();
  }
});

test('a rejected object is parked with request and response; the others go on; a fix un-parks it', async () => {
  const { a, t, close } = await setup();
  try {
    t.reject((method, _path, body) => method === 'POST' && String(body.userName).startsWith('bad'));
    const bad = await createUser(a, 'bad@example.com', { title: 'x' });
    await createUser(a, 'good@example.com');
    await waitFor(() => countByName(t, 'good@example.com') === 1, 'the good user');
    const parked = await waitFor(async () => {
      const list = await listParked(a.server.db.knex, 'target');
      return list.length === 1 ? list : undefined;
    }, 'the bad user parked');
    assert.equal(parked[0]!.resourceId, bad);
    assert.equal(parked[0]!.request?.method, 'POST');
    assert.equal((parked[0]!.request?.body as { userName: string }).userName, 'bad@example.com');
    assert.equal(parked[0]!.response?.status, 400);
    assert.match(parked[0]!.reason, /400/);
    // Fixing the object in Roster tries it again, and success takes it off the list.
    await a.server.request('PATCH', `/Users/${bad}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'userName', value: 'fixed@example.com' }] } });
    await waitFor(() => countByName(t, 'fixed@example.com') === 1, 'the fixed user');
    await waitFor(async () => (await listParked(a.server.db.knex, 'target')).length === 0, 'un-parked');
  } finally {
    await close();
  }
});

test('AWS IAM Identity Center profile: a 5,000-member group goes as chunked deltas of at most 100', async () => {
  const { a, t, close } = await setup(
    { profile: 'aws-iam-identity-center', groups: { names: ['Everyone'] }, rateLimit: { concurrency: 8 }, circuit: { failureThreshold: 50, openFor: '300ms' } },
    { aws: true, recordBodies: true },
  );
  try {
    const knex = a.server.db.knex;
    // 5,000 users already on the target and linked (as after an initial sync), seeded directly:
    // what is under test is the group change, not 5,000 creates.
    const { rows } = await knex.raw(
      `INSERT INTO users (id, resource)
       SELECT gen_random_uuid(), jsonb_build_object('userName', 'aws' || n || '@example.com', 'displayName', 'User ' || n,
              'name', jsonb_build_object('givenName', 'User', 'familyName', n::text))
       FROM generate_series(1, 5000) AS n RETURNING id::text, resource`,
    );
    const ids: string[] = rows.map((r: { id: string }) => r.id);
    const remoteIds = rows.map((r: { resource: Record<string, unknown> }) => t.addUser({ ...r.resource }).id as string);
    await knex.raw(
      `INSERT INTO sync_links (connector, resource_type, resource_id, remote_id, state, acknowledged)
       SELECT 'target', 'User', l.id, l.remote, 'active', '{}'::jsonb FROM unnest(?::uuid[], ?::text[]) AS l(id, remote)`,
      [ids, remoteIds],
    );
    const group = (await a.server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'Everyone' } })).body.id;
    await waitFor(() => t.groupByName('Everyone'), 'the empty group on the target');
    const before = t.requests.length;
    // One change adds all 5,000 members.
    const added = await a.server.request('PATCH', `/Groups/${group}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: ids.map((value) => ({ value })) }] } });
    assert.equal(added.status, 204, added.text);
    const everyone = await waitFor(() => {
      const g = t.groupByName('Everyone');
      return g && g.members.size === 5000 ? g : undefined;
    }, 'all 5,000 members on the target', 60_000);
    await waitFor(async () => (await pendingJobs(knex)) === 0, 'queue drained', 60_000);
    const memberPatches = t.requests.slice(before).filter((r) => r.method === 'PATCH' && r.path.startsWith('/Groups/'));
    assert.equal(memberPatches.length, 50, 'fifty PATCHes of 100 members');
    const sizes = memberPatches.map((r) => (r.body as { Operations: Array<{ value?: unknown[] }> }).Operations.reduce((n, op) => n + (op.value?.length ?? 1), 0));
    assert.ok(sizes.every((n) => n <= 100), `chunks of at most 100: ${Math.max(...sizes)}`);
    assert.ok(t.requests.every((r) => r.status !== 400), 'nothing broke an AWS limit');

    // Removing 150 members: value-array removals, chunked too.
    const beforeRemoval = t.requests.length;
    await a.server.request('PATCH', `/Groups/${group}`, {
      body: { schemas: [PATCH_OP], Operations: ids.slice(0, 150).map((id) => ({ op: 'remove', path: `members[value eq "${id}"]` })) },
    });
    await waitFor(() => everyone.members.size === 4850, 'membership down to 4,850', 30_000);
    const removals = t.requests.slice(beforeRemoval).filter((r) => r.method === 'PATCH');
    assert.deepEqual(
      removals.map((r) => (r.body as { Operations: Array<{ op: string; value: unknown[] }> }).Operations.map((op) => `${op.op}:${op.value.length}`).join(',')),
      ['remove:100', 'remove:50'],
    );
  } finally {
    await close();
  }
});

test('create-and-adopt, users and groups alike: a create that may have landed is looked up by externalId and adopted without a second POST; a 409 is adopted by the match attribute', async () => {
  const t = await startFaultTarget();
  const a = await startRosterA([{ name: 'target', baseUrl: t.url, auth: { type: 'bearer', tokenEnv: 'TARGET_TOKEN' }, groups: { all: true }, retry: { baseDelay: '50ms', maxDelay: '400ms' } }], { TARGET_TOKEN: t.token }, { worker: false });
  try {
    const db = a.server.db.knex;
    const member = await createUser(a, 'member@example.com');
    const landedUser = await createUser(a, 'landed@example.com');
    const newGroup = async (displayName: string, members: string[] = []) => {
      const response = await a.server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName, members: members.map((value) => ({ value })) } });
      assert.equal(response.status, 201, response.text);
      return response.body.id as string;
    };
    const landedGroup = await newGroup('Landed');
    const ops = await newGroup('Ops', [member]);
    // As if an earlier attempt died after the target applied its POST: the link says 'creating'
    // and the target holds the objects under Roster's ids as externalId.
    const remoteUser = t.addUser({ schemas: [USER_SCHEMA], userName: 'landed@example.com', externalId: landedUser, active: true });
    t.groups.set('landed-remote', { id: 'landed-remote', schemas: [GROUP_SCHEMA], displayName: 'Landed', externalId: landedGroup, members: new Set<string>() });
    for (const [type, id] of [['User', landedUser], ['Group', landedGroup]] as const) {
      await db.raw(`INSERT INTO sync_links (connector, resource_type, resource_id, state) VALUES ('target', ?, ?, 'creating')`, [type, id]);
    }
    // Made by someone else before Roster: the create meets a 409 and is resolved by displayName.
    t.groups.set('ops-remote', { id: 'ops-remote', schemas: [GROUP_SCHEMA], displayName: 'Ops', members: new Set<string>() });

    await a.startWorker();
    await waitFor(async () => (await pendingJobs(db)) === 0, 'queue drained');

    const posts = t.requests.filter((r) => r.method === 'POST').map((r) => `${r.path} ${r.status} ${String((r.body as Record<string, unknown>).userName ?? (r.body as Record<string, unknown>).displayName)}`);
    assert.deepEqual(posts.sort(), ['/Groups 409 Ops', '/Users 201 member@example.com'], 'no second POST for what landed; one for Ops, answered 409');
    assert.equal([...t.groups.values()].filter((g) => g.displayName === 'Ops').length, 1);
    assert.equal([...t.groups.values()].filter((g) => g.displayName === 'Landed').length, 1);
    assert.equal(countByName(t, 'landed@example.com'), 1);
    const { rows: links } = await db.raw(`SELECT resource_id::text AS id, remote_id, state, adopted FROM sync_links WHERE connector = 'target' AND resource_id = ANY(?::uuid[]) ORDER BY remote_id`, [[landedUser, landedGroup, ops]]);
    assert.deepEqual(
      links,
      [
        { id: landedGroup, remote_id: 'landed-remote', state: 'active', adopted: true },
        { id: ops, remote_id: 'ops-remote', state: 'active', adopted: true },
        { id: landedUser, remote_id: remoteUser.id, state: 'active', adopted: true },
      ].sort((x, y) => (x.remote_id < y.remote_id ? -1 : 1)),
    );
    // The worker's journal entries reach the journal through its background appender: wait for them.
    const adoptions = await waitFor(async () => {
      const { rows } = await db.raw(`SELECT resource_id::text AS id, changes->>'remoteId' AS "remoteId", changes->>'matchedOn' AS "matchedOn" FROM journal WHERE action = 'sync.adopt'`);
      return rows.length >= 3 ? (rows as Array<{ id: string }>) : undefined;
    }, 'three sync.adopt entries in the journal');
    assert.deepEqual(
      adoptions.sort((x, y) => (x.id < y.id ? -1 : 1)),
      [
        { id: landedUser, remoteId: remoteUser.id, matchedOn: 'userName' },
        { id: landedGroup, remoteId: 'landed-remote', matchedOn: 'displayName' },
        { id: ops, remoteId: 'ops-remote', matchedOn: 'displayName' },
      ].sort((x, y) => (x.id < y.id ? -1 : 1)),
      'one sync.adopt each, naming the match attribute of its type',
    );
    // The adopted group's membership follows, in the target's ids.
    const memberRemote = t.userByName('member@example.com')!.id as string;
    await waitFor(() => t.groups.get('ops-remote')!.members.has(memberRemote) || undefined, 'the member added to the adopted group');
  } finally {
    await a.close();
    await t.close();
  }
});
