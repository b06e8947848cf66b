/**
 * Governance figures for `npm run bench` (issue 17): a report, not a test.
 *  1. Opening an access review over 100,000 people and 50 rules (target under 5 s): the people are
 *     seeded in SQL with managers, hold the roles the 50 rules give them (evaluated in SQL with the
 *     policy's own filter translation), 1,000 of them have an exception and 5,000 are IdP members
 *     of a group pushed to a connector; the campaign covers rules, exceptions and IdP memberships.
 *     Median of three openings.
 *  2. A report-only full sync recording orphans in the ledger (target at least 1,000 per second):
 *     Roster B (a real SCIM server, child process on loopback) holds 10,000 users Roster A does not
 *     manage; A's `fullSync` lists them and records each as an orphan. The rate is orphans recorded
 *     per second of the whole run (listing the target included); the ledger's own write time is
 *     shown beside it: on a busy machine the run is bound by how fast the target lists its users
 *     (Roster B renders a page of 500 in about 0.4 s at a load average of 6 on 2 cores).
 * Run alone: `npx tsx bench/governance.ts` (DATABASE_URL as for the bench; unset = embedded PostgreSQL).
 * BENCH_GOVERNANCE_PEOPLE and BENCH_GOVERNANCE_ORPHANS change the sizes.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { Knex } from 'knex';
import { composeWritePath } from '../src/compose/write-path.js';
import { createKnex, migrateToLatest } from '../src/db/knex.js';
import { ledgerRecorder } from '../src/governance/ledger-store.js';
import { openCampaign } from '../src/governance/review-open.js';
import { parsePolicy } from '../src/policy/policy-file.js';
import { storeAppliedPolicy } from '../src/policy/policy-state.js';
import { filterToSql } from '../src/scim/filter/sql.js';
import { parseConnectors } from '../src/sync/config.js';
import { ConnectorSet } from '../src/sync/connector.js';
import { fullSync, type FindingsRecorder } from '../src/sync/full-sync.js';
import { createSyncDatabase } from '../src/sync/worker.js';
import { openDatabaseServer, type DatabaseServer } from './database.js';
import { fiftyRules, renderTargetRows, seedUsers, type PolicyBenchRow } from './policy.js';
import { startRoster } from './servers.js';
import { withEnv } from './sync.js';

export type GovernanceBenchRow = PolicyBenchRow;

type Log = (line: string) => void;

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const EXCEPTIONS = 1_000;
const IDP_MEMBERS = 5_000;
const num = (value: number) => Math.round(value).toLocaleString('en-US');
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

function envCount(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw ? Number(raw.replace(/_/g, '')) : fallback;
  if (!Number.isInteger(value) || value < 100) throw new Error(`${name} must be a whole number ≥ 100, got ${JSON.stringify(raw)}`);
  return value;
}

/** Everyone reports to one of the first 1% of people; the rules are owned by ten owners. */
async function seedGovernance(knex: Knex, people: number): Promise<ReturnType<typeof parsePolicy>> {
  await seedUsers(knex, people);
  await knex.raw(
    `WITH numbered AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM users),
          managers AS (SELECT id, n FROM numbered WHERE n <= greatest(1, ? / 100))
     UPDATE users u SET resource = jsonb_set(u.resource, '{${ENTERPRISE},manager}', jsonb_build_object('value', m.id::text))
       FROM numbered x JOIN managers m ON m.n = 1 + x.n % greatest(1, ? / 100)
      WHERE u.id = x.id AND x.n > greatest(1, ? / 100)`,
    [people, people, people],
  );
  let owner = 0;
  const policy = parsePolicy(fiftyRules().replace(/( {2}- name: [^\n]+\n)/g, (line) => `${line}    owner: u${1 + (owner++ % 10)}@example.com\n`), 'bench-policy.yaml');
  await knex.transaction(async (tx) => {
    await storeAppliedPolicy(tx, policy, 'bench');
    // The roles people hold, as the policy's own SQL translation of each rule decides them.
    for (const role of policy.roles) {
      const where = filterToSql(role.filter, 'User', 'u');
      await tx.raw(`INSERT INTO policy_roles (user_id, role, policy_version) SELECT u.id, ?, ? FROM users u WHERE ${where.sql}`, [role.name, policy.version, ...where.bindings] as Knex.RawBinding[]);
    }
    await tx.raw(
      `INSERT INTO groups (id, resource, managed_by) VALUES (gen_random_uuid(), '{"displayName": "Payroll Approvers"}', 'policy'), (gen_random_uuid(), '{"displayName": "VPN Users"}', NULL)`,
    );
    await tx.raw(
      `INSERT INTO policy_exceptions (id, user_id, group_id, reason, granted_by, expires_at)
       SELECT gen_random_uuid(), u.id, (SELECT id FROM groups WHERE resource->>'displayName' = 'Payroll Approvers'), 'covering payroll (bench)', 'bench', now() + interval '60 days'
         FROM (SELECT id FROM users ORDER BY id OFFSET 7 LIMIT ?) u`,
      [EXCEPTIONS],
    );
    await tx.raw(
      `INSERT INTO group_members (group_id, member_id, member_type)
       SELECT (SELECT id FROM groups WHERE resource->>'displayName' = 'VPN Users'), u.id, 'User' FROM (SELECT id FROM users ORDER BY id DESC LIMIT ?) u`,
      [IDP_MEMBERS],
    );
    await tx.raw(`INSERT INTO sync_links (connector, resource_type, resource_id, remote_id, state) SELECT 'vpn', 'Group', id, 'remote-vpn', 'active' FROM groups WHERE resource->>'displayName' = 'VPN Users'`);
  });
  await knex.raw('ANALYZE');
  return policy;
}

