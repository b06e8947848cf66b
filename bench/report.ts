/**
 * The results table (Roster beside the in-memory scimmy reference and the bare-Express ceiling) and
 * the target checks. Targets:
 *  - GET /Users/{id}: Roster req/s ≥ 0.5 × the bare Express + one prepared SELECT reference and
 *    ≥ 2 × the in-memory reference (issue 18; at every size);
 *  - a page of 100: ≥ 300 req/s and ≥ 5 × in-memory (at every size);
 *  - POST /Users ≥ 0.8 ×, `userName eq` ≥ 1.0 ×, the single-member PATCHes ≥ 10 × in-memory (issue 18);
 *  - `userName eq` and the single-member PATCH of the large group: at the largest size no more than
 *    1.5× slower than at the smallest, judged on req/s (the p50 ratio is shown beside it).
 */
import type { Measurement } from './measure.js';

export interface ResultRow {
  users: number;
  key: string;
  label: string;
  roster: Measurement;
  /** The in-memory scimmy + express reference (bench/scimmy-memory.ts). */
  memory: Measurement;
  bare: Measurement;
  /** Bare Express + one prepared SELECT by id (GET /Users/{id} only). */
  bareWithDb?: Measurement;
  /** CPU ms per request: the server's own process plus PostgreSQL. */
  rosterCpuMs?: number;
  memoryCpuMs?: number;
  /** Cores PostgreSQL used during the Roster run. */
  postgresCores?: number;
  /** Cores other processes on the machine used during the Roster or the bare run (the larger). */
  otherCores?: number;
  notes: string[];
}

interface Verdict {
  target: string;
  result: 'PASS' | 'FAIL' | 'n/a' | '';
}

/** Cores used by unrelated processes above which a row's numbers are marked as skewed. */
const OTHER_CPU_WARNING = 0.2;
const SCALING_KEYS = new Set(['filter-username', 'patch-large']);
const MAX_SLOWDOWN = 1.5;

const num = (value: number, digits = 0) => value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
// autocannon records latency in whole milliseconds.
const ms = (value: number) => (Number.isInteger(value) || value >= 100 ? num(value) : num(value, 1));
const compact = (users: number) => (users >= 1_000_000 && users % 1_000_000 === 0 ? `${users / 1_000_000}M` : users >= 1000 && users % 1000 === 0 ? `${users / 1000}k` : String(users));

/** Issue 18's floor for Roster req/s over the in-memory reference, per request kind. */
const MEMORY_RATIO_TARGETS: Record<string, number> = {
  'get-user': 2,
  'filter-username': 1,
  'page-100': 5,
  'post-user': 0.8,
  'patch-large': 10,
  'patch-small': 10,
};

function check(target: string, value: number, floor: number): Verdict {
  return { target: `${target} ≥ ${floor}× (is ${value.toFixed(2)}×)`, result: value >= floor ? 'PASS' : 'FAIL' };
}

function scalingVerdict(row: ResultRow, rows: readonly ResultRow[]): Verdict | undefined {
  if (!SCALING_KEYS.has(row.key)) return undefined;
  const sizes = rows.filter((r) => r.key === row.key).map((r) => r.users);
  const smallest = Math.min(...sizes);
  const largest = Math.max(...sizes);
  if (row.users !== largest || smallest === largest) return undefined;
  const base = rows.find((r) => r.key === row.key && r.users === smallest);
  if (!base) return undefined;
  const slowdown = base.roster.reqPerSec / row.roster.reqPerSec;
  const p50Ratio = row.roster.p50 / base.roster.p50;
  return {
    target: `req/s ≤ ${MAX_SLOWDOWN}× slower than ${compact(smallest)} (is ${slowdown.toFixed(2)}×; p50 ${p50Ratio.toFixed(2)}×)`,
    result: slowdown <= MAX_SLOWDOWN ? 'PASS' : 'FAIL',
  };
}

function verdicts(row: ResultRow, rows: readonly ResultRow[]): Verdict[] {
  const found: Verdict[] = [];
  const memoryFloor = MEMORY_RATIO_TARGETS[row.key];
  if (memoryFloor !== undefined && row.memory.reqPerSec > 0) found.push(check('vs in-memory', row.roster.reqPerSec / row.memory.reqPerSec, memoryFloor));
  if (row.key === 'get-user' && row.bareWithDb) found.push(check('vs bare+SELECT', row.roster.reqPerSec / row.bareWithDb.reqPerSec, 0.5));
  if (row.key === 'page-100') found.push({ target: '≥ 300 req/s', result: row.roster.reqPerSec >= 300 ? 'PASS' : 'FAIL' });
  const scaling = scalingVerdict(row, rows);
  if (scaling) found.push(scaling);
  return found;
}

function markdownTable(header: string[], body: string[][], rightAligned: Set<number>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (rightAligned.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (rightAligned.has(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(header), rule, ...body.map(line)].join('\n');
}

export function renderReport(rows: readonly ResultRow[]): string {
  const header = ['Request', 'Users', 'Roster req/s', 'p50 ms', 'p99 ms', 'CPU ms/req', 'In-memory req/s', 'CPU ms/req', 'Roster/In-memory', 'Bare req/s', 'Roster/Bare', 'PG cores', 'Other CPU', 'Targets', 'Result'];
  const cpu = (value: number | undefined) => (value === undefined ? '?' : value.toFixed(2));
  const body = rows.map((row) => {
    const vs = verdicts(row, rows);
    const failures = row.roster.failures > 0 ? ` (${num(row.roster.failures)} non-2xx!)` : '';
    return [
      row.label,
      compact(row.users),
      num(row.roster.reqPerSec) + failures,
      ms(row.roster.p50),
      ms(row.roster.p99),
      cpu(row.rosterCpuMs),
      num(row.memory.reqPerSec),
      cpu(row.memoryCpuMs),
      row.memory.reqPerSec > 0 ? `${(row.roster.reqPerSec / row.memory.reqPerSec).toFixed(2)}×` : 'n/a',
      num(row.bare.reqPerSec),
      `${(row.roster.reqPerSec / row.bare.reqPerSec).toFixed(2)}×`,
      row.postgresCores === undefined ? '?' : row.postgresCores.toFixed(2),
      row.otherCores === undefined ? '?' : row.otherCores.toFixed(2) + (row.otherCores > OTHER_CPU_WARNING ? ' !' : ''),
      vs.map((v) => v.target).join('; '),
      vs.map((v) => v.result).join(' '),
    ];
  });
  const table = markdownTable(header, body, new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
  const notes = rows.flatMap((row) => row.notes.map((note) => `- ${compact(row.users)} ${row.label}: ${note}`));
  const all = rows.flatMap((row) => verdicts(row, rows));
  const passed = all.filter((v) => v.result === 'PASS').length;
  const legend =
    'CPU ms/req: CPU of that server process plus PostgreSQL per answered request. In-memory: scimmy + express, no database (bench/scimmy-memory.ts). ' +
    'PG cores: CPU PostgreSQL used during the Roster run. Other CPU: cores used by unrelated processes during any of the row\'s runs ' +
    `(the largest; "!" above ${OTHER_CPU_WARNING}: that row is skewed by other work on the machine).`;
  return [table, '', legend, '', `Targets: ${passed}/${all.length} pass.`, ...(notes.length ? ['', 'Notes:', ...notes] : [])].join('\n');
}
