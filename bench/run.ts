/**
 * `npm run bench`: Roster under load at 10,000 and 1,000,000 users, beside a bare-Express ceiling
 * that replays Roster's own responses. A report, not a test: it prints numbers and target checks
 * and exits 0 whatever they are (non-zero only when the bench itself could not run).
 *
 * For each size: a fresh database (dropped afterwards), seeded in SQL; Roster and the bare server
 * as child processes on 127.0.0.1; one real request of each kind captured for the ceiling; then
 * each kind measured with autocannon against Roster and against the ceiling.
 *
 * Beside them, in the same run, the in-memory scimmy + express reference (scimmy-memory.ts),
 * loaded from the seeded database after Roster applied its policy (issue 18 compares with it).
 *
 * Environment: BENCH_SIZES (default 10000,1000000), BENCH_DURATION seconds per measurement
 * (default 5), BENCH_WARMUP seconds (default 1), BENCH_REPEATS (runs per measurement, interleaved
 * across the servers, median printed; default 3), BENCH_POLICY (Roster's policy file, default the
 * repo's policy.yaml; "none" for none), BENCH_CONNECTIONS (default 10), BENCH_SECTIONS
 * (default scim,journal,policy,sync,governance,console), BENCH_KINDS (scim request kinds, default all), DATABASE_URL (a server where the bench may create and drop
 * databases; unset: embedded PostgreSQL), BENCH_LATENCY_REQUESTS (requests sent one at a time for the
 * single-request latency of a `userName eq` filter at each size, bench/latency.ts; default 300).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { captureResponses, checkCaptured } from './capture.js';
import { withCpuBreakdown } from './cpu.js';
import { openDatabaseServer, type DatabaseServer } from './database.js';
import { renderPolicyRows, runPolicyBench, type PolicyBenchRow } from './policy.js';
import { renderJournalReport, runJournalBench, type JournalBenchRow } from './journal.js';
import { measure, type LoadOptions, type Measurement, type RequestShape } from './measure.js';
import { renderLatencyRows, sequentialLatency, type LatencyRow } from './latency.js';
import { renderReport, type ResultRow } from './report.js';
import { Cycler, barePathPrefix, prefixed, REQUEST_KINDS, type Workload } from './requests.js';
import { seed, SMALL_GROUP_MEMBERS } from './seed.js';
import { benchPolicyFile, startBareExpress, startInMemory, startRoster, type ChildServer } from './servers.js';
import { renderSyncReport, runSyncBench, type SyncBenchRow } from './sync.js';
import { renderGovernanceRows, runGovernanceBench, type GovernanceBenchRow } from './governance.js';
import { renderConsoleReport, runConsoleBench, type ConsoleBenchRow } from './console.js';

function envNumber(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number ≥ ${min}, got ${JSON.stringify(raw)}`);
  return value;
}

const sizes = (process.env.BENCH_SIZES ?? '10000,1000000').split(',').map((s) => Number(s.trim().replace(/_/g, '')));
if (sizes.some((s) => !Number.isInteger(s) || s < 100)) throw new Error('BENCH_SIZES must be a comma-separated list of integers ≥ 100');
const durationSeconds = envNumber('BENCH_DURATION', 5, 1);
const warmupSeconds = envNumber('BENCH_WARMUP', 1, 0);
const connections = envNumber('BENCH_CONNECTIONS', 10, 1);
const repeats = envNumber('BENCH_REPEATS', 3, 1);
// Which parts to run (default all): scim (the request table), journal, policy, sync, governance (bench/governance.ts), console (bench/console.ts).
const SECTIONS = ['scim', 'journal', 'policy', 'sync', 'governance', 'console'];
const sections = new Set((process.env.BENCH_SECTIONS ?? SECTIONS.join(',')).split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));
if ([...sections].some((s) => !SECTIONS.includes(s))) throw new Error(`BENCH_SECTIONS lists parts to run, from: ${SECTIONS.join(', ')}`);
// Which request kinds of the scim section to measure (default all), e.g. BENCH_KINDS=get-user,page-100.
const kindKeys = REQUEST_KINDS.map((kind) => kind.key);
const kinds = process.env.BENCH_KINDS ? process.env.BENCH_KINDS.split(',').map((k) => k.trim()).filter(Boolean) : kindKeys;
if (kinds.some((k) => !kindKeys.includes(k))) throw new Error(`BENCH_KINDS lists request kinds to measure, from: ${kindKeys.join(', ')}`);
const selectedKinds = REQUEST_KINDS.filter((kind) => kinds.includes(kind.key));

const num = (value: number) => Math.round(value).toLocaleString('en-US');
const started = Date.now();
const log = (line: string) => {
  const s = Math.round((Date.now() - started) / 1000);
  process.stdout.write(`[${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}] ${line}\n`);
};

// Cleanups run in reverse order on success, failure and Ctrl-C.
const cleanups: Array<() => Promise<void>> = [];
async function cleanUp(downTo = 0): Promise<void> {
  while (cleanups.length > downTo) {
    await cleanups.pop()!().catch((error: unknown) => log(`cleanup failed: ${(error as Error).message}`));
  }
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping servers and dropping the bench database`);
    void cleanUp().finally(() => process.exit(130));
  });
}

/** Other work on the machine skews every number here; the load average shows whether there was any. */
const loadAverage = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
const loadAverages: string[] = [];
/** Kinds whose single-request latency is measured at each size (issue 18: flat with the user count). */
const LATENCY_KINDS = ['filter-username'];
const LATENCY_REQUESTS = envNumber('BENCH_LATENCY_REQUESTS', 300, 1);
const latencyRows: LatencyRow[] = [];

