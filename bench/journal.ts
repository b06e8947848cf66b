/**
 * Journal figures for `npm run bench` (issue #5): a report, not a test.
 *
 *  1. Append throughput, with the hash chain (the real `appendJournal`: head lock, hash, insert)
 *     and without it (the same row inserted plainly, as before the chain existed), with 1 writer
 *     and with JOURNAL_BENCH_WRITERS concurrent writers, each append its own transaction.
 *  2. `--user` query latency (the API/CLI query, first page of 100) over JOURNAL_BENCH_SIZES
 *     journal rows (default 10,000 and 1,000,000). Target: p50 at the largest size no more than
 *     1.5× the p50 at the smallest (the query must be index-backed, not a scan).
 *  3. At the largest size: the NDJSON export of every row (rows/s and how much the process grew:
 *     it should stay flat) and `journal verify` over the whole chain.
 *
 * Run alone: `npx tsx bench/journal.ts` (DATABASE_URL as for the bench); `bench/run.ts` calls
 * `runJournalBench` after the HTTP measurements.
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import type { Knex } from 'knex';
import { createKnex, migrateToLatest } from '../src/db/knex.js';
import { appendJournal } from '../src/journal/append.js';
import { GENESIS_HASH } from '../src/journal/hash.js';
import { entryView } from '../src/journal/present.js';
import { queryJournal, streamJournal } from '../src/journal/query.js';
import { expectedHash, type JournalRow } from '../src/journal/row.js';
import { verifyJournal } from '../src/journal/verify.js';
import { openDatabaseServer, type DatabaseServer } from './database.js';

export interface JournalBenchRow {
  measure: string;
  size: string;
  value: string;
  detail: string;
  target: string;
  result: 'PASS' | 'FAIL' | '';
}

type Log = (line: string) => void;

const MAX_SLOWDOWN = 1.5;
const ENTRIES_PER_USER = 5; // create, two updates, a membership change, a delete
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const compact = (n: number) => (n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1000 ? `${n / 1000}k` : String(n));

function envList(name: string, fallback: number[]): number[] {
  const raw = process.env[name];
  if (!raw) return fallback;
  const values = raw.split(',').map((s) => Number(s.trim().replace(/_/g, '')));
  if (values.some((v) => !Number.isInteger(v) || v < 1000)) throw new Error(`${name} must be a comma-separated list of integers ≥ 1000`);
  return values;
}
const envNumber = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
};

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

// ---------------------------------------------------------------------------------------------
// 1. Append throughput

const sampleEntry = (i: number) => {
  const before = { userName: `user${i}@example.com`, title: 'Analyst', name: { givenName: 'Ada', familyName: `Lovelace${i}` }, active: true };
  return {
    action: 'update',
    resourceType: 'User' as const,
    resourceId: randomUUID(),
    before,
    after: { ...before, title: 'Manager' },
    changes: [{ path: 'title', before: 'Analyst', after: 'Manager' }],
  };
};

/** The same row into a copy of the journal table (same columns and indexes, no chain, no triggers). */
async function plainAppend(tx: Knex.Transaction, i: number): Promise<void> {
  const e = sampleEntry(i);
  await tx('journal_unchained').insert({
    actor: 'bench',
    source: 'scim',
    request_id: `bench-${i}`,
    action: e.action,
    resource_type: e.resourceType,
    resource_id: e.resourceId,
    resource_name: e.before.userName,
    before: JSON.stringify(e.before),
    after: JSON.stringify(e.after),
    changes: JSON.stringify(e.changes),
  });
}

async function appendsPerSecond(db: Knex, writers: number, seconds: number, chained: boolean): Promise<number> {
  let count = 0;
  const until = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (Date.now() < until) {
        const i = count++;
        await db.transaction((tx) => (chained ? appendJournal(tx, { name: 'bench', source: 'scim', requestId: `bench-${i}` }, [sampleEntry(i)]) : plainAppend(tx, i)));
      }
    }),
  );
  return count / seconds;
}

