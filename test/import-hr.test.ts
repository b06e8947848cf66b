/**
 * HR import of examples/hr-sample.csv with examples/columns.yaml, on real PostgreSQL with
 * the policy hook: every rejected row reported with its row number and reason, values cleaned,
 * managers resolved, joiners given their groups in the same transaction, an idempotent re-import,
 * a mover found by a dry run and then imported, and --full leavers under the mass-change guard.
 * Batches (docs/decisions/0106): a row that fails inside a batch rejects only itself, clashes
 * inside the file are reported per row, the journal chain verifies, and writing in batches gives
 * the same users, memberships, roles and journal entries as writing row by row.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { readColumnsFile, parseColumns, ColumnsError } from '../src/import/columns-file.js';
import { importHr, ImportGuardError } from '../src/import/hr-import.js';
import { applyPolicy } from '../src/policy/apply.js';
import { verifyJournal } from '../src/journal/verify.js';
import { resourceHistory } from '../src/journal/history.js';
import { queryJournal } from '../src/journal/query.js';
import { renderTable } from '../src/cli/journal-table.js';
import { parsePolicy } from '../src/policy/policy-file.js';
import { createUser } from '../src/resources/users.js';
import { rowToUser, withReference } from '../src/import/row-to-user.js';
import { validateResourceBody } from '../src/scim/validate.js';
import { composeWritePath } from '../src/compose/write-path.js';
import type { WritePath } from '../src/write/write-path.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { ENTERPRISE, HR } from './support/server.js';

const SAMPLE = new URL('../examples/hr-sample.csv', import.meta.url);
const actor = { name: 'import:hr-sample.csv', source: 'import' as const, requestId: 'import-test' };

const POLICY = `version: 1
roles:
  - name: finance
    when: '${ENTERPRISE}:department eq "Finance"'
    groups: [Finance Reporting]
  - name: contractors
    when: 'userType eq "Contractor"'
    groups: [Contractors]
    until: ${HR}:endDate
`;

async function policyWritePath(database: TestDatabase): Promise<WritePath> {
  const path = composeWritePath(database.knex, { policy: true });
  await applyPolicy(path, parsePolicy(POLICY, 'policy.yaml'), { actor });
  return path;
}

let db: TestDatabase;
let writePath: WritePath;
let csv: string;
before(async () => {
  db = await createTestDatabase();
  writePath = await policyWritePath(db);
  csv = await fs.readFile(SAMPLE, 'utf8');
});
after(async () => {
  await db.drop();
});

const count = async (sql: string, bindings: string[] = []) => (await db.knex.raw(`SELECT count(*)::int AS n FROM ${sql}`, bindings)).rows[0].n as number;

describe('HR import', () => {
  test('hr-sample.csv: created, every rejected row with its number and reason, values cleaned', async () => {
    const config = await readColumnsFile('examples/columns.yaml');
    const progress: number[] = [];
    const report = await importHr(writePath, csv, config, { actor, onProgress: (p) => progress.push(p.done) });
    const records = parse(csv, { columns: true }) as Array<Record<string, string>>;
    const noEmail = records.flatMap((r, i) => (r['Work Email']!.trim() === '' ? [i + 2] : []));
    assert.equal(noEmail.length, 13);
    assert.deepEqual(report.rejected.map((r) => r.row), noEmail);
    assert.ok(report.rejected.every((r) => r.reason === 'no Work Email (required)' && /^E\d+$/.test(r.employeeNumber ?? '')));
    assert.equal(report.created, 2000 - 13);
    assert.equal(report.updated + report.unchanged, 0);
    assert.ok(progress.length >= 2 && progress.at(-1) === report.created, 'progress reported per batch');
    assert.equal(await count('users'), 1987);

    // Cleaning: departments in canonical case, no trailing spaces; e-mails lower-cased; dates as instants.
    const { rows: departments } = await db.knex.raw(`SELECT DISTINCT resource->?->>'department' AS d FROM users ORDER BY 1`, [ENTERPRISE]);
    assert.deepEqual(departments.map((r: { d: string }) => r.d), ['Customer Support', 'Engineering', 'Finance', 'Human Resources', 'IT', 'Legal', 'Marketing', 'Sales']);
    assert.equal(await count(`users WHERE resource->>'userName' <> lower(resource->>'userName')`), 0);
    const { rows: [sample] } = await db.knex.raw(`SELECT resource FROM users WHERE resource->?->>'employeeNumber' = 'E100002'`, [ENTERPRISE]);
    assert.equal(sample.resource.displayName, 'Kingston Kim');
    assert.equal(sample.resource[HR].startDate, '2020-06-10T00:00:00.000Z');
    assert.deepEqual(sample.resource.emails, [{ value: 'kingston.kim@example.com', type: 'work', primary: true }]);

    // Managers are references to the manager's user id, including managers further down the file.
    const unresolved = await count(
      `users u WHERE u.resource->?->'manager'->>'value' IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users m WHERE m.id::text = u.resource->?->'manager'->>'value')`,
      [ENTERPRISE, ENTERPRISE],
    );
    assert.equal(unresolved, 0);
    const withManager = records.filter((r) => r['Manager ID'] && r['Work Email']!.trim() && records.find((m) => m['Employee ID'] === r['Manager ID'])!['Work Email']!.trim()).length;
    assert.equal(await count(`users WHERE resource->?->'manager'->>'value' IS NOT NULL`, [ENTERPRISE]), withManager);

    // Joiners got their groups through the policy, journaled with source import.
    const finance = records.filter((r) => r['Work Email']!.trim() && r.Department!.trim().toLowerCase() === 'finance' && r.Status !== 'Terminated' && r.Status !== 'Pending').length;
    assert.equal(await count(`group_members gm JOIN groups g ON g.id = gm.group_id WHERE g.resource->>'displayName' = 'Finance Reporting'`), finance);
    // One entry per group and batch, naming each member it added with that member's own reason.
    const { rows: grants } = await db.knex.raw(
      `SELECT gm.member_id::text AS member, count(j.id)::int AS entries, min(jsonb_array_length(j.changes->'membersAdded'))::int AS listed,
              count(*) FILTER (WHERE r.m->>'value' = gm.member_id::text AND jsonb_array_length(r.m->'grants') > 0)::int AS explained
         FROM group_members gm
         JOIN groups g ON g.id = gm.group_id AND g.managed_by IS NOT NULL
         LEFT JOIN journal j ON j.source = 'import' AND j.action = 'members.add' AND j.resource_id = g.id
              AND j.changes->'membersAdded' @> jsonb_build_array(jsonb_build_object('value', gm.member_id::text))
         LEFT JOIN LATERAL jsonb_array_elements(j.reason->'members') r(m) ON r.m->>'value' = gm.member_id::text
        GROUP BY gm.group_id, gm.member_id`,
    );
    assert.ok(grants.length > finance, `${grants.length} managed memberships`);
    assert.deepEqual(grants.filter((g: { entries: number; explained: number }) => g.entries !== 1 || g.explained !== 1), [], 'every managed membership: one entry, one reason');
    assert.ok(grants.some((g: { listed: number }) => g.listed > 1), 'batched: an entry lists several members');
    // Role changes: one entry per batch listing each user, found from the user's side too.
    assert.ok((await count(`journal WHERE source = 'import' AND action = 'roles.update'`)) <= Math.ceil(1987 / 250));
    const { rows: [analyst] } = await db.knex.raw(`SELECT user_id::text AS id FROM policy_roles WHERE role = 'finance' LIMIT 1`);
    const history = await resourceHistory(db.knex, 'User', analyst.id, { limit: 50 });
    const roles = history.entries.filter((e) => e.action === 'roles.update');
    assert.equal(roles.length, 1);
    assert.deepEqual(roles[0]!.changes, [{ path: 'roles[value eq "finance"]', after: 'finance' }]);
    const userName = (await db.knex.raw(`SELECT resource->>'userName' AS n FROM users WHERE id = ?`, [analyst.id])).rows[0].n as string;
    const found = await queryJournal(db.knex, { user: userName, action: ['roles.update'] }, { limit: 10 });
    assert.equal(found.rows.length, 1, 'the journal query by user finds it');
    // `roster journal` shows the batch entry as the users it lists, each with its role changes.
    const line = renderTable(found.rows, { header: false });
    assert.match(line, / roles\.update +\d+ users +\S+@example\.com \+(finance|contractors)/);
    const [first] = (found.rows[0]!.changes as { users: Array<{ userName: string; rolesAdded: string[] }> }).users;
    assert.ok(line.includes(`${first!.userName} ${first!.rolesAdded.map((r) => `+${r}`).join(' ')}`), line);
    const entries = await count(`journal WHERE source = 'import' AND action = 'members.add'`);
    const batches = Math.ceil(1987 / 250);
    assert.ok(entries <= batches * (await count('groups WHERE managed_by IS NOT NULL')), `at most one entry per managed group and batch, not per membership (${entries} for ${grants.length})`);
  });

  test('re-importing the same file changes nothing and journals nothing', async () => {
    const config = await readColumnsFile('examples/columns.yaml');
    const journal = await count('journal');
    const report = await importHr(writePath, csv, config, { actor });
    assert.deepEqual({ created: report.created, updated: report.updated, unchanged: report.unchanged, rejected: report.rejected.length }, { created: 0, updated: 0, unchanged: 1987, rejected: 13 });
    assert.equal(await count('journal'), journal);
  });

  test('a mover: the dry run reports it without writing; the import moves them', async () => {
    const config = await readColumnsFile('examples/columns.yaml');
    const moved = csv.replace(/^(E100002,Kingston,Kim,Kingston,kingston\.kim@example\.com,)Engineering,/m, '$1  FINANCE ,');
    assert.notEqual(moved, csv);
    const journal = await count('journal');
    const dry = await importHr(writePath, moved, config, { actor, dryRun: true });
    assert.equal(dry.updated, 1);
    assert.equal(dry.dryRun, true);
    assert.equal(await count('journal'), journal, 'a dry run writes nothing');
    const real = await importHr(writePath, moved, config, { actor });
    assert.equal(real.updated, 1);
    const { rows } = await db.knex.raw(
      `SELECT g.resource->>'displayName' AS g FROM group_members gm JOIN groups g ON g.id = gm.group_id JOIN users u ON u.id = gm.member_id WHERE u.resource->?->>'employeeNumber' = 'E100002'`,
      [ENTERPRISE],
    );
    assert.deepEqual(rows.map((r: { g: string }) => r.g), ['Finance Reporting']);
  });

  test('--full deactivates people missing from the file, under the mass-change guard', async () => {
    const config = await readColumnsFile('examples/columns.yaml');
    const lines = csv.trimEnd().split(/\r?\n/);
    // Nearly everyone missing: refused, nothing changes.
    const journal = await count('journal');
    await assert.rejects(importHr(writePath, lines.slice(0, 11).join('\n'), config, { actor, full: true }), (e: Error) => e instanceof ImportGuardError && /would be deactivated/.test(e.message));
    assert.equal(await count('journal'), journal);
    // Two people left: deactivated, and the policy removes their access in the same transaction.
    const gone = lines.slice(1).filter((l) => /,Finance,/.test(l) && /,Active$/.test(l) && !/,,Finance/.test(l)).slice(0, 2);
    const report = await importHr(writePath, lines.filter((l) => !gone.includes(l)).join('\n'), config, { actor, full: true });
    assert.equal(gone.length, 2);
    assert.equal(report.leavers, 2);
    assert.deepEqual(report.rejected.filter((r) => r.row === 0), []);
    for (const line of gone) {
      const employee = line.split(',')[0]!;
      const { rows } = await db.knex.raw(`SELECT id, resource->'active' AS active FROM users WHERE resource->?->>'employeeNumber' = ?`, [ENTERPRISE, employee]);
      assert.equal(rows[0].active, false);
      assert.equal(await count(`group_members WHERE member_id = ?`, [rows[0].id]), 0);
    }
  });

  const HEADER = 'Employee ID,First Name,Last Name,Preferred Name,Work Email,Department,Job Title,Cost Center,Location,Employment Type,Manager ID,Start Date,End Date,Status';
  const person = (n: number, options: { email?: string; manager?: number; department?: string } = {}) =>
    `X${String(n).padStart(3, '0')},First${n},Last${n},,${options.email ?? `x${n}@example.com`},${options.department ?? 'Finance'},Analyst,CC-1,"Berlin, DE",Employee,${options.manager ? `X${String(options.manager).padStart(3, '0')}` : ''},2020-01-01,,Active`;

  test('a row that fails inside a batch rejects only itself; the rest of its batch is written', async () => {
    const config = await readColumnsFile('examples/columns.yaml');
    const rows = Array.from({ length: 12 }, (_, i) => person(i + 1, { manager: i + 1 === 2 ? 1 : i + 1 === 9 ? 8 : undefined }));
    const file = [HEADER, ...rows].join('\n');
    const journal = await count('journal');
    // After the first batch, someone else takes X008's userName: the pre-check could not see it, so
    // the second batch fails as a whole and is redone row by row.
    const report = await importHr(writePath, file, config, {
      actor,
      batchSize: 5,
      onProgress: async (p) => {
        if (p.done === 5) await writePath.run({ name: 'idp', source: 'scim', requestId: 'idp-request' }, (c) => createUser(c, { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'X8@example.com' }));
      },
    });
    assert.deepEqual(report.rejected, [{ row: 9, employeeNumber: 'X008', reason: 'userName "x8@example.com" is already in use (compared case-insensitively)' }]);
    assert.equal(report.created, 11);
    const created = await db.knex.raw(`SELECT resource->?->>'employeeNumber' AS e, resource->?->'manager'->>'value' AS manager FROM users WHERE resource->?->>'employeeNumber' LIKE 'X%' ORDER BY 1`, [ENTERPRISE, ENTERPRISE, ENTERPRISE]);
    assert.deepEqual(created.rows.map((r: { e: string }) => r.e), ['X001', 'X002', 'X003', 'X004', 'X005', 'X006', 'X007', 'X009', 'X010', 'X011', 'X012']);
    // X002's manager (same batch) is stored; X009's manager was rejected, so X009 names none.
    const managerOf = (e: string) => created.rows.find((r: { e: string }) => r.e === e).manager as string | null;
    assert.equal(await count(`users WHERE id::text = ? AND resource->?->>'employeeNumber' = 'X001'`, [managerOf('X002')!, ENTERPRISE]), 1);
    assert.equal(managerOf('X009'), null);
    // Each user its own create entry, each joiner its grant; one entry for the IdP's user.
    assert.equal(await count(`journal WHERE source = 'import' AND action = 'create' AND resource_name ~ '^x[0-9]+@example[.]com$' AND resource_type = 'User'`), 11);
    // Finance Reporting and the roles: one entry each per batch of 5 (X008's batch, redone row by
    // row: one per row).
    assert.equal((await count('journal')) - journal, 11 /* creates */ + 1 + 4 + 1 /* Finance Reporting */ + 1 + 4 + 1 /* roles */ + 1 /* X8 */);
    assert.equal(await count(`group_members gm JOIN groups g ON g.id = gm.group_id JOIN users u ON u.id = gm.member_id WHERE g.resource->>'displayName' = 'Finance Reporting' AND u.resource->?->>'employeeNumber' LIKE 'X%'`, [ENTERPRISE]), 11);
  });

  test('clashes inside the file are rejected per row, the rest is written', async () => {
    const config = await readColumnsFile('examples/columns.yaml');
    const file = [HEADER, person(101), person(102, { email: 'x101@example.com' }), person(103), person(101, { email: 'other@example.com' }), person(104)].join('\n');
    const report = await importHr(writePath, file, config, { actor, batchSize: 2 });
    assert.deepEqual(report.rejected, [
      { row: 3, employeeNumber: 'X102', reason: 'userName x101@example.com is also on row 2' },
      { row: 5, employeeNumber: 'X101', reason: 'Employee ID X101 appears again (first on row 2)' },
    ]);
    assert.equal(report.created, 3);
    assert.equal(await count(`users WHERE resource->?->>'employeeNumber' IN ('X101', 'X103', 'X104')`, [ENTERPRISE]), 3);
  });

  test('a value with a NUL character is a rejected row with its reason; the rest is written', async () => {
    const config = await readColumnsFile('examples/columns.yaml');
    const file = [HEADER, person(201), person(202, { department: 'Fin\u0000ance' }), person(203)].join('\n');
    const report = await importHr(writePath, file, config, { actor, batchSize: 5 });
    assert.deepEqual(report.rejected, [{ row: 3, employeeNumber: 'X202', reason: 'Department contains a NUL character (U+0000), which Roster does not store; remove it' }]);
    assert.equal(report.created, 2);
    assert.equal(await count(`users WHERE resource->?->>'employeeNumber' IN ('X201', 'X202', 'X203')`, [ENTERPRISE]), 2);
  });

  test('after batched imports the journal chain verifies from end to end', async () => {
    const report = await verifyJournal(db.knex);
    assert.equal(report.ok, true, report.finding?.message);
    assert.equal(report.checked, await count('journal'));
  });

  test('writing in batches gives what writing row by row gives: users, memberships, roles, journal', async () => {
    const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
    const config = await readColumnsFile('examples/columns.yaml');
    const part = csv.trimEnd().split(/\r?\n/).slice(0, 301).join('\n');
    const outcome = async (batchSize: number) => {
      const other = await createTestDatabase();
      try {
        const path = await policyWritePath(other);
        const report = await importHr(path, part, config, { actor, batchSize });
        const q = async (sql: string) => (await other.knex.raw(sql)).rows as unknown[];
        return {
          report: { ...report, rejected: report.rejected },
          users: await q(`SELECT u.resource - '${ENTERPRISE}' AS core, u.resource->'${ENTERPRISE}'->>'employeeNumber' AS e, m.resource->'${ENTERPRISE}'->>'employeeNumber' AS manager, u.version
                            FROM users u LEFT JOIN users m ON m.id::text = u.resource->'${ENTERPRISE}'->'manager'->>'value' ORDER BY 2`),
          members: await q(`SELECT g.resource->>'displayName' AS g, u.resource->>'userName' AS u FROM group_members gm JOIN groups g ON g.id = gm.group_id JOIN users u ON u.id = gm.member_id ORDER BY 1, 2`),
          roles: await q(`SELECT u.resource->>'userName' AS u, r.role FROM policy_roles r JOIN users u ON u.id = r.user_id ORDER BY 1, 2`),
          jobs: await q(`SELECT j.key, j.run_at FROM graphile_worker.jobs j ORDER BY 1`).then((rows) => (rows as Array<{ key: string }>).length),
          // Ids differ between the two databases; everything else must not.
          journal: await q(`SELECT action, resource_type, resource_name, source, ${['before', 'after', 'changes', 'reason'].map((c) => `regexp_replace(${c}::text, '${UUID}', 'ID', 'g') AS ${c}`).join(', ')}, member_ids IS NOT NULL AS members
                              FROM journal WHERE source = 'import' AND action NOT LIKE 'members.%' AND action <> 'roles.update' ORDER BY resource_type, resource_name, action, 8, 6`),
          // Role changes: one entry per user row by row, one listing every user per batch.
          roleChanges: await q(`SELECT coalesce(u.change->>'userName', j.resource_name) AS u, coalesce(u.change, j.changes) - 'value' - 'userName' AS change,
                                       j.reason - 'userName' AS reason, coalesce(u.change->>'value', j.resource_id::text) = ANY(coalesce(j.member_ids::text[], ARRAY[j.resource_id::text])) AS named
                                  FROM journal j LEFT JOIN LATERAL jsonb_array_elements(j.changes->'users') AS u(change) ON true
                                 WHERE j.source = 'import' AND j.action = 'roles.update' ORDER BY 1`),
          // A batch journals one entry per group listing its members, row by row one per member:
          // the same memberships, each with the same reason.
          memberships: await q(`SELECT j.action, j.resource_name, regexp_replace((j.reason - 'members')::text, '${UUID}', 'ID', 'g') AS about, m.member->>'userName' AS u,
                                       regexp_replace(m.member::text, '${UUID}', 'ID', 'g') AS reason,
                                       j.changes->CASE WHEN j.action = 'members.add' THEN 'membersAdded' ELSE 'membersRemoved' END @> jsonb_build_array(jsonb_build_object('value', m.member->>'value')) AS listed
                                  FROM journal j CROSS JOIN LATERAL jsonb_array_elements(j.reason->'members') AS m(member)
                                 WHERE j.source = 'import' AND j.action LIKE 'members.%' ORDER BY 1, 2, 4`),
          verified: (await verifyJournal(other.knex)).ok,
        };
      } finally {
        await other.drop();
      }
    };
    const rowByRow = await outcome(1);
    const batched = await outcome(250);
    assert.equal(batched.verified, true);
    assert.equal(rowByRow.verified, true);
    assert.ok(batched.report.created > 250);
    const strip = (o: typeof batched) => ({ ...o, users: (o.users as Array<{ version: number }>).map((u) => ({ ...u, version: undefined })) });
    assert.ok((batched.memberships as Array<{ listed: boolean }>).every((m) => m.listed), 'each reason belongs to a member its entry lists');
    assert.ok((batched.roleChanges as Array<{ named: boolean }>).every((r) => r.named), 'each role change names its user in memberIds');
    assert.ok(batched.roleChanges.length > 10, `${batched.roleChanges.length} role changes`);
    assert.deepEqual(strip(batched), strip(rowByRow));
  });

  test('a new person validated before writing, given their manager when written, is what building and validating them then gives', async () => {
    const config = await readColumnsFile('examples/columns.yaml');
    const records = parse(csv, { columns: true, skip_empty_lines: true }) as Array<Record<string, string>>;
    const managerId = '6f0c6f2e-1d0a-4c59-9c1b-6a8f8d2d1a11';
    let compared = 0;
    for (const record of records) {
      let early;
      try {
        early = rowToUser(config, record, undefined, () => undefined);
      } catch {
        continue; // rejected rows are not written
      }
      if (!early.pendingManager) continue;
      const late = rowToUser(config, record, undefined, () => managerId);
      const validatedEarly = validateResourceBody('User', early.body, { fast: true }).resource;
      assert.deepStrictEqual(withReference(validatedEarly, early.pendingManager.target, managerId), validateResourceBody('User', late.body, { fast: true }).resource, record['Employee ID']);
      assert.deepStrictEqual(withReference(validatedEarly, early.pendingManager.target, managerId), validateResourceBody('User', late.body).resource, `${record['Employee ID']}, scimmy's path`);
      compared++;
    }
    assert.ok(compared > 1000, `${compared} rows with a manager`);
  });

  test('a broken columns file or a CSV without the mapped columns says what to fix', async () => {
    assert.throws(() => parseColumns('version: 1\ncolumns:\n  Email: { to: userName }\n', 'c.yaml'), (e: Error) => e instanceof ColumnsError && /employeeNumber/.test(e.message));
    assert.throws(() => parseColumns('version: 1\ncolumns:\n  X: { to: nosuch }\n', 'c.yaml'), /unknown User attribute "nosuch"/);
    const config = await readColumnsFile('examples/columns.yaml');
    await assert.rejects(importHr(writePath, 'Id,Mail\n1,a@example.com\n', config, { actor }), /has no column "Employee ID"/);
  });
});