const token = `bench-${randomBytes(24).toString('hex')}`;
// Roster signs cursors with ROSTER_CURSOR_SECRET; the bench shares it to make a cursor for the middle row.
process.env.ROSTER_CURSOR_SECRET ??= randomBytes(32).toString('hex');
const cursorSecret = process.env.ROSTER_CURSOR_SECRET;
const { encodeCursor, queryFingerprint } = await import('../src/scim/cursor.js');

const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/scim+json', Accept: 'application/scim+json' };
const load: LoadOptions = { durationSeconds, warmupSeconds, connections, headers };

async function tracked<T extends ChildServer>(server: Promise<T>): Promise<T> {
  const s = await server;
  cleanups.push(() => s.stop());
  return s;
}

interface Run {
  result: Measurement;
  /** CPU of the server under load and of PostgreSQL, per answered request (warm-up included on both sides). */
  cpuMsPerRequest?: number;
  postgresCores?: number;
  otherCores?: number;
}

/** One measurement of `server` (a key of `ours`) with the CPU every process used meanwhile. */
async function measured(ours: Record<string, number | undefined>, server: string, baseUrl: string, shape: RequestShape): Promise<Run> {
  const started = Date.now();
  const { result, cores } = await withCpuBreakdown(ours, () => measure(baseUrl, shape, load));
  if (!cores) return { result };
  const seconds = (Date.now() - started) / 1000;
  const answered = result.requests * (seconds / durationSeconds);
  const cpuSeconds = ((cores[server] ?? 0) + (cores.PostgreSQL ?? 0)) * seconds;
  return { result, cpuMsPerRequest: answered > 0 ? (cpuSeconds * 1000) / answered : undefined, postgresCores: cores.PostgreSQL, otherCores: cores.other };
}

/**
 * The bare ceiling replays one captured answer whatever it is sent, so it gets one body over and
 * over: at thousands of requests a second, fresh bodies would use up the pools of users not yet
 * in a group that Roster and the in-memory reference need for their own runs.
 */
function replayShape(shape: RequestShape): RequestShape {
  if (!shape.body) return shape;
  const body = shape.body();
  return { ...shape, body: () => body };
}

async function untilAnswering(baseUrl: string): Promise<void> {
  const response = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(120_000) });
  await response.arrayBuffer();
}