async function appendBench(dbServer: DatabaseServer, log: Log): Promise<JournalBenchRow[]> {
  const seconds = envNumber('JOURNAL_BENCH_APPEND_SECONDS', 5);
  const concurrent = envNumber('JOURNAL_BENCH_WRITERS', 16);
  const database = await dbServer.createDatabase('journal_append');
  const db = createKnex({ url: database.url, poolMax: concurrent + 2 });
  const rows: JournalBenchRow[] = [];
  try {
    await migrateToLatest(db);
    await db.raw(`CREATE TABLE journal_unchained (LIKE journal INCLUDING ALL)`);
    for (const writers of [1, concurrent]) {
      // Alternate so neither variant always runs on a warmer (or fuller) table.
      const plain = await appendsPerSecond(db, writers, seconds, false);
      const chained = await appendsPerSecond(db, writers, seconds, true);
      log(`  appends, ${writers} writer(s): ${fmt(plain)}/s plain, ${fmt(chained)}/s chained`);
      rows.push(
        { measure: 'journal appends/s, no chain', size: `${writers} writer${writers > 1 ? 's' : ''}`, value: fmt(plain), detail: 'one entry per transaction', target: '', result: '' },
        {
          measure: 'journal appends/s, hash chain',
          size: `${writers} writer${writers > 1 ? 's' : ''}`,
          value: fmt(chained),
          detail: `${((chained / plain) * 100).toFixed(0)}% of no chain`,
          target: '',
          result: '',
        },
      );
    }
    const report = await verifyJournal(db);
    if (!report.ok) throw new Error(`the chain written by the append bench does not verify: ${report.finding?.message}`);
  } finally {
    await db.destroy();
    await database.drop();
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// 2 and 3. Query latency, export and verify over a large journal

/**
 * Seeds `size` chained entries: per user a create, two updates, an add to a group (a Group entry
 * whose member_ids holds the user) and a delete. Hashes are real, so verify can walk them.
 */
export async function seedJournal(db: Knex, size: number, log: Log): Promise<string[]> {
  const users = Math.floor(size / ENTRIES_PER_USER);
  const groupIds = Array.from({ length: 50 }, () => randomUUID());
  const names: string[] = [];
  let seq = 0;
  let prev = GENESIS_HASH;
  const start = Date.now() - size * 1000;
  const batch: Record<string, unknown>[] = [];
  const flush = async () => {
    if (!batch.length) return;
    await db.raw(
      `INSERT INTO journal (seq, prev_hash, hash, chain_version, at, actor, source, request_id, action, resource_type, resource_id, resource_name, member_ids, before, after, changes, reason)
       SELECT seq, prev_hash, hash, chain_version, at, actor, source, request_id, action, resource_type, resource_id, resource_name, member_ids, before, after, changes, reason
       FROM jsonb_to_recordset(?::jsonb) AS r(seq bigint, prev_hash text, hash text, chain_version smallint, at timestamptz, actor text, source text, request_id text, action text,
         resource_type text, resource_id uuid, resource_name text, member_ids uuid[], before jsonb, after jsonb, changes jsonb, reason jsonb)`,
      [JSON.stringify(batch)],
    );
    batch.length = 0;
  };
  const push = async (fields: Omit<JournalRow, 'id' | 'seq' | 'prev_hash' | 'hash' | 'at' | 'chain_version'>) => {
    seq += 1;
    const at = new Date(start + seq * 1000);
    // Hashed as the append writes entries now (format 2), so verify's figure is today's cost.
    const hash = expectedHash({ ...fields, id: 0, seq, prev_hash: prev, hash: null, chain_version: 2, at });
    batch.push({ ...fields, seq, prev_hash: prev, hash, chain_version: 2, at: at.toISOString(), member_ids: fields.member_ids });
    prev = hash;
    if (batch.length >= 5000) await flush();
  };
  for (let u = 0; u < users; u++) {
    const id = randomUUID();
    const userName = `user${u}@example.com`;
    names.push(userName);
    const doc = { userName, title: 'Analyst', active: true };
    const common = { source: 'scim', request_id: `seed-${u}`, resource_type: 'User', resource_id: id, resource_name: userName, member_ids: null, reason: null };
    const actor = u % 3 === 0 ? 'okta' : 'entra';
    await push({ ...common, actor, action: 'create', before: null, after: doc, changes: [{ path: 'userName', after: userName }] });
    await push({ ...common, actor, action: 'update', before: doc, after: { ...doc, title: 'Manager' }, changes: [{ path: 'title', before: 'Analyst', after: 'Manager' }] });
    const group = groupIds[u % groupIds.length]!;
    await push({ ...common, actor, action: 'update', resource_type: 'Group', resource_id: group, resource_name: `Group ${u % groupIds.length}`, member_ids: [id], before: null, after: null, changes: { membersAdded: [{ value: id, type: 'User' }] } });
    await push({ ...common, actor, action: 'update', before: { ...doc, title: 'Manager' }, after: { ...doc, title: 'Director' }, changes: [{ path: 'title', before: 'Manager', after: 'Director' }] });
    await push({ ...common, actor, action: 'delete', before: { ...doc, title: 'Director' }, after: null, changes: null });
    if ((u + 1) % 20_000 === 0) log(`    seeded ${fmt((u + 1) * ENTRIES_PER_USER)} of ${fmt(users * ENTRIES_PER_USER)} entries`);
  }
  await flush();
  await db.raw(`UPDATE journal_chain SET seq = ?, hash = ?`, [seq, prev]);
  await db.raw(`VACUUM ANALYZE journal`);
  return names;
}

interface QueryLatency {
  p50: number;
  p99: number;
  mean: number;
  rowsPerQuery: number;
}

async function userQueryLatency(db: Knex, names: string[], queries: number): Promise<QueryLatency> {
  const pick = () => names[Math.floor(Math.random() * names.length)]!;
  for (let i = 0; i < 50; i++) await queryJournal(db, { user: pick() }, { limit: 100 });
  const times: number[] = [];
  let rows = 0;
  for (let i = 0; i < queries; i++) {
    const started = process.hrtime.bigint();
    const page = await queryJournal(db, { user: pick() }, { limit: 100 });
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    rows += page.rows.length;
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), mean: times.reduce((a, b) => a + b, 0) / times.length, rowsPerQuery: rows / queries };
}

async function exportFigures(db: Knex): Promise<{ rowsPerSecond: number; rows: number; growthMb: number; outputMb: number }> {
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  let rows = 0;
  let bytes = 0;
  const started = Date.now();
  for await (const batch of streamJournal(db, {})) {
    // What the NDJSON export does per batch; the bytes are dropped instead of sent.
    bytes += batch.map((row) => `${JSON.stringify(entryView(row))}\n`).join('').length;
    rows += batch.length;
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  return { rowsPerSecond: rows / ((Date.now() - started) / 1000), rows, growthMb: (peak - baseline) / 1_048_576, outputMb: bytes / 1_048_576 };
}

async function querySize(dbServer: DatabaseServer, size: number, largest: boolean, log: Log) {
  const database = await dbServer.createDatabase(`journal_${size}`);
  const db = createKnex({ url: database.url, poolMax: 4 });
  try {
    await migrateToLatest(db);
    log(`  ${fmt(size)} journal entries: seeding`);
    const names = await seedJournal(db, size, log);
    const latency = await userQueryLatency(db, names, envNumber('JOURNAL_BENCH_QUERIES', 500));
    log(`  --user query over ${compact(size)}: p50 ${latency.p50.toFixed(2)} ms, p99 ${latency.p99.toFixed(2)} ms (${latency.rowsPerQuery.toFixed(1)} entries each)`);
    const extra: JournalBenchRow[] = [];
    if (largest) {
      const exported = await exportFigures(db);
      log(`  export: ${fmt(exported.rows)} rows at ${fmt(exported.rowsPerSecond)}/s, process grew ${exported.growthMb.toFixed(0)} MB`);
      extra.push({ measure: 'NDJSON export, every entry', size: compact(size), value: `${fmt(exported.rowsPerSecond)} rows/s`, detail: `${exported.outputMb.toFixed(0)} MB of NDJSON; the process grew ${exported.growthMb.toFixed(0)} MB at most`, target: '', result: '' });
      const started = Date.now();
      const report = await verifyJournal(db);
      const seconds = (Date.now() - started) / 1000;
      log(`  verify: ${report.ok ? 'intact' : report.finding?.message}, ${fmt(report.checked)} entries in ${seconds.toFixed(1)} s`);
      extra.push({ measure: 'journal verify', size: compact(size), value: `${seconds.toFixed(1)} s`, detail: `${fmt(report.checked / seconds)} entries/s; ${report.ok ? 'intact' : 'BROKEN'}`, target: '', result: report.ok ? '' : 'FAIL' });
    }
    return { latency, extra };
  } finally {
    await db.destroy();
    await database.drop();
  }
}

export async function runJournalBench(dbServer: DatabaseServer, log: Log): Promise<JournalBenchRow[]> {
  log('== journal');
  const rows = await appendBench(dbServer, log);
  const sizes = envList('JOURNAL_BENCH_SIZES', [10_000, 1_000_000]).sort((a, b) => a - b);
  const results: Array<{ size: number; latency: QueryLatency }> = [];
  const extras: JournalBenchRow[] = [];
  for (const size of sizes) {
    const { latency, extra } = await querySize(dbServer, size, size === sizes.at(-1), log);
    results.push({ size, latency });
    extras.push(...extra);
  }
  const base = results[0]!;
  for (const { size, latency } of results) {
    const isLargest = size === sizes.at(-1) && results.length > 1;
    const ratio = latency.p50 / base.latency.p50;
    rows.push({
      measure: 'journal --user query (first page)',
      size: compact(size),
      value: `p50 ${latency.p50.toFixed(2)} ms`,
      detail: `p99 ${latency.p99.toFixed(2)} ms, mean ${latency.mean.toFixed(2)} ms, ${latency.rowsPerQuery.toFixed(1)} entries`,
      target: isLargest ? `p50 ≤ ${MAX_SLOWDOWN}× ${compact(base.size)} (is ${ratio.toFixed(2)}×)` : '',
      result: isLargest ? (ratio <= MAX_SLOWDOWN ? 'PASS' : 'FAIL') : '',
    });
  }
  return [...rows, ...extras];
}

export function renderJournalReport(rows: readonly JournalBenchRow[]): string {
  const header = ['Journal', 'Size', 'Value', 'Detail', 'Target', 'Result'];
  const body = rows.map((r) => [r.measure, r.size, r.value, r.detail, r.target, r.result]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

// Standalone: npx tsx bench/journal.ts
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const started = Date.now();
  const log = (line: string) => process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
  const dbServer = await openDatabaseServer(log);
  try {
    const rows = await runJournalBench(dbServer, log);
    process.stdout.write(`\n${renderJournalReport(rows)}\n`);
  } finally {
    await dbServer.stop();
  }
}
