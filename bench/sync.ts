/**
 * Outbound sync figures for `npm run bench` (issue #4): a report, not a test.
 *
 * The target is Roster B, a real SCIM server (child process, own database). Roster A's users are
 * seeded in SQL.
 *  1. Target capacity, the ceiling: POST /Users straight to B, with the connector's concurrency.
 *  2. Initial sync: `fullSync` (what `sync <connector> --full` runs) of BENCH_SYNC_USERS users
 *     (default 100,000) from A to B, in users/s. Target: at least half of (1).
 *  3. Propagation latency: Roster A runs as `serve` (outbox hook + sync worker); the bench sends
 *     BENCH_SYNC_RATE changes/s (default 200) for BENCH_SYNC_SECONDS (default 20), each a PATCH of
 *     a unique title to a different user. Latency = the time B journaled the update minus the time
 *     A journaled (committed) the change: both journals' `at` come from the same PostgreSQL clock.
 *     Target: p50 < 200 ms, p99 < 1 s.
 *
 * Run alone: `npx tsx bench/sync.ts` (DATABASE_URL as for the bench; unset = embedded PostgreSQL).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createKnex, migrateToLatest } from '../src/db/knex.js';
import { parseConnectors } from '../src/sync/config.js';
import { ConnectorSet } from '../src/sync/connector.js';
import { fullSync } from '../src/sync/full-sync.js';
import { createSyncDatabase } from '../src/sync/worker.js';
import { openDatabaseServer, type DatabaseServer } from './database.js';
import { startRoster, type ChildServer } from './servers.js';

export interface SyncBenchRow {
  measure: string;
  value: string;
  detail: string;
  target: string;
  result: 'PASS' | 'FAIL' | '';
}

type Log = (line: string) => void;

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw ? Number(raw.replace(/_/g, '')) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return value;
}

const CONCURRENCY = 8;
const num = (value: number, digits = 0) => value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** POSTs `count` users to the target with `concurrency` parallel requests; returns requests/s. */
async function measureCapacity(baseUrl: string, token: string, count: number, concurrency: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  const lane = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const response = await fetch(`${baseUrl}/scim/v2/Users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
        body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `capacity-${i}@bench.example`, externalId: `capacity-${i}`, active: true }),
      });
      await response.arrayBuffer();
      if (response.status !== 201) throw new Error(`capacity run: POST answered ${response.status}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return count / ((performance.now() - started) / 1000);
}

async function withEnv<T>(values: Record<string, string | undefined>, work: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(values).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(values)) if (v === undefined) delete process.env[k];
  else process.env[k] = v;
  try {
    return await work();
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}

export async function runSyncBench(dbServer: DatabaseServer, log: Log): Promise<SyncBenchRow[]> {
  const users = envNumber('BENCH_SYNC_USERS', 100_000);
  const rate = envNumber('BENCH_SYNC_RATE', 200);
  const seconds = envNumber('BENCH_SYNC_SECONDS', 20);
  const capacityCount = Math.min(users, envNumber('BENCH_SYNC_CAPACITY_REQUESTS', 10_000));
  const cleanups: Array<() => Promise<void>> = [];
  const rows: SyncBenchRow[] = [];
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'roster-sync-bench-'));
  cleanups.push(() => fs.rm(tmp, { recursive: true, force: true }));
  try {
    const dbA = await dbServer.createDatabase('sync_a');
    cleanups.push(() => dbA.drop());
    const dbB = await dbServer.createDatabase('sync_b');
    cleanups.push(() => dbB.drop());
    const tokenA = `bench-a-${randomBytes(16).toString('hex')}`;
    const tokenB = `bench-b-${randomBytes(16).toString('hex')}`;
    const cursorSecret = randomBytes(32).toString('hex');

    // No access policy on either side: this measures SCIM and sync, not policy evaluation.
    const emptyPolicy = path.join(tmp, 'policy.yaml');
    await fs.writeFile(emptyPolicy, 'version: 1\nroles: []\n');
    log(`sync: starting Roster B (the target) on ${dbServer.describe}`);
    const b: ChildServer = await withEnv({ ROSTER_CONNECTORS_FILE: undefined, ROSTER_POLICY_FILE: emptyPolicy }, () =>
      startRoster({ databaseUrl: dbB.url, bootstrapToken: tokenB, cursorSecret }),
    );
    cleanups.push(() => b.stop());

    // 1. The ceiling.
    log(`sync: target capacity, ${num(capacityCount)} POST /Users with ${CONCURRENCY} connections`);
    const capacity = await measureCapacity(b.baseUrl, tokenB, capacityCount, CONCURRENCY);
    log(`sync: target capacity ${num(capacity)} creates/s`);

    // 2. Initial sync.
    const knexA = createKnex({ url: dbA.url, poolMax: 4 });
    cleanups.push(() => knexA.destroy());
    await migrateToLatest(knexA);
    log(`sync: seeding ${num(users)} users in Roster A`);
    await knexA.raw(
      `INSERT INTO users (id, resource)
       SELECT gen_random_uuid(), jsonb_build_object('userName', 'sync' || n || '@bench.example', 'displayName', 'Bench User ' || n,
              'name', jsonb_build_object('givenName', 'Bench', 'familyName', 'User ' || n), 'title', 'Engineer', 'active', true)
       FROM generate_series(1, ?) AS n`,
      [users],
    );
    await knexA.raw(`UPDATE resource_counts SET total = (SELECT count(*) FROM users) WHERE resource_type = 'User'`);
    const connectorRaw = {
      name: 'bench',
      baseUrl: `${b.baseUrl}/scim/v2`,
      auth: { type: 'bearer', tokenEnv: 'BENCH_TARGET_TOKEN' },
      rateLimit: { concurrency: CONCURRENCY },
      guard: { maxDeprovisions: 1_000_000 },
    };
    const connectors = ConnectorSet.fromConfig(parseConnectors({ connectors: [connectorRaw] }, { BENCH_TARGET_TOKEN: tokenB }));
    const syncDb = createSyncDatabase(dbA.url, CONCURRENCY);
    cleanups.push(() => syncDb.destroy());
    log(`sync: initial sync of ${num(users)} users to Roster B`);
    let lastLog = 0;
    const started = performance.now();
    const report = await fullSync(syncDb, connectors.get('bench')!, {
      reportOnly: false,
      onProgress: ({ phase, done, total }) => {
        if (Date.now() - lastLog < 10_000) return;
        lastLog = Date.now();
        log(`sync:   ${phase} ${num(done)}${total ? `/${num(total)}` : ''}`);
      },
    });
    const initialSeconds = (performance.now() - started) / 1000;
    const { rows: onB } = await (async () => {
      const knexB = createKnex({ url: dbB.url, poolMax: 1 });
      try {
        return await knexB.raw(`SELECT count(*)::int AS n FROM users WHERE resource->>'userName' LIKE 'sync%@bench.example'`);
      } finally {
        await knexB.destroy();
      }
    })();
    const perSecond = users / initialSeconds;
    const complete = onB[0].n === users;
    rows.push({
      measure: 'target capacity (ceiling)',
      value: `${num(capacity)} creates/s`,
      detail: `${num(capacityCount)} POST /Users straight to Roster B, ${CONCURRENCY} connections`,
      target: '',
      result: '',
    });
    rows.push({
      measure: `initial sync, ${num(users)} users`,
      value: `${num(perSecond)} users/s`,
      detail: `${initialSeconds.toFixed(1)} s; ${num(perSecond / capacity, 2)}× the ceiling; ${num(onB[0].n)} on the target; ${report.results.parked} parked`,
      target: '≥ 0.5× ceiling, all users on the target',
      result: complete && perSecond >= 0.5 * capacity ? 'PASS' : 'FAIL',
    });

    // 3. Propagation latency through the outbox and the worker.
    rows.push(await measurePropagation({ dbA: dbA.url, dbB: dbB.url, tokenA, tokenB, cursorSecret, connectorRaw, emptyPolicy, tmp, rate, seconds, knexA, log, cleanups }).catch(
      (error: unknown): SyncBenchRow => ({ measure: `propagation at ${num(rate)} changes/s`, value: 'not measured', detail: (error as Error).message.split('\n')[0]!, target: 'p50 < 200 ms, p99 < 1,000 ms', result: 'FAIL' }),
    ));
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => log(`sync: cleanup failed: ${(error as Error).message}`));
  }
  return rows;
}

