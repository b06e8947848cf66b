/** The policy file: the shipped example is valid; every problem is reported with line, rule and reason. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describePolicyChoice, locatePolicyFile } from '../src/policy/load.js';
import { parsePolicy, PolicyError } from '../src/policy/policy-file.js';

const problemsOf = (text: string): string[] => {
  try {
    parsePolicy(text, 'p.yaml');
  } catch (error) {
    assert.ok(error instanceof PolicyError, String(error));
    return error.problems;
  }
  return assert.fail('expected a PolicyError');
};

test('the shipped policy.yaml is valid; its version ignores comments and layout', async () => {
  const text = await fs.readFile('policy.yaml', 'utf8');
  const policy = parsePolicy(text, 'policy.yaml');
  assert.equal(policy.roles.length, 12);
  assert.deepEqual(policy.conflicts, [['payments-initiator', 'payments-approver']]);
  assert.equal(policy.onConflict, 'keep-first');
  assert.equal(policy.roles.find((r) => r.name === 'contractors')!.until!.name, 'endDate');
  const reformatted = parsePolicy(text.replace(/^#.*$/gm, '').replace(/\n\n+/g, '\n'), 'other.yaml');
  assert.equal(reformatted.version, policy.version);
  const changed = parsePolicy(text.replace('title co "Analyst"', 'title co "analyst"'), 'policy.yaml');
  assert.notEqual(changed.version, policy.version);
});

test('YAML syntax errors name the line', () => {
  const [problem] = problemsOf('version: 1\nroles:\n  - name: a\n   when: x\n');
  assert.match(problem!, /^p\.yaml:4: /);
});

test('every problem at once, each with its line, role and reason', () => {
  const problems = problemsOf(`version: 1
conflicts:
  - [a, ghost]
roles:
  - name: a
    when: 'title co "x"'
    groups: [G]
  - name: a
    when: 'title co "y"'
    groups: [G]
  - name: b
    when: 'groups.display eq "Admins"'
    groups: [H]
  - name: c
    when: 'title gt'
    groups: [H]
  - name: d
    when: 'title pr'
    groups: [H]
    until: title
`);
  assert.deepEqual(problems, [
    'p.yaml:8: role "a": the name is used by an earlier role',
    'p.yaml:12: role "b": when: groups.display cannot be used in a rule (rules read HR attributes, not groups or server metadata)',
    problems[2]!,
    'p.yaml:20: role "d": until: title is not a single dateTime attribute',
    'p.yaml:3: conflict #1: no role is named "ghost"',
  ]);
  assert.match(problems[2]!, /^p\.yaml:15: role "c": when: /);
});

test('shape errors: unknown keys, missing groups, wrong version', () => {
  assert.deepEqual(problemsOf('version: 2\nroles: []\n'), ['p.yaml:1: version: must be 1 (the only policy file format so far)']);
  const problems = problemsOf("version: 1\nroles:\n  - name: x\n    when: 'title pr'\n    groups: []\n    colour: red\n");
  assert.ok(problems.some((p) => /^p\.yaml:5: role "x": groups: must name at least one group$/.test(p)), problems.join('\n'));
  assert.ok(problems.some((p) => /^p\.yaml:3: role "x": .*colour/.test(p)), problems.join('\n'));
});

test('a shape problem does not hide the other roles\' problems', () => {
  const problems = problemsOf(`version: 1
roles:
  - name: finance
    when: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:departmnt eq "Finance"'
    groups: [X]
  - name: bad
    when: 'title pr'
    groups: []
  - name: c
    when: 'title gt'
    groups: [H]
`);
  assert.equal(problems.length, 3, problems.join('\n'));
  assert.equal(problems[0], 'p.yaml:8: role "bad": groups: must name at least one group');
  assert.match(problems[1]!, /^p\.yaml:4: role "finance": when: .*departmnt/);
  assert.match(problems[2]!, /^p\.yaml:10: role "c": when: /);
});

test('a conflict listed twice, in either order or within two sets, is one conflict', () => {
  const policy = parsePolicy(
    `version: 1\nconflicts:\n  - [a, b]\n  - [b, a]\n  - [a, b, c]\nroles:\n  - name: a\n    when: 'active eq true'\n    groups: [A]\n  - name: b\n    when: 'active eq true'\n    groups: [B]\n  - name: c\n    when: 'active eq true'\n    groups: [C]\n`,
    'p.yaml',
  );
  assert.deepEqual(policy.conflicts, [['a', 'b'], ['a', 'c'], ['b', 'c']]);
});

test('which policy applies: ROSTER_POLICY_FILE, else the sample only on the embedded quick start, else none', async () => {
  // Run from the repository root, where the sample policy.yaml is.
  assert.deepEqual(await locatePolicyFile('mine.yaml', false), { file: 'mine.yaml', why: 'configured' });
  assert.deepEqual(await locatePolicyFile('mine.yaml', true), { file: 'mine.yaml', why: 'configured' });
  assert.deepEqual(await locatePolicyFile(undefined, true), { file: 'policy.yaml', why: 'sample' });
  // On its own PostgreSQL (DATABASE_URL set), a start never picks up the sample's groups.
  assert.deepEqual(await locatePolicyFile(undefined, false), { file: undefined, why: 'none' });
  assert.match(describePolicyChoice({ file: 'policy.yaml', why: 'sample' }), /the SAMPLE policy, applied because this is the embedded quick start \(set ROSTER_POLICY_FILE/);
  assert.match(describePolicyChoice({ file: undefined, why: 'none' }), /^Policy: none \(set ROSTER_POLICY_FILE/);

  const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'roster-no-policy-'));
  const cwd = process.cwd();
  process.chdir(empty);
  try {
    assert.deepEqual(await locatePolicyFile(undefined, true), { file: undefined, why: 'none' });
  } finally {
    process.chdir(cwd);
    await fs.rm(empty, { recursive: true, force: true });
  }
});

test('the catalog: entries resolve to managed groups, stages in order, and the policy\'s conflicts apply', async () => {
  const policy = parsePolicy(await fs.readFile('policy.yaml', 'utf8'), 'policy.yaml');
  const payments = policy.catalog.find((e) => e.name === 'payments-approver')!;
  assert.deepEqual(payments.grants, { role: 'payments-approver', groups: ['Payments Approvers'] });
  assert.deepEqual(payments.stages, [{ manager: true, owners: [] }, { manager: false, owners: [], group: 'Payments Approvers' }]);
  assert.deepEqual(payments.conflictsWith, ['payments-initiator'], 'the policy\'s conflict for the granted role applies');
  assert.equal(payments.maxDays, 14);
  assert.equal(payments.justificationRequired, true);
  const reporting = policy.catalog.find((e) => e.name === 'finance-reporting')!;
  assert.deepEqual(reporting.grants.groups, ['Finance Reporting']);
  assert.equal(reporting.requesters!.when, 'active eq true');
});

test('a policy without a catalog keeps the version it had before catalogs existed', () => {
  const text = 'version: 1\nroles:\n  - name: a\n    when: \'active eq true\'\n    groups: [A]\n';
  assert.equal(parsePolicy(text, 'p.yaml').version, parsePolicy(`${text}catalog: []\n`, 'p.yaml').version);
});

/** Two entries named "ok", the second offering an IdP group to requesters chosen by group (three problems). */
const TWO_NAMED_OK = `catalog:
  - name: ok
    group: A
    approvers: [{ manager: true }]
  - name: ok
    group: IdP Group
    requesters: 'groups.display eq "x"'
`;