async function campaignOpening(server: DatabaseServer, log: Log): Promise<GovernanceBenchRow> {
  const people = envCount('BENCH_GOVERNANCE_PEOPLE', 100_000);
  const db = await server.createDatabase('governance');
  const knex = createKnex({ url: db.url, poolMax: 4 });
  try {
    await migrateToLatest(knex);
    log(`governance: seeding ${num(people)} people with managers, 50 rules' roles, ${num(EXCEPTIONS)} exceptions, ${num(IDP_MEMBERS)} IdP members of a pushed group`);
    await seedGovernance(knex, people);
    const writePath = composeWritePath(knex, { policy: true });
    const times: number[] = [];
    let total = 0;
    for (let run = 0; run < 3; run++) {
      const started = performance.now();
      const campaign = await openCampaign(writePath, {
        name: `Bench review ${run + 1}`,
        scope: ['rules', 'exceptions', 'idp'],
        deadline: new Date(Date.now() + 30 * 86_400_000),
        defaultDecision: 'keep',
        fallbackReviewer: 'governance-team@example.com',
        actor: { name: 'bench', source: 'cli', requestId: `bench-open-${run}` },
      });
      times.push(performance.now() - started);
      total = campaign.total;
      log(`governance: opened campaign ${campaign.id} with ${num(campaign.total)} items in ${(times[run]! / 1000).toFixed(2)} s`);
    }
    const seconds = median(times) / 1000;
    return {
      label: `open a review, ${num(people)} people × 50 rules (${num(total)} items: 50 rules, ${num(EXCEPTIONS)} exceptions, ${num(IDP_MEMBERS)} IdP memberships; median of 3)`,
      value: `${seconds.toFixed(2)} s (runs: ${times.map((t) => (t / 1000).toFixed(2)).join(', ')})`,
      target: '< 5 s',
      result: seconds < 5 ? 'PASS' : 'FAIL',
    };
  } finally {
    await knex.destroy();
    await db.drop();
  }
}