interface PropagationOptions {
  dbA: string;
  dbB: string;
  tokenA: string;
  tokenB: string;
  cursorSecret: string;
  connectorRaw: unknown;
  emptyPolicy: string;
  tmp: string;
  rate: number;
  seconds: number;
  knexA: ReturnType<typeof createKnex>;
  log: Log;
  cleanups: Array<() => Promise<void>>;
}

async function measurePropagation(o: PropagationOptions): Promise<SyncBenchRow> {
  const { tokenA, tokenB, cursorSecret, connectorRaw, emptyPolicy, tmp, rate, seconds, knexA, log, cleanups } = o;
  const file = path.join(tmp, 'connectors.json');
  await fs.writeFile(file, JSON.stringify({ connectors: [connectorRaw] }));
  log('sync: starting Roster A (serve: outbox hook and sync worker)');
  const a = await withEnv({ ROSTER_CONNECTORS_FILE: file, BENCH_TARGET_TOKEN: tokenB, ROSTER_POLICY_FILE: emptyPolicy }, () =>
    startRoster({ databaseUrl: o.dbA, bootstrapToken: tokenA, cursorSecret }),
  );
  cleanups.push(() => a.stop());
  const { rows: sample } = await knexA.raw(`SELECT id::text AS id FROM users ORDER BY id LIMIT ?`, [Math.max(1000, rate * 5)]);
  const ids: string[] = sample.map((r: { id: string }) => r.id);
  const total = Math.round(rate * seconds);
  const answeredAt = new Map<string, number>();
  let failures = 0;
  log(`sync: ${num(rate)} changes/s for ${seconds} s (${num(total)} PATCHes to Roster A)`);
  const interval = 1000 / rate;
  const t0 = performance.now();
  const inflight: Array<Promise<void>> = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const marker = `bench-${i}`;
    const id = ids[i % ids.length]!;
    inflight.push(
      fetch(`${a.baseUrl}/scim/v2/Users/${id}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${tokenA}`, 'content-type': 'application/scim+json' },
        body: JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'title', value: marker }] }),
      }).then(
        async (response) => {
          await response.arrayBuffer();
          if (response.status === 200 || response.status === 204) answeredAt.set(marker, Date.now());
          else failures++;
        },
        () => void failures++,
      ),
    );
  }
  await Promise.all(inflight);
  const sendSeconds = (performance.now() - t0) / 1000;
  // Let the queue drain, then read when B journaled each marker.
  const knexB = createKnex({ url: o.dbB, poolMax: 2 });
  cleanups.push(() => knexB.destroy());
  const deadline = Date.now() + 60_000;
  let arrived: Array<{ marker: string; ms: number }> = [];
  while (Date.now() < deadline) {
    const { rows: found } = await knexB.raw(
      `SELECT after->>'title' AS marker, extract(epoch FROM at) * 1000 AS ms FROM journal WHERE action = 'update' AND after->>'title' LIKE 'bench-%'`,
    );
    arrived = found.map((r: { marker: string; ms: string | number }) => ({ marker: r.marker, ms: Number(r.ms) }));
    if (arrived.length >= answeredAt.size) break;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  // Commit time on A: its journal entry for the change, written in the change's transaction.
  // Both journals take `at` from the same PostgreSQL server clock.
  const { rows: committedRows } = await knexA.raw(
    `SELECT after->>'title' AS marker, extract(epoch FROM at) * 1000 AS ms FROM journal WHERE action = 'update' AND after->>'title' LIKE 'bench-%'`,
  );
  const committedAt = new Map<string, number>(committedRows.map((r: { marker: string; ms: string | number }) => [r.marker, Number(r.ms)]));
  const latencies = arrived
    .map((r) => (answeredAt.has(r.marker) && committedAt.has(r.marker) ? r.ms - committedAt.get(r.marker)! : undefined))
    .filter((v): v is number => v !== undefined)
    .map((v) => Math.max(0, v))
    .sort((x, y) => x - y);
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  return {
    measure: `propagation at ${num(rate)} changes/s`,
    value: `p50 ${num(p50)} ms, p99 ${num(p99)} ms`,
    detail: `${num(latencies.length)} of ${num(answeredAt.size)} changes seen on the target (max ${num(latencies.at(-1) ?? NaN)} ms); sent at ${num(total / sendSeconds)}/s; ${failures} inbound failures`,
    target: 'p50 < 200 ms, p99 < 1,000 ms',
    result: latencies.length === answeredAt.size && p50 < 200 && p99 < 1000 ? 'PASS' : 'FAIL',
  };
}

export function renderSyncReport(rows: readonly SyncBenchRow[]): string {
  const header = ['Outbound sync', 'Value', 'Target', 'Result', 'Detail'];
  const table = [header, ...rows.map((r) => [r.measure, r.value, r.target, r.result, r.detail])];
  const widths = header.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return table.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ')).join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const started = Date.now();
  const log = (line: string) => process.stdout.write(`[${Math.round((Date.now() - started) / 1000)}s] ${line}\n`);
  const server = await openDatabaseServer(log);
  try {
    const rows = await runSyncBench(server, log);
    process.stdout.write(`\n${renderSyncReport(rows)}\n\nLoad average (1, 5, 15 min; ${os.cpus().length} CPUs): ${os.loadavg().map((v) => v.toFixed(2)).join(', ')}\n`);
  } finally {
    await server.stop();
  }
}