function median<T>(values: readonly T[], by: (value: T) => number): T {
  const sorted = [...values].sort((a, b) => by(a) - by(b));
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

async function runSize(dbServer: DatabaseServer, users: number, tmpDir: string): Promise<ResultRow[]> {
  const largeGroupMembers = Math.min(100_000, Math.floor(users / 2));
  const cleanupMark = cleanups.length;
  log(`== ${users.toLocaleString('en-US')} users: creating a database on ${dbServer.describe} (load average ${loadAverage()})`);
  const db = await dbServer.createDatabase(String(users));
  cleanups.push(() => db.drop());
  log(`  database ${db.name}; migrating and seeding`);
  const seeded = await seed(db.url, { users, largeGroupMembers }, log);

  const roster = await tracked(startRoster({ databaseUrl: db.url, bootstrapToken: token, cursorSecret }));
  log(`  Roster ready at ${roster.baseUrl} (pid ${roster.pid})`);
  const w: Workload = {
    users,
    runTag: `${randomBytes(3).toString('hex')}-${users}`,
    largeGroupId: seeded.largeGroupId,
    largeGroupMembers,
    smallGroupId: seeded.smallGroupId,
    smallGroupMembers: SMALL_GROUP_MEMBERS,
    sampleUserIds: seeded.sampleUserIds,
    largeAdds: new Cycler(seeded.largeCandidates),
    smallAdds: new Cycler(seeded.smallCandidates),
    middleCursor: encodeCursor({ key: seeded.middle.createdAt, id: seeded.middle.id }, queryFingerprint(['User', '', '', 'ascending'])),
    posted: { n: 0 },
  };
  const captured = await captureResponses(roster.baseUrl, headers, REQUEST_KINDS, w).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}\nRoster output:\n${roster.output()}`);
  });
  checkCaptured(captured);
  const responsesFile = path.join(tmpDir, `responses-${users}.json`);
  await fs.writeFile(responsesFile, JSON.stringify(captured));
  const bare = await tracked(startBareExpress(responsesFile, db.url));
  loadAverages.push(`${users.toLocaleString('en-US')} users: ${loadAverage()} before measuring`);
  log(`  load average before measuring: ${loadAverage()}`);
  log(`  bare Express ready at ${bare.baseUrl} (pid ${bare.pid}); ${captured.length} responses captured`);

  const memory = await tracked(startInMemory(db.url, token));
  log(`  in-memory scimmy reference ready at ${memory.baseUrl} (pid ${memory.pid}), loaded from ${db.name}`);
  const ours = { bench: process.pid, Roster: roster.pid, bare: bare.pid, memory: memory.pid };

  const rows: ResultRow[] = [];
  for (const kind of selectedKinds) {
    const label = kind.label(w);
    const pool = kind.pool?.(w);
    const notes: string[] = [];
    // Interleaved repeats (Roster, in-memory, bare, ...), the median of each: a burst of other work
    // on the machine then skews one repeat of each server rather than one server's only run.
    const rosterRuns: Run[] = [];
    const memoryRuns: Run[] = [];
    const bareRuns: Run[] = [];
    const withDbRuns: Measurement[] = [];
    for (let repeat = 0; repeat < repeats; repeat++) {
      rosterRuns.push(await measured(ours, 'Roster', roster.baseUrl, kind.shape(w)));
      memoryRuns.push(await measured(ours, 'memory', memory.baseUrl, kind.shape(w)));
      // Requests still in flight when a run ends keep a single-threaded server busy (a PATCH of a
      // 5,000-member group takes scimmy seconds); the next run must not pay for them.
      await untilAnswering(memory.baseUrl);
      bareRuns.push(await measured(ours, 'bare', bare.baseUrl, prefixed(replayShape(kind.shape(w)), barePathPrefix(kind.key))));
      if (kind.key === 'get-user') withDbRuns.push(await measure(bare.baseUrl, prefixed(kind.shape(w), barePathPrefix('get-user-db')), load));
    }
    const rosterRun = median(rosterRuns, (r) => r.result.reqPerSec);
    const memoryRun = median(memoryRuns, (r) => r.result.reqPerSec);
    const bareRun = median(bareRuns, (r) => r.result.reqPerSec);
    const withDb = withDbRuns.length ? median(withDbRuns, (m) => m.reqPerSec) : undefined;
    if (pool && pool.used > pool.items.length) {
      notes.push(`ran out of distinct users to add (${pool.items.length.toLocaleString('en-US')}); ${(pool.used - pool.items.length).toLocaleString('en-US')} requests re-added existing members (no-op PATCH)`);
    }
    if (rosterRun.result.failures > 0) notes.push(`status codes ${JSON.stringify(rosterRun.result.statusCodes)}`);
    if (memoryRun.result.failures > 0) notes.push(`in-memory status codes ${JSON.stringify(memoryRun.result.statusCodes)}`);
    if (bareRun.result.failures > 0) notes.push(`bare Express status codes ${JSON.stringify(bareRun.result.statusCodes)}`);
    if (repeats > 1) notes.push(`Roster req/s of ${repeats} runs: ${rosterRuns.map((r) => num(r.result.reqPerSec)).join(', ')}; in-memory: ${memoryRuns.map((r) => num(r.result.reqPerSec)).join(', ')}`);
    if (withDb) {
      log(`  reference, bare Express + one prepared SELECT by id: ${Math.round(withDb.reqPerSec)} req/s p50 ${withDb.p50} ms p99 ${withDb.p99} ms`);
      notes.push(
        `bare Express + one prepared SELECT by id: ${num(withDb.reqPerSec)} req/s (${(withDb.reqPerSec / bareRun.result.reqPerSec).toFixed(2)}× bare); ` +
          `Roster is ${(rosterRun.result.reqPerSec / withDb.reqPerSec).toFixed(2)}× of it`,
      );
    }
    const cpuNote = (run: Run) => (run.cpuMsPerRequest === undefined ? '' : `, ${run.cpuMsPerRequest.toFixed(2)} ms CPU/req`);
    log(
      `  ${label}: Roster ${Math.round(rosterRun.result.reqPerSec)} req/s p50 ${rosterRun.result.p50} ms p99 ${rosterRun.result.p99} ms${cpuNote(rosterRun)} | ` +
        `in-memory ${Math.round(memoryRun.result.reqPerSec)} req/s p50 ${memoryRun.result.p50} ms${cpuNote(memoryRun)} | ` +
        `bare ${Math.round(bareRun.result.reqPerSec)} req/s p50 ${bareRun.result.p50} ms` +
        (rosterRun.postgresCores === undefined ? '' : ` | PostgreSQL ${rosterRun.postgresCores.toFixed(2)} cores, other processes ${rosterRun.otherCores!.toFixed(2)} cores`),
    );
    rows.push({
      users,
      key: kind.key,
      label,
      roster: rosterRun.result,
      memory: memoryRun.result,
      bare: bareRun.result,
      ...(withDb ? { bareWithDb: withDb } : {}),
      ...(rosterRun.cpuMsPerRequest === undefined ? {} : { rosterCpuMs: rosterRun.cpuMsPerRequest }),
      ...(memoryRun.cpuMsPerRequest === undefined ? {} : { memoryCpuMs: memoryRun.cpuMsPerRequest }),
      ...(rosterRun.postgresCores === undefined ? {} : { postgresCores: rosterRun.postgresCores }),
      otherCores: Math.max(...[rosterRun, memoryRun, bareRun].map((r) => r.otherCores ?? 0)),
      notes,
    });
  }
  // One request at a time, for the latency-flatness target (bench/latency.ts); with the load runs
  // over, nothing queues in front of it.
  for (const kind of selectedKinds.filter((k) => LATENCY_KINDS.includes(k.key))) {
    const latency = await sequentialLatency(roster.baseUrl, kind.shape(w), headers, LATENCY_REQUESTS);
    log(`  ${kind.label(w)}, one at a time: median ${latency.medianMs.toFixed(2)} ms, p90 ${latency.p90Ms.toFixed(2)} ms (${LATENCY_REQUESTS} requests)`);
    latencyRows.push({ users, label: kind.label(w), requests: LATENCY_REQUESTS, ...latency });
  }
  // Stop the servers and drop this size's database before the next size.
  await cleanUp(cleanupMark);
  log(`  stopped servers, dropped ${db.name}`);
  return rows;
}

async function main(): Promise<void> {
  log(`sizes ${sizes.join(', ')}; ${durationSeconds} s per measurement after ${warmupSeconds} s warm-up, median of ${repeats}; ${connections} connections; ${os.cpus().length} CPUs`);
  log(`Roster's access policy: ${benchPolicyFile() ?? 'none (BENCH_POLICY=none)'}`);
  const tmpDir = await fs.mkdtemp(path.join(os.tmpdir(), 'roster-bench-'));
  cleanups.push(() => fs.rm(tmpDir, { recursive: true, force: true }));
  const dbServer = await openDatabaseServer(log);
  cleanups.push(() => dbServer.stop());
  const rows: ResultRow[] = [];
  const journalRows: JournalBenchRow[] = [];
  const policyRows: PolicyBenchRow[] = [];
  const syncRows: SyncBenchRow[] = [];
  const governanceRows: GovernanceBenchRow[] = [];
  const consoleRows: ConsoleBenchRow[] = [];
  try {
    if (sections.has('scim')) for (const users of sizes) rows.push(...(await runSize(dbServer, users, tmpDir)));
    if (sections.has('journal')) journalRows.push(...(await runJournalBench(dbServer, log)));
    if (sections.has('policy')) policyRows.push(...(await runPolicyBench(dbServer, log)));
    if (sections.has('sync')) syncRows.push(...(await runSyncBench(dbServer, log)));
    if (sections.has('governance')) governanceRows.push(...(await runGovernanceBench(dbServer, log)));
    if (sections.has('console')) consoleRows.push(...(await runConsoleBench(dbServer, log)));
  } finally {
    await cleanUp();
  }
  loadAverages.push(`end: ${loadAverage()}`);
  if (sections.has('scim')) process.stdout.write(`\n${renderReport(rows)}\n`);
  if (latencyRows.length) process.stdout.write(`\n${renderLatencyRows(latencyRows)}\n`);
  if (sections.has('policy')) process.stdout.write(`\n${renderPolicyRows(policyRows)}\n`);
  process.stdout.write(`\nLoad average (1, 5, 15 min; ${os.cpus().length} CPUs): ${loadAverages.join('; ')}\n`);
  if (sections.has('journal')) process.stdout.write(`\n${renderJournalReport(journalRows)}\n`);
  if (sections.has('sync')) process.stdout.write(`\n${renderSyncReport(syncRows)}\n`);
  if (sections.has('governance')) process.stdout.write(`\n${renderGovernanceRows(governanceRows)}\n`);
  if (sections.has('console')) process.stdout.write(`\n${renderConsoleReport(consoleRows)}\n`);
  log('done');
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