async function orphanRecording(server: DatabaseServer, log: Log): Promise<GovernanceBenchRow[]> {
  const orphans = envCount('BENCH_GOVERNANCE_ORPHANS', 10_000);
  const cleanups: Array<() => Promise<void>> = [];
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'roster-governance-bench-'));
  cleanups.push(() => fs.rm(tmp, { recursive: true, force: true }));
  try {
    const dbA = await server.createDatabase('ledger_a');
    cleanups.push(() => dbA.drop());
    const dbB = await server.createDatabase('ledger_b');
    cleanups.push(() => dbB.drop());
    const tokenB = `bench-b-${randomBytes(16).toString('hex')}`;
    const emptyPolicy = path.join(tmp, 'policy.yaml');
    await fs.writeFile(emptyPolicy, 'version: 1\nroles: []\n');
    log('governance: starting Roster B (the target) on loopback');
    const b = await withEnv({ ROSTER_CONNECTORS_FILE: undefined, ROSTER_POLICY_FILE: emptyPolicy }, () => startRoster({ databaseUrl: dbB.url, bootstrapToken: tokenB, cursorSecret: randomBytes(32).toString('hex') }));
    cleanups.push(() => b.stop());
    const knexB = createKnex({ url: dbB.url, poolMax: 1 });
    cleanups.push(() => knexB.destroy());
    log(`governance: seeding ${num(orphans)} accounts on Roster B that Roster A does not manage`);
    await knexB.raw(
      `INSERT INTO users (id, resource)
       SELECT gen_random_uuid(), jsonb_build_object('userName', 'legacy' || n || '@bench.example', 'externalId', 'legacy-' || n, 'displayName', 'Legacy ' || n, 'active', n % 10 <> 0)
       FROM generate_series(1, ?) AS n`,
      [orphans],
    );
    await knexB.raw(`UPDATE resource_counts SET total = (SELECT count(*) FROM users) WHERE resource_type = 'User'`);

    const knexA = createKnex({ url: dbA.url, poolMax: 4 });
    cleanups.push(() => knexA.destroy());
    await migrateToLatest(knexA);
    const connectors = ConnectorSet.fromConfig(parseConnectors({ connectors: [{ name: 'legacy-app', baseUrl: `${b.baseUrl}/scim/v2`, auth: { type: 'bearer', tokenEnv: 'BENCH_TARGET_TOKEN' } }] }, { BENCH_TARGET_TOKEN: tokenB }));
    const syncDb = createSyncDatabase(dbA.url, 4);
    cleanups.push(() => syncDb.destroy());
    let recordMs = 0;
    const timedRecorder: FindingsRecorder = {
      async record(db, findings) {
        const started = performance.now();
        await ledgerRecorder.record(db, findings);
        recordMs += performance.now() - started;
      },
    };
    log(`governance: report-only full sync of legacy-app, recording ${num(orphans)} orphans`);
    const started = performance.now();
    let lastPhase = '';
    const report = await fullSync(syncDb, connectors.get('legacy-app')!, {
      reportOnly: true,
      findings: timedRecorder,
      onProgress: ({ phase, done }) => {
        if (phase === lastPhase && done % 5000 !== 0) return;
        lastPhase = phase;
        log(`governance:   ${phase} ${num(done)} (${((performance.now() - started) / 1000).toFixed(2)} s)`);
      },
    });
    const seconds = (performance.now() - started) / 1000;
    const { rows } = (await knexA.raw(`SELECT count(*)::int AS n FROM governance_ledger WHERE kind = 'orphan'`)) as { rows: Array<{ n: number }> };
    const recorded = rows[0]!.n;
    const rate = recorded / seconds;
    log(`governance: ${num(recorded)} orphans recorded in ${seconds.toFixed(2)} s (${num(rate)}/s); the ledger's writes took ${(recordMs / 1000).toFixed(2)} s; ${num(report.unmanaged.userCount)} unmanaged reported`);
    return [
      {
        label: `report-only sync recording ${num(orphans)} orphans (real SCIM target on loopback, whole run)`,
        value: `${num(rate)} orphans/s (${num(recorded)} in ${seconds.toFixed(2)} s)`,
        target: '≥ 1,000/s',
        result: recorded === orphans && rate >= 1000 ? 'PASS' : 'FAIL',
      },
      { label: 'of which writing the ledger (upsert + removal of unseen rows)', value: `${(recordMs / 1000).toFixed(2)} s (${num(recorded / (recordMs / 1000))} rows/s)`, target: '', result: '' },
    ];
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
}

export async function runGovernanceBench(server: DatabaseServer, log: Log): Promise<GovernanceBenchRow[]> {
  log('== governance');
  return [await campaignOpening(server, log), ...(await orphanRecording(server, log))];
}

export const renderGovernanceRows = (rows: readonly GovernanceBenchRow[]): string => renderTargetRows('Governance measurement', rows);

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const log: Log = (line) => process.stdout.write(`${line}\n`);
  const server = await openDatabaseServer(log);
  try {
    process.stdout.write(`\n${renderGovernanceRows(await runGovernanceBench(server, log))}\n`);
  } finally {
    await server.stop();
  }
}
