/**
 * `policy plan` and `policy apply` against real PostgreSQL: a rule change previewed and applied,
 * applying twice changes nothing, the mass-revoke guard, and a property test that the set-wise SQL
 * plan equals evaluating each user one by one (and what apply then writes).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Knex } from 'knex';
import { createUser, replaceUser } from '../src/resources/users.js';
import { applyPolicy, MassRevokeError } from '../src/policy/apply.js';
import { evaluatePolicy } from '../src/policy/evaluate.js';
import { grantException } from '../src/policy/exceptions.js';
import { parsePolicy, type Policy } from '../src/policy/policy-file.js';
import { computePlan, desiredSets, SAMPLE_SIZE, usersToReconcile, type PlanLine, type PlanViolation } from '../src/policy/plan.js';
import { changesSql, sharedRuleConditions } from '../src/policy/plan-sql.js';
import { matchesFilter } from '../src/scim/filter/match.js';
import { parseFilter } from '../src/scim/filter/parse.js';
import { filterToSql } from '../src/scim/filter/sql.js';
import { composeWritePath } from '../src/compose/write-path.js';
import type { WritePath } from '../src/write/write-path.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { ENTERPRISE, HR, USER_SCHEMA } from './support/server.js';

const DEPT = `${ENTERPRISE}:department`;
const actor = { name: 'plan-test', source: 'policy' as const, requestId: 'plan-test' };

let db: TestDatabase;
let writePath: WritePath;
before(async () => {
  db = await createTestDatabase();
  writePath = composeWritePath(db.knex, { policy: true });
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
    // The groups now follow new.yaml: they say so (mutability errors and explain read this label).
    const labels = (await db.knex.raw(`SELECT DISTINCT managed_by FROM groups WHERE managed_by IS NOT NULL`)).rows.map((r: { managed_by: string }) => r.managed_by);
    assert.deepEqual(labels, ['new.yaml']);
    const relabel = (await db.knex.raw(`SELECT reason FROM journal WHERE action = 'group.managed' AND resource_name = 'Finance Reporting' ORDER BY id DESC LIMIT 1`)).rows[0];
    assert.equal(relabel.reason.previousPolicyFile, 'policy.yaml');
    assert.equal(relabel.reason.policyFile, 'new.yaml');

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

// ---------------------------------------------------------------------------------------------
// Property: the whole plan (the diff per role and group, the totals, the conflicts) equals
// evaluating each user one by one under the policy in force and under the new file, and diffing.

const GROUP_SPELLINGS = ['G-A', 'G-B', 'g-b', 'G-C', 'G-D', 'g-d', 'G-E'];

/** A random new policy file: 3-8 roles (some named as before, some not), and always one rule with `not`, `or`, `sw` and `co`. */
function randomNewPolicy(rand: () => number, name: string): Policy {
  const pick = <T,>(items: readonly T[]) => items[Math.floor(rand() * items.length)]!;
  const roleCount = 3 + Math.floor(rand() * 6);
  const groupsOf = () => [...new Set(Array.from({ length: 1 + Math.floor(rand() * 2) }, () => pick(GROUP_SPELLINGS)))].join(', ');
  const roles = Array.from({ length: roleCount }, (_, i) => {
    const when =
      i === 1
        ? `(${DEPT} sw "${pick(['Fin', 'fin', 'Sa', 'IT'])}" or title co "${pick(['Analyst', 'analyst', 'Clerk'])}") and not (userType eq "${pick(['Employee', 'Contractor'])}")`
        : randomFilter(rand);
    const bounds = [rand() < 0.25 ? `    from: ${HR}:startDate` : '', rand() < 0.25 ? `    until: ${HR}:endDate` : ''].filter(Boolean);
    return [`  - name: r${i}`, `    when: '${when}'`, `    groups: [${groupsOf()}]`, ...bounds].join('\n');
  });
  const sets = [rand() < 0.6 ? '  - [r0, r1]' : '', rand() < 0.4 ? '  - [r1, r2]' : '', roleCount > 3 && rand() < 0.3 ? '  - [r0, r2, r3]' : ''].filter(Boolean);
  const conflicts = sets.length ? `conflicts:\n${sets.join('\n')}\n` : '';
  return parsePolicy(`version: 1\nonConflict: ${pick(['keep-first', 'report'])}\n${conflicts}roles:\n${roles.join('\n')}\n`, name);
}