test('every catalog problem at once, each naming the entry and its line', () => {
  const problems = problemsOf(`version: 1
conflicts: [[a, b]]
roles:
  - name: a
    when: 'active eq true'
    groups: [A]
  - name: b
    when: 'title eq "B"'
    groups: [B]
${TWO_NAMED_OK}    approvers: [{ owners: [] }]
  - name: both
    role: a
    group: A
    approvers: []
  - name: unknown-role
    role: nobody
    conflicts: [ghost]
    approvers: [{ group: Approvers }]
    maxDays: 400
`);
  const text = problems.join('\n');
  assert.match(text, /p\.yaml:17: catalog entry "ok": approvers\.0\.owners: name at least one owner/);
  assert.match(text, /catalog entry "both": name exactly one of role: or group:/);
  assert.match(text, /catalog entry "both": approvers: name at least one approval stage/);
  assert.match(text, /catalog entry "unknown-role": maxDays: must be at most 366/);
  // The shape is wrong, so the cross-checks wait for it; fixed, they name what remains.
  const fixed = problemsOf(`version: 1
roles:
  - name: a
    when: 'active eq true'
    groups: [A]
${TWO_NAMED_OK}    approvers: [{ group: Approvers }]
  - name: unknown-role
    role: nobody
    conflicts: [ghost]
    approvers: [{ owners: [carol@example.com] }]
`);
  assert.deepEqual(fixed, [
    'p.yaml:10: catalog entry "ok": name: the name is used by an earlier entry',
    'p.yaml:11: catalog entry "ok": group: "IdP Group" is not a group any role grants; the catalog offers managed groups (add it to a role, or request a role)',
    'p.yaml:12: catalog entry "ok": requesters: groups.display cannot be used in a rule (rules read HR attributes, not groups or server metadata)',
    'p.yaml:15: catalog entry "unknown-role": role: no role is named "nobody"',
    'p.yaml:16: catalog entry "unknown-role": conflicts: no role is named "ghost"',
  ]);
});

test('a role may name its owner, who certifies it in access reviews; an empty owner is refused', () => {
  const policy = parsePolicy('version: 1\nroles:\n  - name: a\n    owner: fiona@example.com\n    when: title pr\n    groups: [G]\n  - name: b\n    when: title pr\n    groups: [H]\n', 'p.yaml');
  assert.equal(policy.roles[0]!.owner, 'fiona@example.com');
  assert.equal(policy.roles[1]!.owner, undefined);
  const [problem] = problemsOf('version: 1\nroles:\n  - name: a\n    owner: ""\n    when: title pr\n    groups: [G]\n');
  assert.match(problem!, /^p\.yaml:4: role "a": owner: must be the userName/);
});
