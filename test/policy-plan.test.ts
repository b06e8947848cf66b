/**
 * `policy plan` and `policy apply` against real PostgreSQL: a rule change previewed and applied,
 * applying twice changes nothing, the mass-revoke guard, and a property test that the set-wise SQL
 * plan equals evaluating each user one by one (and what apply then writes).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createUser } from '../src/resources/users.js';
import { applyPolicy, MassRevokeError } from '../src/policy/apply.js';
import { evaluatePolicy } from '../src/policy/evaluate.js';
import { registerPolicyHook } from '../src/policy/hook.js';
import { parsePolicy, type Policy } from '../src/policy/policy-file.js';
import { computePlan, desiredSets, usersToReconcile } from '../src/policy/plan.js';
import { sharedRuleConditions } from '../src/policy/plan-sql.js';
import { parseFilter } from '../src/scim/filter/parse.js';
import { filterToSql } from '../src/scim/filter/sql.js';
import { WritePath } from '../src/write/write-path.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { ENTERPRISE, HR, USER_SCHEMA } from './support/server.js';

const DEPT = `${ENTERPRISE}:department`;
const actor = { name: 'plan-test', source: 'policy' as const, requestId: 'plan-test' };

let db: TestDatabase;
let writePath: WritePath;
before(async () => {
  db = await createTestDatabase();
  writePath = new WritePath(db.knex);
  registerPolicyHook(writePath);
});
after(async () => {
  await db.drop();
});

const addUser = (userName: string, body: Record<string, unknown>) =>
  writePath.run({ name: 'seed', source: 'cli', requestId: 'seed' }, (context) => createUser(context, { schemas: [USER_SCHEMA, ENTERPRISE, HR], userName, ...body }));

const policyText = (financeWhen: string) => `
version: 1
roles:
  - name: finance-analyst
    when: '${financeWhen}'
    groups: [Finance Reporting]
  - name: everyone
    when: 'active eq true'
    groups: [All Staff]
`;

async function membersOf(group: string): Promise<string[]> {
  const { rows } = await db.knex.raw(
    `SELECT u.resource->>'userName' AS name FROM group_members gm JOIN groups g ON g.id = gm.group_id JOIN users u ON u.id = gm.member_id
     WHERE g.resource->>'displayName' = ? ORDER BY 1`,
    [group],
  );
  return rows.map((r: { name: string }) => r.name);
}

const journalCount = async () => (await db.knex.raw(`SELECT count(*)::int AS n FROM journal`)).rows[0].n as number;

describe('plan and apply', () => {
  test('a rule change is previewed by plan, then applied; applying twice changes nothing', async () => {
    for (let i = 0; i < 10; i++) {
      await addUser(`fin${i}@example.com`, { active: true, title: i < 3 ? 'Senior Financial Analyst' : 'Financial Analyst', [ENTERPRISE]: { department: 'Finance' } });
    }
    await addUser('eng@example.com', { active: true, title: 'Engineer', [ENTERPRISE]: { department: 'Engineering' } });
    const v1 = parsePolicy(policyText(`${DEPT} eq "Finance" and title co "Analyst"`), 'policy.yaml');
    const first = await applyPolicy(writePath, v1, { actor });
    assert.equal(first.reconciled, 11);
    assert.equal((await membersOf('Finance Reporting')).length, 10);

    const v2 = parsePolicy(policyText(`${DEPT} eq "Finance" and title sw "Senior"`), 'new.yaml');
    const plan = await computePlan(db.knex, v2);
    assert.equal(plan.appliedVersion, v1.version);
    assert.equal(plan.totalUsers, 11);
    const finance = plan.groups.find((g) => g.name === 'Finance Reporting')!;
    assert.equal(finance.losses, 7);
    assert.equal(finance.gains, 0);
    assert.deepEqual(finance.lossSample, ['fin3@example.com', 'fin4@example.com', 'fin5@example.com', 'fin6@example.com', 'fin7@example.com']);
    assert.equal(plan.roles.find((r) => r.name === 'finance-analyst')!.losses, 7);
    assert.equal(plan.usersLosingAccess, 7);
    assert.deepEqual(plan.groups.find((g) => g.name === 'All Staff'), { name: 'All Staff', gains: 0, losses: 0, gainSample: [], lossSample: [] });

    // 7 of 11 users losing access is over the default 10% guard.
    await assert.rejects(applyPolicy(writePath, v2, { actor }), MassRevokeError);
    assert.equal((await membersOf('Finance Reporting')).length, 10, 'a refused apply changes nothing');

    const applied = await applyPolicy(writePath, v2, { actor, maxRevoke: 7 });
    assert.equal(applied.reconciled, 7);
    assert.deepEqual(await membersOf('Finance Reporting'), ['fin0@example.com', 'fin1@example.com', 'fin2@example.com']);
    const { rows } = await db.knex.raw(`SELECT reason FROM journal WHERE action = 'members.remove' ORDER BY id DESC LIMIT 1`);
    assert.equal(rows[0].reason.policyVersion, v2.version);
    const applyEntry = (await db.knex.raw(`SELECT source, reason FROM journal WHERE action = 'policy.apply' ORDER BY id DESC LIMIT 1`)).rows[0];
    assert.equal(applyEntry.reason.previousVersion, v1.version);
    assert.equal(applyEntry.reason.usersLosingAccess, 7);

    const entries = await journalCount();
    const again = await applyPolicy(writePath, v2, { actor });
    assert.equal(again.reconciled, 0);
    assert.equal(again.versionChanged, false);
    assert.equal(await journalCount(), entries, 'applying the same file twice journals nothing');
  });

  test('an empty policy cannot wipe access without --force', async () => {
    const empty = parsePolicy('version: 1\nroles: []\n', 'empty.yaml');
    const plan = await computePlan(db.knex, empty);
    assert.equal(plan.usersLosingAccess, 11);
    const entries = await journalCount();
    await assert.rejects(applyPolicy(writePath, empty, { actor }), (error: Error) => {
      assert.ok(error instanceof MassRevokeError);
      assert.match(error.message, /11 of 11 users would lose access, more than the limit of 1/);
      assert.match(error.message, /policy plan/);
      return true;
    });
    assert.equal(await journalCount(), entries);
  });
});

// ---------------------------------------------------------------------------------------------
// Property: plan (SQL, set-wise) == evaluating each user (memory), for random users and rules.

function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DEPARTMENTS = ['Finance', 'FINANCE', 'Sales', 'Engineering', 'IT'];
const TITLES = ['Financial Analyst', 'Senior Analyst', 'Engineer', 'Payments Clerk', 'Manager'];
const DAY = 86_400_000;

function randomUser(rand: () => number, i: number, now: number): Record<string, unknown> {
  const pick = <T,>(items: readonly T[]) => items[Math.floor(rand() * items.length)]!;
  const maybe = (p: number) => rand() < p;
  const enterprise: Record<string, unknown> = {};
  if (maybe(0.8)) enterprise.department = pick(DEPARTMENTS);
  if (maybe(0.4)) enterprise.costCenter = pick(['CC-1', 'CC-2', 'PAY-1']);
  const hr: Record<string, unknown> = {};
  if (maybe(0.5)) hr.startDate = new Date(now + Math.round((rand() - 0.7) * 20) * DAY).toISOString();
  if (maybe(0.5)) hr.endDate = new Date(now + Math.round((rand() - 0.3) * 20) * DAY).toISOString();
  return {
    userName: `p${i}@example.com`,
    ...(maybe(0.85) ? { active: maybe(0.85) } : {}),
    ...(maybe(0.8) ? { title: pick(TITLES) } : {}),
    ...(maybe(0.7) ? { userType: pick(['Employee', 'Contractor']) } : {}),
    ...(maybe(0.6) ? { emails: [{ value: `p${i}@${pick(['example.com', 'corp.example'])}`, type: pick(['work', 'home']) }] } : {}),
    [ENTERPRISE]: enterprise,
    [HR]: hr,
  };
}

function randomFilter(rand: () => number, depth = 0): string {
  const pick = <T,>(items: readonly T[]) => items[Math.floor(rand() * items.length)]!;
  if (depth < 2 && rand() < 0.45) {
    const op = pick(['and', 'or', 'not']);
    if (op === 'not') return `not (${randomFilter(rand, depth + 1)})`;
    return `(${randomFilter(rand, depth + 1)} ${op} ${randomFilter(rand, depth + 1)})`;
  }
  return pick([
    () => `${DEPT} ${pick(['eq', 'ne', 'sw', 'co'])} "${pick(['Finance', 'finance', 'Sal', 'IT'])}"`,
    () => `title ${pick(['co', 'sw', 'ew', 'eq'])} "${pick(['Analyst', 'Senior', 'Engineer', 'Payments Clerk'])}"`,
    () => `userType eq "${pick(['Employee', 'Contractor'])}"`,
    () => `active eq ${pick(['true', 'false'])}`,
    () => `${ENTERPRISE}:costCenter ${pick(['pr', 'eq "PAY-1"'])}`,
    () => `title pr`,
    () => `emails[type eq "work" and value ew "example.com"]`,
    () => `${HR}:endDate ${pick(['gt', 'lt'])} "${new Date(Date.now() + Math.round((rand() - 0.5) * 10) * DAY).toISOString()}"`,
  ])();
}

function randomPolicy(rand: () => number): Policy {
  const pick = <T,>(items: readonly T[]) => items[Math.floor(rand() * items.length)]!;
  const roleCount = 3 + Math.floor(rand() * 5);
  const roles = Array.from({ length: roleCount }, (_, i) => {
    const groups = [...new Set(Array.from({ length: 1 + Math.floor(rand() * 2) }, () => pick(['G-A', 'G-B', 'G-C', 'G-D', 'G-E'])))];
    const bounds = [rand() < 0.3 ? `    from: ${HR}:startDate` : '', rand() < 0.3 ? `    until: ${HR}:endDate` : ''].filter(Boolean);
    return [`  - name: r${i}`, `    when: '${randomFilter(rand)}'`, `    groups: [${groups.join(', ')}]`, ...bounds].join('\n');
  });
  const conflicts = rand() < 0.7 ? `conflicts:\n  - [r0, r1]\n${rand() < 0.5 ? '  - [r1, r2]\n' : ''}` : '';
  const text = `version: 1\nonConflict: ${pick(['keep-first', 'report'])}\n${conflicts}roles:\n${roles.join('\n')}\n`;
  return parsePolicy(text, 'random.yaml');
}

const sortPairs = (pairs: Array<[string, string]>) => pairs.map(([a, b]) => `${a} ${b}`).sort();

describe('property: set-wise plan equals per-user evaluation', () => {
  test('random users and rules, 25 rounds', async () => {
    const seed = Number(process.env.POLICY_PROPERTY_SEED ?? Date.now() % 100000);
    const rand = prng(seed);
    const now = Date.now();
    for (let i = 0; i < 60; i++) await addUser(`p${i}@example.com`, randomUser(rand, i, now));
    for (let round = 0; round < 25; round++) {
      const policy = randomPolicy(rand);
      const at = new Date();
      const { rows: users } = await db.knex.raw(`SELECT id, resource FROM users`);
      const { rows: held } = await db.knex.raw(`SELECT user_id, role, granted_at FROM policy_roles`);
      const expectedRoles: Array<[string, string]> = [];
      const expectedGroups = new Set<string>();
      for (const user of users as Array<{ id: string; resource: Record<string, unknown> }>) {
        const heldRoles = new Map<string, Date>((held as Array<{ user_id: string; role: string; granted_at: Date }>).filter((h) => h.user_id === user.id).map((h) => [h.role, h.granted_at]));
        const evaluation = evaluatePolicy(policy, user.resource, heldRoles, at);
        for (const role of evaluation.roles) {
          expectedRoles.push([user.id, role]);
          for (const group of policy.roles.find((r) => r.name === role)!.groups) expectedGroups.add(`${user.id} ${group.toLowerCase()}`);
        }
      }
      const actual = await desiredSets(db.knex, policy, at);
      const context = `seed ${seed}, round ${round}, policy:\n${policy.sourceText}`;
      assert.deepEqual(sortPairs(actual.roles), sortPairs(expectedRoles), context);
      assert.deepEqual(sortPairs(actual.groups), [...expectedGroups].sort(), context);

      // What apply writes is what the plan said; afterwards nothing is left to do.
      await applyPolicy(writePath, policy, { actor, force: true });
      const { rows: members } = await db.knex.raw(
        `SELECT gm.member_id AS user_id, lower(g.resource->>'displayName') AS g FROM group_members gm JOIN groups g ON g.id = gm.group_id WHERE g.managed_by IS NOT NULL`,
      );
      assert.deepEqual(members.map((m: { user_id: string; g: string }) => `${m.user_id} ${m.g}`).sort(), [...expectedGroups].sort(), context);
      assert.deepEqual(await usersToReconcile(db.knex, policy), [], `${context}\nnothing to do after apply`);
    }
  });
});

describe('shared rule leaves', () => {
  test('each rule built from shared leaves has exactly filterToSql\'s value, NULL included', async () => {
    const seed = Number(process.env.POLICY_PROPERTY_SEED ?? Date.now() % 100000);
    const rand = prng(seed + 1);
    const { rows: existing } = (await db.knex.raw(`SELECT count(*)::int AS n FROM users`)) as { rows: Array<{ n: number }> };
    for (let i = 0; i < 40; i++) await addUser(`leaf${i}@example.com`, randomUser(rand, 1000 + existing[0]!.n + i, Date.now()));
    for (let round = 0; round < 10; round++) {
      const filters = Array.from({ length: 12 }, () => parseFilter(randomFilter(rand)));
      const { leaves, conditions } = sharedRuleConditions(filters, 'u');
      const whole = filters.map((f) => filterToSql(f, 'User', 'u'));
      // Per user: the value of each rule as filterToSql gives it and as the shared leaves give it.
      const { rows } = (await db.knex.raw(
        `SELECT ARRAY[${whole.map((w) => `(${w.sql})`).join(', ')}]::text AS whole, ARRAY[${conditions.join(', ')}]::text AS shared
           FROM users u CROSS JOIN LATERAL (SELECT ${leaves.map((l) => l.sql).join(', ')}) f`,
        [...whole.flatMap((w) => w.bindings), ...leaves.flatMap((l) => l.bindings)] as never[],
      )) as { rows: Array<{ whole: string; shared: string }> };
      for (const row of rows) assert.equal(row.shared, row.whole, `seed ${seed}, round ${round}`);
      assert.ok(leaves.length <= filters.length * 8);
    }
  });
});