interface UserDiff {
  roleGains: string[];
  roleLosses: string[];
  groupGains: string[];
  groupLosses: string[];
}

describe('property: the full plan equals diffing per-user evaluations', () => {
  test('random users, a random policy in force and a random new file, 8 rounds', async () => {
    const seed = Number(process.env.POLICY_PLAN_DIFF_SEED ?? 4242);
    const rand = prng(seed);
    const pick = <T,>(items: readonly T[]) => items[Math.floor(rand() * items.length)]!;
    const start = Date.now();
    const body = (i: number) => {
      const { userName: _, ...rest } = randomUser(rand, 5000 + i, start);
      return rest;
    };
    const created: string[] = [];
    for (let i = 0; i < 40; i++) {
      // Mixed case, so the samples' order (lower(userName)) is not the stored spelling's.
      const row = (await addUser(`${i % 3 === 0 ? 'Q' : 'q'}${i}@example.com`, body(i))) as { id: string };
      created.push(row.id);
    }
    let current = randomNewPolicy(rand, 'start.yaml');
    await applyPolicy(writePath, current, { actor, force: true });
    // A few exceptions (some for inactive users, which must not count), for groups the policy names.
    for (let i = 0; i < 5; i++) {
      const userName = (await db.knex.raw(`SELECT resource->>'userName' AS n FROM users WHERE id = ?`, [pick(created)])).rows[0].n as string;
      await grantException(writePath, userName, pick([...current.groups.values()]), { reason: `property test ${i}`, actor });
    }

    const seen = { roleGains: 0, roleLosses: 0, groupGains: 0, groupLosses: 0, violations: 0, unnamedLines: 0, inactiveMatching: 0 };
    for (let round = 0; round < 8; round++) {
      // Movers: replaced through the write path, so the hook reconciles them under the policy in force.
      for (let m = 0; m < 4; m++) {
        const id = pick(created);
        const userName = (await db.knex.raw(`SELECT resource->>'userName' AS n FROM users WHERE id = ?`, [id])).rows[0].n as string;
        await writePath.run(actor, (context) => replaceUser(context, id, { schemas: [USER_SCHEMA, ENTERPRISE, HR], userName, ...body(created.indexOf(id)) }, {}));
      }
      const next = randomNewPolicy(rand, `round${round}.yaml`);
      const at = new Date();
      const context = `seed ${seed}, round ${round}\npolicy in force:\n${current.sourceText}\nnew file:\n${next.sourceText}`;

      const { rows: users } = (await db.knex.raw(`SELECT id, resource FROM users ORDER BY lower(resource->>'userName')`)) as { rows: Array<{ id: string; resource: Record<string, unknown> }> };
      const rank = new Map(users.map((u, i) => [u.id, i]));
      const nameOf = new Map(users.map((u) => [u.id, String(u.resource.userName)]));
      const byUser = <T,>(rows: Array<{ user_id: string } & T>) => {
        const map = new Map<string, T[]>();
        for (const row of rows) (map.get(row.user_id) ?? map.set(row.user_id, []).get(row.user_id)!).push(row);
        return map;
      };
      const held = byUser<{ role: string; granted_at: Date }>((await db.knex.raw(`SELECT user_id, role, granted_at FROM policy_roles`)).rows);
      const members = byUser<{ g: string }>(
        (await db.knex.raw(`SELECT gm.member_id AS user_id, lower(g.resource->>'displayName') AS g FROM group_members gm JOIN groups g ON g.id = gm.group_id WHERE g.managed_by IS NOT NULL`)).rows,
      );
      const stored = byUser<{ conflict: string }>((await db.knex.raw(`SELECT user_id, conflict FROM policy_violations`)).rows);
      const exceptions = byUser<{ g: string }>(
        (
          await db.knex.raw(
            `SELECT e.user_id, lower(g.resource->>'displayName') AS g FROM policy_exceptions e JOIN groups g ON g.id = e.group_id WHERE e.ended_at IS NULL AND e.expires_at > ?`,
            [at.toISOString()],
          )
        ).rows,
      );
      const groupsFor = (policy: Policy, user: { id: string; resource: Record<string, unknown> }, roles: string[]) => {
        const set = new Set(roles.flatMap((name) => policy.roles.find((r) => r.name === name)!.groups.map((g) => g.toLowerCase())));
        if (user.resource.active !== false) for (const e of exceptions.get(user.id) ?? []) if (policy.groups.has(e.g)) set.add(e.g);
        return set;
      };
      const minus = <T,>(a: Iterable<T>, b: Set<T>) => [...a].filter((x) => !b.has(x));

      // Each user, one by one: the policy in force (which must be what the database holds), then the new file.
      const diffs = new Map<string, UserDiff>();
      const violations = new Map<string, string[]>();
      const expectedReconcile: string[] = [];
      for (const user of users) {
        const heldMap = new Map((held.get(user.id) ?? []).map((h) => [h.role, h.granted_at]));
        const before = evaluatePolicy(current, user.resource, heldMap, at);
        const beforeGroups = groupsFor(current, user, before.roles);
        const who = `${context}\nuser ${nameOf.get(user.id)}`;
        assert.deepEqual([...heldMap.keys()].sort(), [...before.roles].sort(), `${who}: roles held = the policy in force`);
        assert.deepEqual((members.get(user.id) ?? []).map((m) => m.g).sort(), [...beforeGroups].sort(), `${who}: managed memberships = the policy in force`);
        assert.deepEqual((stored.get(user.id) ?? []).map((v) => v.conflict).sort(), before.violations.map((v) => v.conflict).sort(), `${who}: recorded conflicts`);

        const after = evaluatePolicy(next, user.resource, heldMap, at);
        const afterGroups = groupsFor(next, user, after.roles);
        const diff: UserDiff = {
          roleGains: minus(after.roles, new Set(before.roles)),
          roleLosses: minus(before.roles, new Set(after.roles)),
          groupGains: minus(afterGroups, beforeGroups),
          groupLosses: minus(beforeGroups, afterGroups),
        };
        diffs.set(user.id, diff);
        for (const v of after.violations) (violations.get(v.conflict) ?? violations.set(v.conflict, []).get(v.conflict)!).push(user.id);
        const conflictsNow = after.violations.map((v) => v.conflict).sort().join();
        const changes = diff.roleGains.length + diff.roleLosses.length + diff.groupGains.length + diff.groupLosses.length;
        if (changes || conflictsNow !== before.violations.map((v) => v.conflict).sort().join()) expectedReconcile.push(user.id);
        // Inactive users whom a rule would match but for `active`: the deactivation condition decides.
        if (user.resource.active === false && next.roles.some((r) => matchesFilter(r.filter, user.resource, { type: 'User' }))) seen.inactiveMatching++;
      }

      // The complete change sets, as the SQL diff yields them (kind, name, change, user).
      const expectedChanges: string[] = [];
      for (const [id, d] of diffs) {
        for (const r of d.roleGains) expectedChanges.push(`role ${r} gain ${id}`);
        for (const r of d.roleLosses) expectedChanges.push(`role ${r} loss ${id}`);
        for (const g of d.groupGains) expectedChanges.push(`group ${g} gain ${id}`);
        for (const g of d.groupLosses) expectedChanges.push(`group ${g} loss ${id}`);
      }
      for (const [conflict, ids] of violations) for (const id of ids) expectedChanges.push(`violation ${conflict} conflict ${id}`);
      const changes = changesSql(next, at);
      const { rows: changeRows } = (await db.knex.raw(`${changes.sql} SELECT kind, name, change, user_id FROM changes`, changes.bindings as Knex.RawBinding[])) as {
        rows: Array<{ kind: string; name: string; change: string; user_id: string }>;
      };
      assert.deepEqual(changeRows.map((r) => `${r.kind} ${r.name} ${r.change} ${r.user_id}`).sort(), expectedChanges.sort(), `${context}\nthe change sets`);

      // The plan itself: every line's counts and sample, the conflicts, the totals.
      const sample = (ids: string[]) => [...ids].sort((a, b) => rank.get(a)! - rank.get(b)!).slice(0, SAMPLE_SIZE).map((id) => nameOf.get(id)!);
      const expectLines = (kind: 'role' | 'group', names: Map<string, string>): PlanLine[] => {
        const gains = new Map<string, string[]>();
        const losses = new Map<string, string[]>();
        for (const [id, d] of diffs) {
          for (const [list, into] of kind === 'role' ? ([[d.roleGains, gains], [d.roleLosses, losses]] as const) : ([[d.groupGains, gains], [d.groupLosses, losses]] as const)) {
            for (const key of list) (into.get(key) ?? into.set(key, []).get(key)!).push(id);
          }
        }
        const keys = new Set([...names.keys(), ...gains.keys(), ...losses.keys()]);
        return [...keys].map((key) => {
          const g = gains.get(key) ?? [];
          const l = losses.get(key) ?? [];
          return { name: names.get(key) ?? key, gains: g.length, losses: l.length, gainSample: sample(g), lossSample: sample(l) };
        });
      };
      const byName = (lines: PlanLine[]) => [...lines].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const expectedRoles = expectLines('role', new Map(next.roles.map((r) => [r.name, r.name])));
      const expectedGroups = expectLines('group', next.groups);
      const expectedViolations = [...violations].map(([conflict, ids]) => ({ conflict, users: ids.length, sample: sample(ids) }));
      const lostAccess = [...diffs.values()].filter((d) => d.groupLosses.length > 0).length;
      const changing = [...diffs.values()].filter((d) => d.roleGains.length + d.roleLosses.length + d.groupGains.length + d.groupLosses.length > 0).length;

      const plan = await computePlan(db.knex, next, at);
      assert.equal(plan.policyVersion, next.version, context);
      assert.equal(plan.appliedVersion, current.version, context);
      assert.equal(plan.onConflict, next.onConflict, context);
      assert.equal(plan.totalUsers, users.length, context);
      assert.deepEqual(byName(plan.roles), byName(expectedRoles), `${context}\nroles`);
      assert.deepEqual(byName(plan.groups), byName(expectedGroups), `${context}\ngroups`);
      assert.deepEqual(plan.roles.slice(0, next.roles.length).map((l) => l.name), next.roles.map((r) => r.name), `${context}\nroles in file order first`);
      assert.deepEqual(plan.groups.slice(0, next.groups.size).map((l) => l.name), [...next.groups.values()], `${context}\ngroups in file order first`);
      const byConflict = (list: PlanViolation[]) => [...list].sort((a, b) => (a.conflict < b.conflict ? -1 : 1));
      assert.deepEqual(byConflict(plan.violations), byConflict(expectedViolations), `${context}\nconflicts`);
      assert.equal(plan.usersLosingAccess, lostAccess, `${context}\nusers losing access`);
      assert.equal(plan.usersChanging, changing, `${context}\nusers changing`);
      assert.deepEqual(await usersToReconcile(db.knex, next, at), expectedReconcile.sort(), `${context}\nusers to reconcile`);

      seen.roleGains += expectedRoles.reduce((n, l) => n + l.gains, 0);
      seen.roleLosses += expectedRoles.reduce((n, l) => n + l.losses, 0);
      seen.groupGains += expectedGroups.reduce((n, l) => n + l.gains, 0);
      seen.groupLosses += expectedGroups.reduce((n, l) => n + l.losses, 0);
      seen.violations += expectedViolations.length;
      seen.unnamedLines += expectedGroups.filter((l) => !next.groups.has(l.name.toLowerCase())).length + expectedRoles.filter((l) => !next.roles.some((r) => r.name === l.name)).length;

      await applyPolicy(writePath, next, { actor, force: true });
      current = next;
    }
    // The rounds exercised every part of the diff (a generator change that made them vacuous fails here).
    for (const [what, n] of Object.entries(seen)) assert.ok(n > 0, `seed ${seed}: no round had any ${what} (${JSON.stringify(seen)})`);
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
  test('roles whose names differ only in case get a plan line each (group names still match case-insensitively)', async () => {
    await addUser('case-a@example.com', { title: 'CaseAnalyst' });
    await addUser('case-b@example.com', { title: 'CaseEngineer' });
    await addUser('case-c@example.com', { title: 'CaseAnalyst' });
    const next = parsePolicy(
      `version: 1\nroles:\n  - name: ops\n    when: 'title eq "CaseAnalyst"'\n    groups: [Case G1]\n  - name: OPS\n    when: 'title eq "CaseEngineer"'\n    groups: [case g1, Case G2]\n`,
      'case.yaml',
    );
    const plan = await computePlan(db.knex, next);
    const role = (name: string) => plan.roles.find((line) => line.name === name);
    assert.deepEqual([role('ops')?.gains, role('ops')?.gainSample], [2, ['case-a@example.com', 'case-c@example.com']]);
    assert.deepEqual([role('OPS')?.gains, role('OPS')?.gainSample], [1, ['case-b@example.com']]);
    const g1 = plan.groups.filter((line) => line.name.toLowerCase() === 'case g1');
    assert.equal(g1.length, 1, 'one line for Case G1 / case g1');
    assert.equal(g1[0]!.gains, 3);
  });
});
